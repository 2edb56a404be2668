-- Pay policies: each version is an immutable document (the domain's PayPolicy as JSON),
-- effective from a local date. A person is assigned a policy from a date on.

CREATE TABLE pay_policies (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    effective_from DATE NOT NULL,
    currency TEXT NOT NULL,
    document TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (id, version),
    UNIQUE (id, effective_from)
);

CREATE TABLE policy_assignments (
    person_id TEXT NOT NULL REFERENCES people(id),
    policy_id TEXT NOT NULL,
    effective_from DATE NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (person_id, effective_from)
);
