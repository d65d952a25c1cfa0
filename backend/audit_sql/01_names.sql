-- The name beside each address: the member directory's short name (else its legal name), and
-- the ledger's own escrow (the Receivables contract) by what it is.
CREATE VIEW audit.names AS
SELECT p.address::text AS address,
       coalesce(nullif(p.short_name, ''), p.legal_name)::text AS name,
       p.legal_name::text AS legal_name,
       p.short_name::text AS short_name
FROM member_profile p
UNION ALL
SELECT DISTINCT s.receivables_address::text, 'ledger escrow (Receivables)', NULL, NULL
FROM indexer_state s
WHERE s.receivables_address NOT IN (SELECT address FROM member_profile)
