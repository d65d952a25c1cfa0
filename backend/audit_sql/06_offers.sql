-- Financing offers: the financier's price in escrow for a piece, and how each ended.
-- expired: a cancelled offer that was cleared after its expiry (NULL while open or accepted).
CREATE VIEW audit.offers AS
SELECT o.chain_id,
       o.offer_id,
       o.piece_id,
       p.root_id,
       o.financier::text AS financier,
       fn.name AS financier_name,
       o.price::numeric(78, 0) AS price,
       to_timestamp(o.expiry) AS expires_at,
       {{OfferStatus(o.status)}} AS status,
       o.seller::text AS seller,
       sn.name AS seller_name,
       o.expired,
       o.posted_block,
       o.closed_block
FROM offer o
JOIN piece p ON p.chain_id = o.chain_id AND p.piece_id = o.piece_id
LEFT JOIN audit.names fn ON fn.address = o.financier
LEFT JOIN audit.names sn ON sn.address = o.seller
