-- Named repositories: a short name, unique in the server (the Deploy
-- API's `:repository`), for a clone URL, its default branch and the name
-- of a secret of the owning project that holds the credentials (never the
-- value). `owner` and `repo` are the host's owner and name, when known.
CREATE TABLE repositories (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    default_branch TEXT NOT NULL,
    provider TEXT NOT NULL,
    owner TEXT,
    repo TEXT,
    credentials_secret TEXT,
    created_by_id TEXT,
    created_by_name TEXT,
    updated_by_id TEXT,
    updated_by_name TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX repositories_by_project ON repositories (project_id, name);

-- The named repository an application clones from, if any; a repository
-- in use cannot be deleted.
ALTER TABLE applications ADD COLUMN repository_id TEXT REFERENCES repositories (id);
CREATE INDEX applications_by_repository ON applications (repository_id);
