-- Applications (a repository of a project whose pushes run the workflow
-- template kept in it), secrets of projects and applications, webhook
-- deliveries already seen, and cron schedules.
-- Times are UTC TIMESTAMPs; JSON is TEXT; kinds are words.

-- `triggers` is the JSON array of trigger rules; `webhook_secret` is kept
-- sealed, as the domain hands it over; `last_run_id` names the latest run
-- (no foreign key: runs may be pruned, reads then show no latest run).
CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    provider TEXT NOT NULL,
    repo_owner TEXT NOT NULL,
    repo_name TEXT NOT NULL,
    repo_url TEXT NOT NULL,
    provider_repo_id TEXT NOT NULL DEFAULT '',
    default_branch TEXT NOT NULL,
    template_path TEXT NOT NULL,
    triggers TEXT NOT NULL DEFAULT '[]',
    cancel_superseded BOOLEAN NOT NULL DEFAULT FALSE,
    webhook_secret TEXT,
    last_run_id TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (project_id, name)
);

-- `owner` is `project/<id>` or `application/<id>`; `value` is sealed.
CREATE TABLE secrets (
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (owner, name)
);

-- Webhook delivery ids seen per application: a repeat is refused by the
-- primary key.
CREATE TABLE deliveries (
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    delivery_id TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (app_id, delivery_id)
);

-- `target` is `workflow` or `application`, `target_id` its id; `params` is
-- a JSON object of strings; `last_fired_at` moves by compare and set.
CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    target_id TEXT NOT NULL,
    expression TEXT NOT NULL,
    timezone TEXT,
    git_ref TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL DEFAULT '{}',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    last_fired_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX schedules_by_target ON schedules (target, target_id);
