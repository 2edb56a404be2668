-- Every first delivery kept on a page becomes a page_deliveries row again, as the page's
-- columns describe it when it is ''.
INSERT INTO page_deliveries (id, page_id, received_at, payload)
SELECT lower(hex(randomblob(16))), id, created_at,
    CASE WHEN first_delivery <> '' THEN first_delivery ELSE json_object(
        'described_at', replace(described_at, ' ', 'T') || 'Z',
        'service_key', service_key,
        'title', title,
        'alert_key', alert_key,
        'lane', lane,
        'triggered_at', replace(triggered_at, ' ', 'T') || 'Z',
        'acknowledged_at', replace(acknowledged_at, ' ', 'T') || 'Z',
        'acknowledged_by', acknowledged_by,
        'resolved_at', replace(resolved_at, ' ', 'T') || 'Z'
    ) END
FROM pages WHERE first_delivery IS NOT NULL;
ALTER TABLE pages DROP COLUMN first_delivery;
