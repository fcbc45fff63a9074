//! Wiring: open the database, build the engine and the application (with
//! the secret and session keys), settle what a previous process left, make the first admin token, serve
//! HTTP, and stop cleanly on SIGTERM / SIGINT.

use crate::config::Config;
use actix_web::HttpServer;
use slipway_core::{Engine, Registry, RunQuery, Status};
use slipway_domain::App;
use slipway_domain::{RunSecrets, SecretKey, SessionKey};
use slipway_exec::ShellConfig;
use slipway_git::{GitConfig, GixSource};
use slipway_store::{Db, DbOptions, SqlCatalog, SqlLogSink, SqlRunStore};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The reason recorded on runs cancelled because the server stops.
pub const SHUTDOWN_REASON: &str = "cancelled: server shutting down";

/// The pieces a command needs.
struct Parts {
    app: App,
    engine: Engine,
    loads: slipway_domain::workloads::Loads,
    workloads: slipway_domain::workloads::Workloads,
}

async fn open_db(config: &Config) -> Result<Db, String> {
    let url = config.database_url.clone();
    let opts = DbOptions {
        max_connections: config.db_max_connections,
        ..DbOptions::default()
    };
    tokio::task::spawn_blocking(move || Db::open(&url, &opts))
        .await
        .map_err(|e| format!("opening the database: {e}"))?
        .map_err(|e| format!("database: {e}"))
}

