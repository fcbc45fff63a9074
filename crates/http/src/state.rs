//! What every handler shares: the application, the settings, the metrics,
//! the runtime that owns the engine's tasks, and the shutdown signal.

use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use slipway_core::CancellationToken;
use slipway_domain::App;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The largest request body accepted, in bytes (larger: 413).
    pub body_limit: usize,
    /// How often a live log stream sends a heartbeat comment.
    pub heartbeat: Duration,
    /// Which APIs are served (all by default).
    pub dialects: crate::dialect::Switches,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            body_limit: 1024 * 1024,
            heartbeat: Duration::from_secs(15),
            dialects: crate::dialect::Switches::all_on(),
        }
    }
}

/// The shared state of the HTTP layer. Cheap to clone.
#[derive(Clone)]
pub struct State {
    inner: Arc<Inner>,
}

/// A page of runs from the domain and its JSON, kept while the domain
/// answers with that same page.
type PageJson = (
    Arc<slipway_domain::Page<slipway_core::RunSummary>>,
    actix_web::web::Bytes,
);

struct Inner {
    /// Serialized run-list pages, by the address of the page they came
    /// from (the page is held, so the address is not reused meanwhile).
    run_pages: std::sync::Mutex<std::collections::HashMap<usize, PageJson>>,
    app: App,
    settings: Settings,
    metrics: Metrics,
    runtime: tokio::runtime::Handle,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl State {
    /// The state for `app`. `runtime` is the runtime that outlives the HTTP
    /// workers (the server's main runtime): work that keeps running after
    /// the request, such as a run's driver task, is started there.
    ///
    /// # Errors
    /// The metrics could not be set up (a malformed metric name).
    pub fn new(
        app: App,
        settings: Settings,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, prometheus::Error> {
        Ok(State {
            inner: Arc::new(Inner {
                run_pages: std::sync::Mutex::default(),
                app,
                settings,
                metrics: Metrics::new()?,
                runtime,
                shutdown: CancellationToken::new(),
            }),
        })
    }

    /// The application's use cases.
    pub fn app(&self) -> &App {
        &self.inner.app
    }

    /// The JSON of a page of runs, made once per page the domain hands out.
    pub fn run_page_json(
        &self,
        page: Arc<slipway_domain::Page<slipway_core::RunSummary>>,
    ) -> Result<actix_web::web::Bytes, serde_json::Error> {
        let key = Arc::as_ptr(&page) as usize;
        let mut pages = self
            .inner
            .run_pages
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((_, json)) = pages.get(&key) {
            return Ok(json.clone());
        }
        let view = crate::views::RunPage::of((*page).clone());
        let json = actix_web::web::Bytes::from(serde_json::to_vec(&view)?);
        // Only pages still current are worth keeping.
        pages.retain(|_, (p, _)| Arc::strong_count(p) > 1);
        if pages.len() >= 1024 {
            pages.clear();
        }
        pages.insert(key, (page, json.clone()));
        Ok(json)
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Fired when the server stops: live streams end.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Runs `fut` on the main runtime and waits for it. Use cases that
    /// start background work (a run's driver) go through here, so that
    /// the work does not die with an HTTP worker thread.
    pub async fn on_main<F, T>(&self, fut: F) -> ApiResult<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.inner
            .runtime
            .spawn(fut)
            .await
            .map_err(|e| ApiError::internal(format!("task failed: {e}")))
    }
}
