-- API tokens: only the SHA-256 of each secret is stored; the secret is shown once.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('engineer', 'manager', 'finance', 'admin', 'ingest')),
    person_id TEXT REFERENCES people(id),
    teams TEXT,
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP
);
