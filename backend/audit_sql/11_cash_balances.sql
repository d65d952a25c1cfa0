-- Settlement cash per address now (the ledger's escrow included).
CREATE VIEW audit.cash_balances AS
SELECT c.chain_id,
       c.address::text AS address,
       n.name,
       c.balance::numeric(78, 0) AS balance,
       c.updated_block
FROM cash_balance c
LEFT JOIN audit.names n ON n.address = c.address
