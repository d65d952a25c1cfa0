-- Who each event concerns: one row per distinct non-zero address among its arguments.
CREATE VIEW audit.event_parties AS
SELECT ep.chain_id,
       ep.event_id,
       ep.block_number,
       ep.party::text AS party,
       n.name AS party_name
FROM ledger_event_party ep
LEFT JOIN audit.names n ON n.address = ep.party
