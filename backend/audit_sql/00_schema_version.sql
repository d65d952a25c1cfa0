-- The version of these views (the contract with auditors' queries): raised whenever a column
-- is added, and a removed or changed column only with a new version, announced in
-- docs/audit-sql.md.
CREATE VIEW audit.schema_version AS
SELECT {{VERSION}}::integer AS version
