-- Receivables with money owed, by days past due as of a moment: current (not yet due), 1-30,
-- 31-90, >90 days; a part of a day counts as a day. Within the ledger's grace period a
-- receivable is past due but not overdue: days_overdue counts from the end of the grace period,
-- and status is 'overdue' exactly when days_overdue > 0, as the keeper will mark it
-- (status_on_ledger says whether it has). audit.aging is as of now(); audit.aging_at(t) as of
-- any moment (the API judges by the latest block's time).
CREATE FUNCTION audit.aging_at(as_of timestamptz)
RETURNS TABLE (chain_id bigint, root_id bigint, debtor text, debtor_name text,
               due_at timestamptz, days_past_due integer, in_grace_period boolean,
               days_overdue integer, bucket text, outstanding numeric(78, 0), status text,
               status_on_ledger text)
LANGUAGE sql STABLE AS $aging$
    SELECT a.chain_id, a.root_id, a.debtor, a.debtor_name, a.due_at, a.past_due,
           a.past_due > 0 AND a.overdue = 0, a.overdue,
           CASE WHEN a.past_due <= 0 THEN 'current'
                WHEN a.past_due <= 30 THEN '1-30'
                WHEN a.past_due <= 90 THEN '31-90'
                ELSE '>90' END,
           a.outstanding,
           CASE WHEN a.overdue > 0 THEN 'overdue' ELSE a.status END,
           a.status
    FROM (SELECT r.*,
                 greatest(ceil(extract(epoch FROM as_of - r.due_at) / 86400), 0)::integer
                     AS past_due,
                 greatest(ceil((extract(epoch FROM as_of - r.due_at)
                                - coalesce(s.grace_period_seconds, 0)) / 86400), 0)::integer
                     AS overdue
          FROM audit.receivables r
          LEFT JOIN audit.ledger_settings s ON s.chain_id = r.chain_id
          WHERE r.status IN ('confirmed', 'overdue') AND r.outstanding > 0) a
$aging$;
CREATE VIEW audit.aging AS
SELECT a.chain_id, a.root_id, a.debtor, a.debtor_name, a.due_at, a.days_past_due,
       a.in_grace_period, a.days_overdue, a.bucket, a.outstanding::numeric(78, 0) AS outstanding,
       a.status, a.status_on_ledger
FROM audit.aging_at(now()) a
