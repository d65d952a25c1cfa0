-- Every movement of settlement cash, once from each side that is an account: `change` is
-- signed (+ in, - out) so that a member's changes sum to its balance. kind: minted, burned,
-- into escrow / out of escrow (to or from the Receivables contract: offers, repayments,
-- payouts, refunds), transfer. The ledger event in the same transaction says why
-- (audit.events, by tx_hash).
CREATE VIEW audit.cash_movements AS
WITH transfer AS (
    SELECT e.chain_id, e.id AS event_id, e.block_number, e.log_index, e.tx_hash,
           e.args ->> 'from' AS sender,
           e.args ->> 'to' AS recipient,
           (e.args ->> 'value')::numeric(78, 0) AS amount,
           s.receivables_address::text AS escrow
    FROM ledger_event e
    JOIN indexer_state s ON s.chain_id = e.chain_id
    WHERE e.contract = 'SettlementToken' AND e.event = 'Transfer'
),
side AS (
    SELECT t.*, t.recipient AS account, t.sender AS counterparty, 'in' AS direction,
           t.amount AS change
    FROM transfer t WHERE t.recipient <> '{{ZERO_ADDRESS}}'
    UNION ALL
    SELECT t.*, t.sender, t.recipient, 'out', -t.amount
    FROM transfer t WHERE t.sender <> '{{ZERO_ADDRESS}}'
)
SELECT s.chain_id,
       s.event_id,
       s.block_number,
       s.log_index,
       s.tx_hash::text AS tx_hash,
       s.account,
       an.name AS account_name,
       s.direction,
       s.amount,
       s.change::numeric(78, 0) AS change,
       nullif(s.counterparty, '{{ZERO_ADDRESS}}') AS counterparty,
       cn.name AS counterparty_name,
       CASE WHEN s.sender = '{{ZERO_ADDRESS}}' THEN 'minted'
            WHEN s.recipient = '{{ZERO_ADDRESS}}' THEN 'burned'
            WHEN s.recipient = s.escrow THEN 'into escrow'
            WHEN s.sender = s.escrow THEN 'out of escrow'
            ELSE 'transfer' END AS kind
FROM side s
LEFT JOIN audit.names an ON an.address = s.account
LEFT JOIN audit.names cn ON cn.address = s.counterparty
