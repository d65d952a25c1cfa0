-- Receivables with money owed, by days past due as of a moment: current (not yet due), 1-30,
-- 31-90, >90 days; a part of a day counts as a day. audit.aging is as of now();
-- audit.aging_at(t) as of any moment (the API judges by the latest block's time).
CREATE FUNCTION audit.aging_at(as_of timestamptz)
RETURNS TABLE (chain_id bigint, root_id bigint, debtor text, debtor_name text,
               due_at timestamptz, days_overdue integer, bucket text,
               outstanding numeric(78, 0), status text)
LANGUAGE sql STABLE AS $aging$
    SELECT a.chain_id, a.root_id, a.debtor, a.debtor_name, a.due_at, a.days,
           CASE WHEN a.days <= 0 THEN 'current'
                WHEN a.days <= 30 THEN '1-30'
                WHEN a.days <= 90 THEN '31-90'
                ELSE '>90' END,
           a.outstanding, a.status
    FROM (SELECT r.*,
                 greatest(ceil(extract(epoch FROM as_of - r.due_at) / 86400), 0)::integer AS days
          FROM audit.receivables r
          WHERE r.status IN ('confirmed', 'overdue') AND r.outstanding > 0) a
$aging$;
CREATE VIEW audit.aging AS
SELECT a.chain_id, a.root_id, a.debtor, a.debtor_name, a.due_at, a.days_overdue, a.bucket,
       a.outstanding::numeric(78, 0) AS outstanding, a.status
FROM audit.aging_at(now()) a