async fn build(config: &Config) -> Result<Parts, String> {
    for dir in [
        config.data_dir.clone(),
        config.workspaces(),
        config.git_cache(),
        config.workload_root(),
        config.workload_files(),
    ] {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let db = open_db(config).await?;
    let mut git = GitConfig::new(config.git_cache());
    git.allow_local = config.git_allow_local;
    git.max_cache_bytes = config.git_cache_bytes;
    let git: Arc<GixSource> = Arc::new(GixSource::new(git).map_err(|e| format!("git cache: {e}"))?);
    let key_file = config.secret_key_file();
    let configured = config.secret_key.as_ref().map(|k| k.0.clone());
    let key = tokio::task::spawn_blocking(move || {
        SecretKey::load_or_create(&key_file, configured.as_deref())
    })
    .await
    .map_err(|e| format!("secret key: {e}"))?
    .map_err(|e| format!("secret key: {e}"))?;
    let session_key_file = config.session_key_file();
    let configured = config.session_key.as_ref().map(|k| k.0.clone());
    let session_key = tokio::task::spawn_blocking(move || {
        SessionKey::load_or_create(&session_key_file, configured.as_deref())
    })
    .await
    .map_err(|e| format!("session key: {e}"))?
    .map_err(|e| format!("session key: {e}"))?;
    let mut registry = Registry::new();
    slipway_exec::register_builtin_with(
        &mut registry,
        ShellConfig {
            git: Some(git.clone()),
            ..ShellConfig::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let catalog = Arc::new(SqlCatalog::new(db.clone()));
    // Workloads: the local runtime ships instances' output into the
    // engine's log store, on the engine's event bus (so it can be
    // followed); the internal job kind `workload` runs operations.
    let events = slipway_core::EventBus::new(4096);
    let logs: Arc<SqlLogSink> = Arc::new(SqlLogSink::new(db.clone()));
    let runtime = slipway_exec::LocalRuntime::new(config.workload_root(), config.service_bind)
        .with_logs(
            logs.clone(),
            events.clone(),
            Arc::new(slipway_core::SystemClock),
        );
    let workloads = slipway_domain::workloads::Workloads::new(
        catalog.clone(),
        Arc::new(runtime),
        RunSecrets::new(catalog.clone(), key.clone()),
        std::path::absolute(config.workload_files()).map_err(|e| e.to_string())?,
        config.default_namespace_project.clone(),
    );
    registry
        .register(workloads.kind())
        .map_err(|e| e.to_string())?;
    let engine = Engine::builder(registry.clone())
        .events(events)
        .secrets(Arc::new(RunSecrets::new(catalog.clone(), key.clone())))
        .store(Arc::new(SqlRunStore::new(db.clone())))
        .logs(logs)
        .workspace_root(config.workspaces())
        .remove_passed_workspaces(!config.keep_workspaces)
        .build();
    let loads_store = Arc::new(slipway_store::SqlLoadStore::new(db.clone()));
    let loads = slipway_domain::workloads::Loads::new(git.clone(), loads_store)
        .with_runtime(tokio::runtime::Handle::current());
    let app = App::new(catalog, engine.clone(), registry)
        .with_secret_key(key)
        .with_session_key(session_key)
        .with_session_ttl(config.session_ttl)
        .with_git(git)
        .with_workloads(workloads.clone());
    Ok(Parts {
        app,
        engine,
        loads,
        workloads,
    })
}

/// `slipway migrate`.
pub async fn migrate(config: &Config) -> Result<(), String> {
    let db = open_db(config).await?;
    println!("migrations applied ({})", db.backend().name());
    Ok(())
}

/// `slipway token create`.
pub async fn create_token(
    config: &Config,
    name: &str,
    admin: bool,
    user: Option<&str>,
) -> Result<(), String> {
    let parts = build(config).await?;
    let made = parts
        .app
        .issue_token(name, admin, user)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "created token `{}` (id {}, user {}{}); its secret is shown this once:",
        made.token.name,
        made.token.id,
        made.token.user_id,
        if made.token.is_admin { ", admin" } else { "" }
    );
    println!("{}", made.secret);
    Ok(())
}

/// `slipway user create`: as the operator, who may create any user.
pub async fn create_user(config: &Config, input: slipway_domain::UserInput) -> Result<(), String> {
    let parts = build(config).await?;
    let user = parts
        .app
        .create_user(&slipway_domain::Caller::operator(), input)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "created user `{}`{}; its id:",
        user.login,
        if user.is_admin { " (system admin)" } else { "" }
    );
    println!("{}", user.id);
    Ok(())
}

/// The first admin token, on an empty database.
async fn first_token(app: &App) -> Result<(), String> {
    if app.token_count().await.map_err(|e| e.to_string())? > 0 {
        return Ok(());
    }
    match std::env::var("SLIPWAY_ADMIN_TOKEN") {
        Ok(secret) if !secret.trim().is_empty() => {
            app.import_token("admin", true, secret.trim())
                .await
                .map_err(|e| format!("SLIPWAY_ADMIN_TOKEN: {e}"))?;
            println!("admin token: imported from SLIPWAY_ADMIN_TOKEN");
        }
        _ => {
            let made = app
                .issue_token("admin", true, None)
                .await
                .map_err(|e| e.to_string())?;
            println!("admin token (shown once, keep it): {}", made.secret);
        }
    }
    Ok(())
}

/// `slipway serve`.
pub async fn serve(config: Config) -> Result<(), String> {
    let started = Instant::now();
    let parts = build(&config).await?;
    let recovery = parts
        .engine
        .recover()
        .await
        .map_err(|e| format!("recovery: {e}"))?;
    let loads_failed = parts
        .loads
        .recover()
        .await
        .map_err(|e| format!("recovery: {e}"))?;
    // After the engine's recovery (an operation the previous process left
    // running is settled first): every stored workload back to its
    // desired state, its running instances taken back.
    let workloads = parts
        .workloads
        .recover()
        .await
        .map_err(|e| format!("recovery: {e}"))?;
    tracing::info!(
        workloads,
        loads_failed,
        failed = recovery.failed.len(),
        resumed = recovery.resumed.len(),
        requeued = recovery.requeued.len(),
        "settled the work of the previous process"
    );
    first_token(&parts.app).await?;
    let scheduler = config
        .scheduler_interval
        .map(|every| tokio::spawn(run_scheduler(parts.app.clone(), every)));
    let pruner = config
        .workspace_retention
        .map(|age| tokio::spawn(prune_workspaces(parts.engine.clone(), age)));

    let settings = slipway_http::Settings {
        body_limit: config.body_limit,
        dialects: config.dialects.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        behind_tls: config.behind_tls,
        ..slipway_http::Settings::default()
    };
    let state = slipway_http::State::new(parts.app.clone(), settings)
        .map_err(|e| format!("metrics: {e}"))?;
    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let http_state = state.clone();
    let mut server = HttpServer::new(move || slipway_http::app(http_state.clone()))
        .disable_signals()
        .shutdown_timeout(5);
    if let Some(n) = config.workers {
        server = server.workers(n);
    }
    let server = server
        .listen(listener)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?
        .run();
    let handle = server.handle();
    let mut server = tokio::spawn(server);
    println!("listening on http://{addr}");
    tracing::info!(
        %addr,
        database = %slipway_store::db::redact(&config.database_url),
        data_dir = %config.data_dir.display(),
        ready_ms = started.elapsed().as_millis() as u64,
        "slipway is ready"
    );

    tokio::select! {
        done = &mut server => {
            return match done {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("http server: {e}")),
                Err(e) => Err(format!("http server: {e}")),
            };
        }
        signal = stop_signal() => {
            tracing::info!(signal, "stopping: no new requests; running jobs get {}s", config.shutdown_grace.as_secs());
        }
    }
    state.shutdown().cancel();
    for task in [scheduler, pruner].into_iter().flatten() {
        task.abort();
    }
    handle.stop(true).await;
    let _ = server.await;
    drain(&parts.engine, config.shutdown_grace).await;
    tracing::info!("stopped");
    Ok(())
}

