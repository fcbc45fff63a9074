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
        decided_by_id -> Nullable<Text>,
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
        created_by_id -> Nullable<Text>,
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
        user_id -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        login -> Text,
        display_name -> Text,
        email -> Nullable<Text>,
        is_admin -> Bool,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    project_members (project_id, user_id) {
        project_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    application_follows (application_id, user_id) {
        application_id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
    }
}

// `applications` has 23 columns, more than the 16 diesel compiles without
// its `32-column-tables` feature (off, as `default-features = false` drops
// it): `last_run_id` is left out here and reached through
// `application_last_run` below (the same SQL table, two columns), and the
// access columns (`permissions`, `created_by_*`, `updated_by_*`) through
// `application_access` (the same table again), and `repository_id` through
// `application_repository`; reads select both through
// fixed SQL fragments in catalog/application.rs. With that feature on, fold
// them back in.
diesel::table! {
    applications (id) {
        id -> Text,
        project_id -> Text,
        name -> Text,
        description -> Text,
        provider -> Text,
        repo_owner -> Text,
        repo_name -> Text,
        repo_url -> Text,
        provider_repo_id -> Text,
        default_branch -> Text,
        template_path -> Text,
        triggers -> Text,
        cancel_superseded -> Bool,
        webhook_secret -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// The latest run of an application: a view of two columns of
    /// `applications` (see above).
    #[sql_name = "applications"]
    application_last_run (id) {
        id -> Text,
        last_run_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// Who created and last changed an application, and its permission
    /// matrix: a view of six columns of `applications` (see above).
    #[sql_name = "applications"]
    application_access (id) {
        id -> Text,
        permissions -> Nullable<Text>,
        created_by_id -> Nullable<Text>,
        created_by_name -> Nullable<Text>,
        updated_by_id -> Nullable<Text>,
        updated_by_name -> Nullable<Text>,
    }
}

diesel::table! {
    secrets (owner, name) {
        owner -> Text,
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        updated_by_id -> Nullable<Text>,
        updated_by_name -> Nullable<Text>,
    }
}

diesel::table! {
    deliveries (app_id, delivery_id) {
        app_id -> Text,
        delivery_id -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    schedules (id) {
        id -> Text,
        target -> Text,
        target_id -> Text,
        expression -> Text,
        timezone -> Nullable<Text>,
        git_ref -> Text,
        params -> Text,
        enabled -> Bool,
        last_fired_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    load_requests (id) {
        id -> Text,
        kind -> Text,
        state -> Text,
        body -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        lease_until -> Timestamp,
    }
}

diesel::table! {
    /// The named repository an application clones from: a view of two
    /// columns of `applications` (see above).
    #[sql_name = "applications"]
    application_repository (id) {
        id -> Text,
        repository_id -> Nullable<Text>,
    }
}

diesel::table! {
    repositories (id) {
        id -> Text,
        project_id -> Text,
        name -> Text,
        url -> Text,
        default_branch -> Text,
        provider -> Text,
        owner -> Nullable<Text>,
        repo -> Nullable<Text>,
        credentials_secret -> Nullable<Text>,
        created_by_id -> Nullable<Text>,
        created_by_name -> Nullable<Text>,
        updated_by_id -> Nullable<Text>,
        updated_by_name -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(workflows -> projects (project_id));
diesel::joinable!(workflow_versions -> workflows (workflow_id));
diesel::joinable!(applications -> projects (project_id));
diesel::joinable!(deliveries -> applications (app_id));
diesel::joinable!(project_members -> users (user_id));
diesel::joinable!(project_members -> projects (project_id));
diesel::joinable!(application_follows -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    runs,
    stages,
    jobs,
    approvals,
    log_chunks,
    projects,
    workflows,
    workflow_versions,
    api_tokens,
    applications,
    secrets,
    deliveries,
    schedules,
    users,
    project_members,
    application_follows
);

diesel::table! {
    audit_events (id) {
        id -> Text,
        at -> Timestamp,
        user_id -> Nullable<Text>,
        user_name -> Text,
        token_id -> Nullable<Text>,
        api -> Text,
        method -> Text,
        route -> Text,
        action -> Text,
        object_kind -> Text,
        object_id -> Nullable<Text>,
        project_id -> Nullable<Text>,
        status -> Integer,
        outcome -> Text,
    }
}

diesel::table! {
    namespaces (id) {
        id -> Text,
        name -> Text,
        project_id -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    workloads (id) {
        id -> Text,
        namespace_id -> Text,
        name -> Text,
        kind -> Text,
        manifest -> Text,
        workdir -> Text,
        instances -> Integer,
        port -> Nullable<Integer>,
        revision -> Integer,
        log_run -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_by -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(workloads -> namespaces (namespace_id));
diesel::allow_tables_to_appear_in_same_query!(namespaces, workloads);
