-- Who held which piece over which blocks. A piece is held at the end of block N by the row
-- with from_block <= N AND (to_block IS NULL OR to_block > N); to_block NULL: held now (or
-- until the piece was split or burned, when its to_block is that block).
CREATE VIEW audit.holdings_history AS
SELECT h.chain_id,
       h.piece_id,
       p.root_id,
       h.holder::text AS holder,
       hn.name AS holder_name,
       h.amount::numeric(78, 0) AS amount,
       h.from_block,
       h.from_log_index,
       h.to_block,
       h.to_log_index
FROM holding h
JOIN piece p ON p.chain_id = h.chain_id AND p.piece_id = h.piece_id
LEFT JOIN audit.names hn ON hn.address = h.holder
