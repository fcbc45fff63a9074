-- The audit trail: one row per request that asked an API for a change
-- (who, when, which route, what action on what object, how it ended).
-- Rows hold no request or response body, so never a secret value. Lists
-- read it newest first, whole or by project.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    user_id TEXT,
    user_name TEXT NOT NULL,
    token_id TEXT,
    api TEXT NOT NULL,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    action TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT,
    project_id TEXT,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL
);

CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_project ON audit_events (project_id, at);
