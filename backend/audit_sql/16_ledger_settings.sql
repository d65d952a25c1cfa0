-- The ledger's settings as its contracts hold them (the last LimitsChanged and Paused events).
CREATE VIEW audit.ledger_settings AS
SELECT s.chain_id,
       s.paused,
       s.grace_period::bigint AS grace_period_seconds,
       s.max_depth::integer AS max_depth,
       s.min_piece_amount::numeric(78, 0) AS min_piece_amount,
       s.max_live_pieces::bigint AS max_live_pieces,
       s.total_supply::numeric(78, 0) AS cash_in_circulation,
       s.updated_block::bigint AS updated_block
FROM ledger_status s