/// Checks cron schedules every `every` (aligned to whole seconds) and
/// starts what they owe; see `App::fire_due_schedules`.
async fn run_scheduler(app: App, every: Duration) {
    loop {
        // Sleep to just past the next whole interval, so that a schedule
        // fires within a few milliseconds of its second.
        let now = chrono::Utc::now();
        let step = every.as_millis().max(1) as i64;
        let into = now.timestamp_millis().rem_euclid(step);
        let wait = u64::try_from(step - into).unwrap_or(1000) + 5;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        match app.fire_due_schedules(chrono::Utc::now()).await {
            Ok(started) if !started.is_empty() => {
                tracing::info!(runs = started.len(), "cron schedules started runs");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "checking cron schedules failed"),
        }
    }
}

/// Deletes the workspaces of runs finished more than `age` ago, at start
/// and then hourly (`Engine::prune_workspaces`).
async fn prune_workspaces(engine: Engine, age: Duration) {
    loop {
        match engine.prune_workspaces(age).await {
            Ok(pruned) if !pruned.is_empty() => {
                tracing::info!(workspaces = pruned.len(), "deleted old run workspaces");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning run workspaces failed"),
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Waits for SIGTERM or SIGINT and names it.
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers, only Ctrl-C through tokio is left.
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// Lets running runs finish within `grace`, then cancels the rest with
/// [`SHUTDOWN_REASON`] and waits for them to settle. Runs waiting for
/// approval and queued runs are left as they are: the next start resumes
/// them.
async fn drain(engine: &Engine, grace: Duration) {
    let deadline = Instant::now() + grace;
    let query = RunQuery {
        statuses: vec![Status::Running],
        ..RunQuery::default()
    };
    loop {
        let running = match engine.store().list_runs(&query).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot list running runs at shutdown");
                return;
            }
        };
        if running.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            tracing::info!(
                runs = running.len(),
                "grace period over: cancelling running runs"
            );
            for run in &running {
                if let Err(e) = engine.cancel(&run.id, SHUTDOWN_REASON).await {
                    tracing::warn!(run = %run.id, error = %e, "cannot cancel");
                }
            }
            for run in &running {
                let waited =
                    tokio::time::timeout(Duration::from_secs(40), engine.wait(&run.id)).await;
                if waited.is_err() {
                    tracing::warn!(run = %run.id, "run did not settle in time");
                }
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
