-- Asynchronous loads of definitions from git (the Deploy API's `work_id`):
-- one row per load, its state as JSON (`body`, the serialised `LoadState`)
-- with the state's word beside it for conditional updates. A server running
-- a load renews `lease_until`; an unfinished load whose lease ran out was
-- abandoned by a server that stopped and is failed as interrupted.
CREATE TABLE load_requests (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP NOT NULL
);

CREATE INDEX load_requests_unfinished ON load_requests (lease_until)
    WHERE state IN ('pending', 'loading');
CREATE INDEX load_requests_updated ON load_requests (updated_at);
