//! What every handler shares: the application, the settings, the metrics,
//! the JSON caches, and the shutdown signal.

use crate::metrics::Metrics;
use actix_web::web::Bytes;
use slipway_core::CancellationToken;
use slipway_domain::App;
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
    /// The peers whose `Identity` header is believed (none by default).
    pub trusted_proxies: crate::auth::TrustedProxies,
    /// Whether clients reach the server over TLS (a proxy in front of it
    /// terminates it): session cookies get `Secure` and the server's own
    /// origin is `https://`.
    pub behind_tls: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            body_limit: 1024 * 1024,
            heartbeat: Duration::from_secs(15),
            dialects: crate::dialect::Switches::all_on(),
            trusted_proxies: crate::auth::TrustedProxies::default(),
            behind_tls: false,
        }
    }
}

/// The shared state of the HTTP layer. Cheap to clone.
#[derive(Clone)]
pub struct State {
    inner: Arc<Inner>,
}

/// The JSON of values the domain hands out as shared (`Arc`) while they
/// are current, by the address of the value (held, so the address is not
/// reused meanwhile): each is serialized once, however often it is asked
/// for.
struct JsonOf<T> {
    entries: std::sync::Mutex<std::collections::HashMap<usize, (Arc<T>, Bytes)>>,
}

impl<T> Default for JsonOf<T> {
    fn default() -> Self {
        JsonOf {
            entries: std::sync::Mutex::default(),
        }
    }
}

impl<T> JsonOf<T> {
    fn json<V: serde::Serialize>(
        &self,
        value: Arc<T>,
        view: impl FnOnce(&T) -> V,
    ) -> Result<Bytes, serde_json::Error> {
        let key = Arc::as_ptr(&value) as usize;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, json)) = entries.get(&key) {
            return Ok(json.clone());
        }
        let json = Bytes::from(serde_json::to_vec(&view(&value))?);
        // Only values the domain still hands out are worth keeping.
        entries.retain(|_, (v, _)| Arc::strong_count(v) > 1);
        if entries.len() >= 1024 {
            entries.clear();
        }
        entries.insert(key, (value, json.clone()));
        Ok(json)
    }
}

struct Inner {
    run_pages: JsonOf<slipway_domain::Page<slipway_core::RunSummary>>,
    runs: JsonOf<slipway_core::RunRecord>,
    app: App,
    settings: Settings,
    metrics: Metrics,
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
    /// The state for `app`. Work that outlives a request (a run's driver,
    /// a use case the client stopped waiting for) is the domain's to
    /// place: the engine spawns it on the runtime it was built with.
    ///
    /// # Errors
    /// The metrics could not be set up (a malformed metric name).
    pub fn new(app: App, settings: Settings) -> Result<Self, prometheus::Error> {
        Ok(State {
            inner: Arc::new(Inner {
                run_pages: JsonOf::default(),
                runs: JsonOf::default(),
                app,
                settings,
                metrics: Metrics::new()?,
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
    ) -> Result<Bytes, serde_json::Error> {
        self.inner
            .run_pages
            .json(page, |p| crate::views::RunPage::of(p.clone()))
    }

    /// The JSON of a run, made once per run record the domain hands out.
    pub fn run_json(&self, run: Arc<slipway_core::RunRecord>) -> Result<Bytes, serde_json::Error> {
        self.inner
            .runs
            .json(run, |r| crate::views::RunView::from(r.clone()))
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
}
