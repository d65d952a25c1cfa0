-- Each bounded distribution pass over a receivable's pieces (the keeper's `distribute`).
CREATE VIEW audit.distributions AS
SELECT d.chain_id,
       d.block_number,
       d.log_index,
       d.tx_hash::text AS tx_hash,
       d.root_id,
       d.pieces_visited,
       d.amount::numeric(78, 0) AS amount,
       d.next_cursor
FROM distribution d
