-- Every ledger event, decoded, in ledger order (event_id follows block and log index).
-- args: the event's arguments as JSON; integers are decimal strings, addresses lower-case.
CREATE VIEW audit.events AS
SELECT e.chain_id,
       e.id AS event_id,
       e.block_number,
       e.block_hash::text AS block_hash,
       e.tx_hash::text AS tx_hash,
       e.tx_index,
       e.log_index,
       e.contract::text AS contract,
       e.address::text AS contract_address,
       e.event::text AS event,
       e.args::jsonb AS args
FROM ledger_event e
