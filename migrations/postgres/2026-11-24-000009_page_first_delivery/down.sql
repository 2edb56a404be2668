-- Every first delivery kept on a page becomes a page_deliveries row again, as the page's
-- columns describe it when it is ''.
INSERT INTO page_deliveries (id, page_id, received_at, payload)
SELECT gen_random_uuid()::text, id, created_at,
    CASE WHEN first_delivery <> '' THEN first_delivery ELSE json_build_object(
        'described_at', to_char(described_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'service_key', service_key,
        'title', title,
        'alert_key', alert_key,
        'lane', lane,
        'triggered_at', to_char(triggered_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'acknowledged_at', to_char(acknowledged_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'acknowledged_by', acknowledged_by,
        'resolved_at', to_char(resolved_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    )::text END
FROM pages WHERE first_delivery IS NOT NULL;
ALTER TABLE pages DROP COLUMN first_delivery;
