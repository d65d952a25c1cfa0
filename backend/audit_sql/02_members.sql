-- Every member of the consortium: roles and status in words, credit, and who it is.
CREATE VIEW audit.members AS
SELECT m.chain_id,
       m.address::text AS address,
       n.name,
       n.legal_name::text AS legal_name,
       p.credit_code::text AS credit_code,
       m.entity_id::text AS entity_id,
       {{Role(m.roles)}} AS roles,
       {{MemberStatus(m.status)}} AS status,
       m.credit_limit::numeric(78, 0) AS credit_limit,
       m.credit_used::numeric(78, 0) AS credit_used,
       m.added_block,
       m.updated_block
FROM member m
LEFT JOIN audit.names n ON n.address = m.address
LEFT JOIN member_profile p ON p.address = m.address
