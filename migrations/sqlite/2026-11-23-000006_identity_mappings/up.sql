-- How identities the paging tools use (a PagerDuty user id, an email, a tool's service
-- name) map to paydown's people and services. Deliveries keep what the tool said; the
-- page is folded through these mappings, so adding one re-attributes old pages.
CREATE TABLE identity_mappings (
    kind TEXT NOT NULL CHECK (kind IN ('person', 'service')),
    external TEXT NOT NULL,
    target TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (kind, external)
);
CREATE INDEX pages_acknowledged_by ON pages(acknowledged_by);
