-- Every receivable (root): parties by name, money owed and paid, its state in words.
-- outstanding: face value less repaid while money is owed on it or once settled (the API's
-- rule), 0 for a receivable that never became a debt (registered, rejected, ...).
CREATE VIEW audit.receivables AS
SELECT r.chain_id,
       r.root_id,
       r.debtor::text AS debtor,
       dn.name AS debtor_name,
       r.supplier::text AS supplier,
       sn.name AS supplier_name,
       r.face_value::numeric(78, 0) AS face_value,
       to_timestamp(r.due_date) AS due_at,
       {{RootStatus(r.status)}} AS status,
       r.frozen,
       r.repaid::numeric(78, 0) AS repaid,
       r.distributed::numeric(78, 0) AS distributed,
       (r.repaid - r.distributed)::numeric(78, 0) AS in_escrow,
       (CASE WHEN r.status IN ({{RootStatus.CONFIRMED}}, {{RootStatus.OVERDUE}},
                               {{RootStatus.SETTLED}})
             THEN r.face_value - r.repaid ELSE 0 END)::numeric(78, 0) AS outstanding,
       r.live_pieces,
       r.invoice_hash::text AS invoice_hash,
       r.invoice_key::text AS invoice_key,
       r.registered_block,
       r.updated_block
FROM root r
LEFT JOIN audit.names dn ON dn.address = r.debtor
LEFT JOIN audit.names sn ON sn.address = r.supplier
