-- Namespaces (where workloads live; each belongs to a project, whose
-- permissions apply) and the desired state of their workloads
-- (deployments and services), which the workload runtime keeps running.
-- A workload's `manifest` is its manifest.json as JSON; `instances` is
-- what should run now (0 when stopped; the manifest keeps the count a
-- start brings back); `revision` grows when what the instances run
-- changes; `log_run` is the operation run whose log holds the instances'
-- output.
CREATE TABLE namespaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL REFERENCES projects (id),
    created_by TEXT,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX namespaces_project ON namespaces (project_id);

CREATE TABLE workloads (
    id TEXT PRIMARY KEY,
    namespace_id TEXT NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    manifest TEXT NOT NULL,
    workdir TEXT NOT NULL,
    instances INTEGER NOT NULL,
    port INTEGER,
    revision INTEGER NOT NULL,
    log_run TEXT,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_by TEXT,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (namespace_id, name)
);

-- A service port is served once on this server.
CREATE UNIQUE INDEX workloads_port ON workloads (port);
