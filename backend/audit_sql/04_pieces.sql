-- Every piece: its place in the tree (parent_id NULL for a root's own piece), its holder by
-- name, what it has been paid, and its receivable's debtor and due date.
-- paid: an active piece paid its whole amount (the contracts store no "paid" status).
CREATE VIEW audit.pieces AS
SELECT p.chain_id,
       p.piece_id,
       p.root_id,
       nullif(p.parent_id, 0) AS parent_id,
       p.depth,
       p.holder::text AS holder,
       hn.name AS holder_name,
       p.amount::numeric(78, 0) AS amount,
       {{PieceStatus(p.status)}} AS status,
       (p.status = {{PieceStatus.ACTIVE}} AND p.paid_out = p.amount) AS paid,
       p.frozen,
       p.paid_out::numeric(78, 0) AS paid_out,
       (CASE WHEN p.status = {{PieceStatus.ACTIVE}} THEN p.amount - p.paid_out ELSE 0 END)
           ::numeric(78, 0) AS still_owed,
       r.debtor::text AS debtor,
       dn.name AS debtor_name,
       to_timestamp(r.due_date) AS due_at,
       p.created_block,
       p.updated_block
FROM piece p
JOIN root r ON r.chain_id = p.chain_id AND r.root_id = p.root_id
LEFT JOIN audit.names hn ON hn.address = p.holder
LEFT JOIN audit.names dn ON dn.address = r.debtor
