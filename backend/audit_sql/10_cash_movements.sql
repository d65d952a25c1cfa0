-- Every movement of settlement cash, once from each side that is an account: `change` is
-- signed (+ in, - out) so that a member's changes sum to its balance. kind: minted, burned,
-- into escrow / out of escrow (to or from the Receivables contract: offers, repayments,
-- payouts, refunds), transfer. The ledger event in the same transaction says why
-- (audit.events, by tx_hash).
-- Each side is reached through the indexer's ledger_event_party row of its account (a
-- transfer's parties are its non-zero from and to): one account's movements are a range of
-- that table's key, not a scan of every transfer of the ledger.
CREATE VIEW audit.cash_movements AS
SELECT e.chain_id,
       e.id AS event_id,
       e.block_number,
       e.log_index,
       e.tx_hash::text AS tx_hash,
       side.account,
       an.name AS account_name,
       side.direction,
       (e.args ->> 'value')::numeric(78, 0) AS amount,
       (side.sign * (e.args ->> 'value')::numeric(78, 0))::numeric(78, 0) AS change,
       nullif(side.counterparty, '{{ZERO_ADDRESS}}') AS counterparty,
       cn.name AS counterparty_name,
       CASE WHEN e.args ->> 'from' = '{{ZERO_ADDRESS}}' THEN 'minted'
            WHEN e.args ->> 'to' = '{{ZERO_ADDRESS}}' THEN 'burned'
            WHEN e.args ->> 'to' = s.receivables_address THEN 'into escrow'
            WHEN e.args ->> 'from' = s.receivables_address THEN 'out of escrow'
            ELSE 'transfer' END AS kind
FROM indexer_state s
JOIN ledger_event_party p ON p.chain_id = s.chain_id
JOIN ledger_event e ON e.id = p.event_id
CROSS JOIN LATERAL (VALUES (e.args ->> 'to', e.args ->> 'from', 'in', 1),
                           (e.args ->> 'from', e.args ->> 'to', 'out', -1))
    AS side(account, counterparty, direction, sign)
LEFT JOIN audit.names an ON an.address = side.account
LEFT JOIN audit.names cn ON cn.address = side.counterparty
WHERE e.contract = 'SettlementToken' AND e.event = 'Transfer'
  AND side.account = p.party::text
