-- Each repayment a debtor made into the ledger's escrow.
CREATE VIEW audit.repayments AS
SELECT y.chain_id,
       y.block_number,
       y.log_index,
       y.tx_hash::text AS tx_hash,
       y.root_id,
       y.debtor::text AS debtor,
       dn.name AS debtor_name,
       y.amount::numeric(78, 0) AS amount,
       y.total_repaid::numeric(78, 0) AS total_repaid,
       y.credit_used::numeric(78, 0) AS credit_used
FROM repayment y
LEFT JOIN audit.names dn ON dn.address = y.debtor
