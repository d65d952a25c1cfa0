-- Each financier's exposure to each debtor: what the live pieces it holds are still to be
-- paid (receivables owed or settled but not yet fully paid out).
CREATE VIEW audit.exposure AS
SELECT p.chain_id,
       p.holder::text AS financier,
       fn.name AS financier_name,
       r.debtor::text AS debtor,
       dn.name AS debtor_name,
       sum(p.amount - p.paid_out)::numeric(78, 0) AS exposure,
       count(*) AS pieces
FROM piece p
JOIN root r ON r.chain_id = p.chain_id AND r.root_id = p.root_id
JOIN member m ON m.chain_id = p.chain_id AND m.address = p.holder
LEFT JOIN audit.names fn ON fn.address = p.holder
LEFT JOIN audit.names dn ON dn.address = r.debtor
WHERE p.status = {{PieceStatus.ACTIVE}}
  AND (m.roles & {{Role.FINANCIER}}) <> 0
  AND r.status IN ({{RootStatus.CONFIRMED}}, {{RootStatus.OVERDUE}}, {{RootStatus.SETTLED}})
GROUP BY p.chain_id, p.holder, fn.name, r.debtor, dn.name
HAVING sum(p.amount - p.paid_out) <> 0
