-- Runs, their stages and jobs, approval decisions and job logs.
-- Times are UTC TIMESTAMPs; JSON is TEXT; statuses are words.

CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workflow_key TEXT,
    plan TEXT NOT NULL,
    params TEXT NOT NULL,
    trigger_info TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    error TEXT
);
CREATE INDEX runs_by_workflow ON runs (workflow_key, seq);
CREATE INDEX runs_by_status ON runs (status, seq);

CREATE TABLE stages (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    error TEXT,
    waiting_since TIMESTAMP,
    PRIMARY KEY (run_id, idx)
);

CREATE TABLE jobs (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    stage_idx INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    error TEXT,
    exit_code INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    outputs TEXT NOT NULL DEFAULT '{}',
    handle TEXT,
    PRIMARY KEY (run_id, stage_idx, idx)
);

CREATE TABLE approvals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    stage_idx INTEGER NOT NULL,
    decided_by TEXT NOT NULL,
    approved BOOLEAN NOT NULL,
    comment TEXT NOT NULL,
    decided_at TIMESTAMP NOT NULL
);
CREATE INDEX approvals_by_run ON approvals (run_id, seq);

-- A job's log is stored in chunks: one row per appended batch, holding
-- lines first_seq..=last_seq encoded one per line (see log.rs).
CREATE TABLE log_chunks (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job TEXT NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (run_id, job, first_seq)
);
