-- Each payout out of escrow to a piece's holder (a distribution pass or the holder's claim).
-- paid_out: what the piece had been paid in all, this payout included.
CREATE VIEW audit.payouts AS
SELECT x.chain_id,
       x.block_number,
       x.log_index,
       x.tx_hash::text AS tx_hash,
       x.piece_id,
       x.root_id,
       x.holder::text AS holder,
       hn.name AS holder_name,
       x.amount::numeric(78, 0) AS amount,
       x.paid_out::numeric(78, 0) AS paid_out,
       r.debtor::text AS debtor,
       dn.name AS debtor_name
FROM piece_payment x
JOIN root r ON r.chain_id = x.chain_id AND r.root_id = x.root_id
LEFT JOIN audit.names hn ON hn.address = x.holder
LEFT JOIN audit.names dn ON dn.address = r.debtor
