-- Users, project members, followed applications, and who changed what.
-- Times are UTC TIMESTAMPs; JSON is TEXT; roles are words.

-- A user is a person or a service account; tokens belong to users.
-- `email` is unique without regard to case (the index on lower(email));
-- NULLs do not clash.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT,
    is_admin BOOLEAN NOT NULL,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP
);
CREATE UNIQUE INDEX users_by_email ON users (lower(email));

-- Every existing token becomes a user of its own, with the token's id, so
-- that what worked keeps working. Its login is the token's name; of tokens
-- sharing a name, the oldest (then the smallest id) keeps the plain name
-- and each other one gets `<name>-<the first 8 characters of its id>`.
INSERT INTO users (id, login, display_name, email, is_admin, created_by, created_at, disabled_at)
SELECT t.id,
       CASE WHEN EXISTS (
                SELECT 1 FROM api_tokens o
                WHERE o.name = t.name
                  AND (o.created_at < t.created_at
                       OR (o.created_at = t.created_at AND o.id < t.id)))
            THEN t.name || '-' || substr(t.id, 1, 8)
            ELSE t.name
       END,
       t.name, NULL, t.is_admin, t.created_by, t.created_at, NULL
FROM api_tokens t;

-- Nullable for the sake of ALTER TABLE; the store always sets it.
ALTER TABLE api_tokens ADD COLUMN user_id TEXT REFERENCES users (id);
UPDATE api_tokens SET user_id = id;
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

-- A user's role in a project (`viewer`, `developer`, `maintainer`,
-- `owner`); the store keeps at least one owner once a project has one.
CREATE TABLE project_members (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_by_user ON project_members (user_id);

-- The applications a user follows.
CREATE TABLE application_follows (
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (application_id, user_id)
);
CREATE INDEX application_follows_by_user ON application_follows (user_id);

-- `permissions` is an application's own permission matrix as JSON (NULL:
-- the roles' defaults); the actors are a user's id and login at the time.
ALTER TABLE applications ADD COLUMN permissions TEXT;
ALTER TABLE applications ADD COLUMN created_by_id TEXT;
ALTER TABLE applications ADD COLUMN created_by_name TEXT;
ALTER TABLE applications ADD COLUMN updated_by_id TEXT;
ALTER TABLE applications ADD COLUMN updated_by_name TEXT;

ALTER TABLE secrets ADD COLUMN updated_by_id TEXT;
ALTER TABLE secrets ADD COLUMN updated_by_name TEXT;

ALTER TABLE workflow_versions ADD COLUMN created_by_id TEXT;

ALTER TABLE approvals ADD COLUMN decided_by_id TEXT;
