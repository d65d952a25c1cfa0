-- What each debtor still owes, over its receivables on which money is owed.
CREATE VIEW audit.debtor_outstanding AS
SELECT r.chain_id,
       r.debtor::text AS debtor,
       dn.name AS debtor_name,
       sum(r.face_value - r.repaid)::numeric(78, 0) AS outstanding,
       count(*) AS receivables
FROM root r
LEFT JOIN audit.names dn ON dn.address = r.debtor
WHERE r.status IN ({{RootStatus.CONFIRMED}}, {{RootStatus.OVERDUE}})
GROUP BY r.chain_id, r.debtor, dn.name
