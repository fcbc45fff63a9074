//! Table definitions, kept by hand in step with `migrations/`.

diesel::table! {
    runs (seq) {
        seq -> BigInt,
        id -> Text,
        workflow_key -> Nullable<Text>,
        plan -> Text,
        params -> Text,
        trigger_info -> Text,
        status -> Text,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        error -> Nullable<Text>,
        name -> Text,
    }
}

diesel::table! {
    stages (run_id, idx) {
        run_id -> Text,
        idx -> Integer,
        name -> Text,
        status -> Text,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        error -> Nullable<Text>,
        waiting_since -> Nullable<Timestamp>,
    }
}

diesel::table! {
    jobs (run_id, stage_idx, idx) {
        run_id -> Text,
        stage_idx -> Integer,
        idx -> Integer,
        name -> Text,
        kind -> Text,
        status -> Text,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        error -> Nullable<Text>,
        exit_code -> Nullable<Integer>,
        attempts -> Integer,
        outputs -> Text,
        handle -> Nullable<Text>,
    }
}

diesel::table! {
    approvals (seq) {
        seq -> BigInt,
        run_id -> Text,
        stage_idx -> Integer,
        decided_by -> Text,
        approved -> Bool,
        comment -> Text,
        decided_at -> Timestamp,
    }
}

diesel::table! {
    log_chunks (run_id, job, first_seq) {
        run_id -> Text,
        job -> Text,
        first_seq -> BigInt,
        last_seq -> BigInt,
        body -> Text,
    }
}

diesel::table! {
    projects (id) {
        id -> Text,
        name -> Text,
        description -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    workflows (id) {
        id -> Text,
        project_id -> Text,
        name -> Text,
        latest_version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    workflow_versions (workflow_id, version) {
        workflow_id -> Text,
        version -> Integer,
        definition -> Text,
        format -> Text,
        source -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        is_admin -> Bool,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(workflows -> projects (project_id));
diesel::joinable!(workflow_versions -> workflows (workflow_id));

diesel::allow_tables_to_appear_in_same_query!(
    runs,
    stages,
    jobs,
    approvals,
    log_chunks,
    projects,
    workflows,
    workflow_versions,
    api_tokens
);
