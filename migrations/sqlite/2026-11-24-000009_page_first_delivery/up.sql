-- A page may keep its first delivery on its own row instead of in page_deliveries: the
-- bulk importer writes one row per page instead of two (src/storage/pages.rs,
-- "first_delivery"). NULL: every delivery is a page_deliveries row. '': the one delivery
-- is exactly what the page's own columns say. Otherwise: that delivery's payload.
ALTER TABLE pages ADD COLUMN first_delivery TEXT;
