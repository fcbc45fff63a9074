//! The local workload runtime: [`LocalRuntime`] keeps deployments and
//! services running as process groups on the server's machine (the
//! first backend of [`slipway_core::WorkloadRuntime`]).
//!
//! - **Instances** are processes in their own process group, detached
//!   from the server (output to a file, not a pipe), each with its own
//!   free port in `PORT`, started in the spec's directory with a cleared
//!   environment (the allowlist of [`crate::process::PASS_THROUGH_ENV`],
//!   the spec's, `PORT`). Readiness: the port accepts a connection, or a
//!   command exits 0. An instance that exits is started again after a
//!   back-off that doubles (200 ms up to 30 s); five exits in a row is a
//!   crash loop. Stopping: `SIGTERM` to the group, the spec's grace,
//!   `SIGKILL`.
//! - **A service's port** is a TCP listener in the server spreading
//!   connections over the ready instances ([`proxy`]).
//! - **Deploys roll**: a new revision's instances are started and must
//!   all be ready within the spec's timeout before the port sends them
//!   connections and the old ones are stopped (once their connections are
//!   done, or their grace is over); if they are not ready in time they
//!   are stopped and the old ones keep serving. Scaling starts or stops
//!   instances of the same revision the same way.
//! - **Surviving the server**: each workload's directory
//!   (`<root>/<namespace>/<name>/`) holds `state.json` (its revision and
//!   each instance's id, port and [`GroupHandle`]; never its environment,
//!   which holds secrets) and the instances' output files. After a
//!   restart [`LocalRuntime::recover`] takes back the processes that
//!   still run (same boot, same leader start time) and starts the missing
//!   ones.
//! - **Logs**: with [`LocalRuntime::with_logs`], new lines of each
//!   instance's output are shipped into the log store as job
//!   `<spec.log.job>/<instance id>` of run `spec.log.run`, masked.

mod instance;
mod logs;
mod proxy;

use instance::{Instance, Launch, Recorded};
use proxy::{Proxy, Targets};
use slipway_core::{
    Clock, EventBus, InstanceInfo, LogSink, Masker, RuntimeError, WorkloadKey, WorkloadRuntime,
    WorkloadSpec, async_trait,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

/// The most instances a workload may ask for.
pub const MAX_INSTANCES: u32 = 256;

/// How often a retiring instance is checked for connections in flight.
const DRAIN_POLL: Duration = Duration::from_millis(20);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs workloads as process groups on this machine.
#[derive(Clone)]
pub struct LocalRuntime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LocalRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRuntime")
            .field("root", &self.inner.root)
            .field("bind", &self.inner.bind)
            .finish_non_exhaustive()
    }
}

/// Where instances' output is shipped: the store, its event bus, the
/// clock lines are stamped with.
type LogStore = (Arc<dyn LogSink>, EventBus, Arc<dyn Clock>);

struct Inner {
    root: PathBuf,
    bind: IpAddr,
    logs: Option<LogStore>,
    workloads: Mutex<HashMap<WorkloadKey, Arc<Workload>>>,
}

/// One workload: what it runs now, its instances and its port.
struct Workload {
    key: WorkloadKey,
    dir: PathBuf,
    /// One change at a time.
    op: tokio::sync::Mutex<()>,
    now: Mutex<Current>,
    targets: Arc<Targets>,
}

#[derive(Default)]
struct Current {
    spec: Option<WorkloadSpec>,
    instances: Vec<Arc<Instance>>,
    /// Started by a change in progress, not serving yet (recorded too, so
    /// that a crash meanwhile leaves nothing unaccounted for).
    pending: Vec<Arc<Instance>>,
    proxy: Option<Proxy>,
}

/// What `state.json` holds.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    revision: String,
    instances: Vec<Recorded>,
}

impl Workload {
    fn instances(&self) -> Vec<Arc<Instance>> {
        lock(&self.now).instances.clone()
    }

    /// Writes `state.json` (to a temporary file renamed over it).
    fn save(&self) {
        let state = {
            let now = lock(&self.now);
            State {
                revision: now
                    .spec
                    .as_ref()
                    .map(|s| s.revision.clone())
                    .unwrap_or_default(),
                instances: now
                    .instances
                    .iter()
                    .chain(&now.pending)
                    .map(|i| i.recorded())
                    .collect(),
            }
        };
        if let Err(e) = write_state(&self.dir, &state) {
            tracing::error!(workload = %self.key, error = %e, "saving a workload's state failed");
        }
    }
}

fn write_state(dir: &Path, state: &State) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    let tmp = dir.join("state.json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join("state.json"))
}

fn read_state(dir: &Path) -> State {
    std::fs::read(dir.join("state.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Whether two specs run the same processes (else a deploy replaces the
/// instances).
fn same_processes(a: &WorkloadSpec, b: &WorkloadSpec) -> bool {
    a.revision == b.revision
        && a.program == b.program
        && a.args == b.args
        && a.env == b.env
        && a.workdir == b.workdir
        && a.readiness == b.readiness
}

/// A part of a workload's key is one path segment of the runtime's
/// directory: no separators, no `.` or `..`, no control characters.
fn check_key(key: &WorkloadKey) -> Result<(), RuntimeError> {
    for (field, value) in [("namespace", &key.namespace), ("name", &key.name)] {
        let bad = value.is_empty()
            || value.len() > 253
            || value == "."
            || value == ".."
            || value.contains(['/', '\\'])
            || value.chars().any(char::is_control);
        if bad {
            return Err(RuntimeError::Invalid {
                field: field.to_owned(),
                message: format!("`{value}` cannot name a workload"),
            });
        }
    }
    Ok(())
}

fn check(spec: &WorkloadSpec) -> Result<(), RuntimeError> {
    check_key(&spec.key)?;
    let invalid = |field: &str, message: String| RuntimeError::Invalid {
        field: field.to_owned(),
        message,
    };
    if spec.program.trim().is_empty() {
        return Err(invalid("program", "required".to_owned()));
    }
    if spec.instances > MAX_INSTANCES {
        return Err(invalid(
            "instances",
            format!("at most {MAX_INSTANCES}, not {}", spec.instances),
        ));
    }
    if !spec.workdir.is_dir() {
        return Err(invalid(
            "workdir",
            format!("{} is not a directory", spec.workdir.display()),
        ));
    }
    if spec.port == Some(0) {
        return Err(invalid("port", "must be 1 to 65535".to_owned()));
    }
    Ok(())
}

/// A free port on the loopback interface, for an instance's `PORT`.
fn free_port() -> Result<u16, RuntimeError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| RuntimeError::Failed(format!("no free port: {e}")))
}

fn new_instance_id(key: &WorkloadKey) -> String {
    let random = slipway_core::RunId::new().0;
    format!("{}-{}", key.name, &random[..8])
}

impl LocalRuntime {
    /// A runtime keeping its workloads' directories under `root` and
    /// serving service ports on `bind` (`127.0.0.1` to keep them on this
    /// machine, `0.0.0.0` to serve the network).
    pub fn new(root: impl Into<PathBuf>, bind: IpAddr) -> Self {
        LocalRuntime {
            inner: Arc::new(Inner {
                root: root.into(),
                bind,
                logs: None,
                workloads: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Ships instances' output into `sink` (see the module's docs). Call
    /// before any workload is applied.
    #[must_use]
    pub fn with_logs(
        self,
        sink: Arc<dyn LogSink>,
        events: EventBus,
        clock: Arc<dyn Clock>,
    ) -> Self {
        LocalRuntime {
            inner: Arc::new(Inner {
                root: self.inner.root.clone(),
                bind: self.inner.bind,
                logs: Some((sink, events, clock)),
                workloads: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn dir_of(&self, key: &WorkloadKey) -> PathBuf {
        self.inner.root.join(&key.namespace).join(&key.name)
    }

    /// The workload `key`, made (with its directory) when new.
    fn workload(&self, key: &WorkloadKey) -> Result<Arc<Workload>, RuntimeError> {
        check_key(key)?;
        let mut all = lock(&self.inner.workloads);
        if let Some(w) = all.get(key) {
            return Ok(w.clone());
        }
        let dir = self.dir_of(key);
        std::fs::create_dir_all(&dir)
            .map_err(|e| RuntimeError::Failed(format!("{}: {e}", dir.display())))?;
        let w = Arc::new(Workload {
            key: key.clone(),
            dir,
            op: tokio::sync::Mutex::new(()),
            now: Mutex::new(Current::default()),
            targets: Arc::new(Targets::default()),
        });
        all.insert(key.clone(), w.clone());
        Ok(w)
    }

    fn launch(&self, wl: &Arc<Workload>, spec: &WorkloadSpec) -> Launch {
        let weak: Weak<Workload> = Arc::downgrade(wl);
        let logs = match (&self.inner.logs, &spec.log) {
            (Some((sink, events, clock)), Some(key)) => Some(logs::Shipping {
                sink: sink.clone(),
                events: events.clone(),
                clock: clock.clone(),
                key: key.clone(),
                masker: Masker::new(spec.secrets.iter()),
            }),
            _ => None,
        };
        Launch {
            spec: spec.clone(),
            dir: wl.dir.clone(),
            logs,
            changed: Arc::new(move || {
                if let Some(w) = weak.upgrade() {
                    w.save();
                }
            }),
        }
    }

    /// Starts `n` new instances of `spec`.
    fn start_instances(
        &self,
        wl: &Arc<Workload>,
        spec: &WorkloadSpec,
        n: usize,
    ) -> Result<Vec<Arc<Instance>>, RuntimeError> {
        let launch = self.launch(wl, spec);
        let mut started = Vec::with_capacity(n);
        for _ in 0..n {
            let port = free_port()?;
            started.push(instance::start(
                new_instance_id(&wl.key),
                port,
                launch.clone(),
                None,
            ));
        }
        Ok(started)
    }

    /// Starts `n` instances of `spec` as the pending ones of a change.
    fn start_pending(
        &self,
        wl: &Arc<Workload>,
        spec: &WorkloadSpec,
        n: usize,
    ) -> Result<Vec<Arc<Instance>>, RuntimeError> {
        let new = self.start_instances(wl, spec, n)?;
        lock(&wl.now).pending = new.clone();
        wl.save();
        Ok(new)
    }

    /// Stops the pending instances of a change that failed; the error
    /// that says why.
    async fn give_up(
        &self,
        wl: &Arc<Workload>,
        pending: Vec<Arc<Instance>>,
        spec: &WorkloadSpec,
    ) -> RuntimeError {
        let why = not_ready_reason(&pending, spec.ready_timeout);
        stop_all(pending).await;
        lock(&wl.now).pending.clear();
        wl.save();
        RuntimeError::NotReady {
            key: wl.key.to_string(),
            message: why,
        }
    }

    /// Serves the workload's service port as `spec` wants (binding a new
    /// port before anything else changes).
    async fn port_for(
        &self,
        wl: &Workload,
        spec: &WorkloadSpec,
    ) -> Result<Option<Option<Proxy>>, RuntimeError> {
        let have = lock(&wl.now).proxy.as_ref().map(|p| p.port);
        if have == spec.port {
            return Ok(None);
        }
        match spec.port {
            None => Ok(Some(None)),
            Some(port) => self.listen(wl, port).await.map(|p| Some(Some(p))),
        }
    }

    /// Serves `port` for the workload's instances.
    async fn listen(&self, wl: &Workload, port: u16) -> Result<Proxy, RuntimeError> {
        proxy::listen(self.inner.bind, port, wl.targets.clone())
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AddrInUse => RuntimeError::PortTaken { port },
                _ => RuntimeError::Failed(format!("service port {port}: {e}")),
            })
    }

    /// Replaces every instance by new ones of `spec` (rolling).
    async fn roll(&self, wl: &Arc<Workload>, spec: &WorkloadSpec) -> Result<(), RuntimeError> {
        let n = usize::try_from(spec.instances).unwrap_or(0);
        let new = self.start_pending(wl, spec, n)?;
        if !all_ready(&new, spec.ready_timeout).await {
            return Err(self.give_up(wl, new, spec).await);
        }
        let old = {
            let mut now = lock(&wl.now);
            now.spec = Some(spec.clone());
            now.pending.clear();
            std::mem::replace(&mut now.instances, new.clone())
        };
        wl.targets.set(new);
        wl.save();
        retire(old, spec.stop_grace).await;
        Ok(())
    }

    /// Brings the instance count of the same processes to `spec`'s.
    async fn scale(&self, wl: &Arc<Workload>, spec: &WorkloadSpec) -> Result<(), RuntimeError> {
        let n = usize::try_from(spec.instances).unwrap_or(0);
        let have = wl.instances();
        if have.len() < n {
            let more = self.start_pending(wl, spec, n - have.len())?;
            if !all_ready(&more, spec.ready_timeout).await {
                return Err(self.give_up(wl, more, spec).await);
            }
            let all = {
                let mut now = lock(&wl.now);
                now.pending.clear();
                now.instances.extend(more);
                now.spec = Some(spec.clone());
                now.instances.clone()
            };
            wl.targets.set(all);
        } else {
            let (keep, surplus) = {
                let mut now = lock(&wl.now);
                let surplus = now.instances.split_off(n);
                now.spec = Some(spec.clone());
                (now.instances.clone(), surplus)
            };
            wl.targets.set(keep);
            wl.save();
            retire(surplus, spec.stop_grace).await;
        }
        wl.save();
        Ok(())
    }
}

/// Whether every instance became ready within `within`.
async fn all_ready(instances: &[Arc<Instance>], within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    for inst in instances {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !inst.wait_ready(left).await {
            return false;
        }
    }
    true
}

/// Why instances were not ready: how the first that was not had ended.
fn not_ready_reason(instances: &[Arc<Instance>], within: Duration) -> String {
    let late = instances.iter().find(|i| !i.is_ready());
    match late.and_then(|i| i.info().last_exit) {
        Some(exit) => format!(
            "the new instances were not ready within {within:?} (one exited: {exit}); the previous ones keep serving"
        ),
        None => format!(
            "the new instances were not ready within {within:?}; the previous ones keep serving"
        ),
    }
}

/// Stops instances, all at once, and waits until none runs.
async fn stop_all(instances: Vec<Arc<Instance>>) {
    let tasks: Vec<_> = instances
        .into_iter()
        .map(|i| tokio::spawn(async move { i.stop().await }))
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// Stops instances that no longer get connections: each once its
/// connections in flight are done (or `grace` has passed), all at once.
async fn retire(instances: Vec<Arc<Instance>>, grace: Duration) {
    let tasks: Vec<_> = instances
        .into_iter()
        .map(|i| {
            tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + grace;
                while instance::active(&i) > 0 && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(DRAIN_POLL).await;
                }
                i.stop().await;
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

#[async_trait]
impl WorkloadRuntime for LocalRuntime {
    async fn apply(&self, spec: &WorkloadSpec) -> Result<Vec<InstanceInfo>, RuntimeError> {
        check(spec)?;
        let wl = self.workload(&spec.key)?;
        let _one = wl.op.lock().await;
        let port = self.port_for(&wl, spec).await?;
        let same = lock(&wl.now)
            .spec
            .as_ref()
            .is_some_and(|now| same_processes(now, spec));
        let done = if same {
            self.scale(&wl, spec).await
        } else {
            self.roll(&wl, spec).await
        };
        // The port changes only with a deploy that worked.
        if done.is_ok()
            && let Some(proxy) = port
        {
            lock(&wl.now).proxy = proxy;
        }
        done?;
        Ok(wl.instances().iter().map(|i| i.info()).collect())
    }

    async fn restart(&self, spec: &WorkloadSpec) -> Result<Vec<InstanceInfo>, RuntimeError> {
        check(spec)?;
        let wl = lock(&self.inner.workloads)
            .get(&spec.key)
            .cloned()
            .ok_or_else(|| RuntimeError::NotFound(spec.key.to_string()))?;
        let _one = wl.op.lock().await;
        if lock(&wl.now).spec.is_none() {
            return Err(RuntimeError::NotFound(spec.key.to_string()));
        }
        let port = self.port_for(&wl, spec).await?;
        self.roll(&wl, spec).await?;
        if let Some(proxy) = port {
            lock(&wl.now).proxy = proxy;
        }
        Ok(wl.instances().iter().map(|i| i.info()).collect())
    }

    async fn remove(&self, key: &WorkloadKey) -> Result<(), RuntimeError> {
        check_key(key)?;
        let known = lock(&self.inner.workloads).get(key).cloned();
        let dir = self.dir_of(key);
        let Some(wl) = known else {
            if !dir.is_dir() {
                return Err(RuntimeError::NotFound(key.to_string()));
            }
            // Kept from before a restart and never recovered.
            kill_recorded(&read_state(&dir));
            let _ = std::fs::remove_dir_all(&dir);
            return Ok(());
        };
        let _one = wl.op.lock().await;
        let (instances, proxy) = {
            let mut now = lock(&wl.now);
            now.spec = None;
            (std::mem::take(&mut now.instances), now.proxy.take())
        };
        drop(proxy);
        wl.targets.set(Vec::new());
        stop_all(instances).await;
        lock(&self.inner.workloads).remove(key);
        std::fs::remove_dir_all(&wl.dir)
            .map_err(|e| RuntimeError::Failed(format!("{}: {e}", wl.dir.display())))
    }

    fn instances(&self, key: &WorkloadKey) -> Vec<InstanceInfo> {
        lock(&self.inner.workloads)
            .get(key)
            .map(|w| w.instances().iter().map(|i| i.info()).collect())
            .unwrap_or_default()
    }

    fn check_port(&self, key: &WorkloadKey, port: u16) -> Result<(), RuntimeError> {
        let served = lock(&self.inner.workloads)
            .get(key)
            .and_then(|w| lock(&w.now).proxy.as_ref().map(|p| p.port));
        if served == Some(port) {
            return Ok(());
        }
        match std::net::TcpListener::bind((self.inner.bind, port)) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                Err(RuntimeError::PortTaken { port })
            }
            Err(e) => Err(RuntimeError::Failed(format!("service port {port}: {e}"))),
        }
    }

    async fn recover(&self, specs: &[WorkloadSpec]) -> Result<(), RuntimeError> {
        let mut first_error = None;
        for spec in specs {
            if let Err(e) = self.recover_one(spec).await {
                tracing::error!(workload = %spec.key, error = %e, "a workload could not be recovered");
                first_error.get_or_insert(e);
            }
        }
        // Whatever is kept of a workload no longer wanted is stopped.
        let wanted: Vec<PathBuf> = specs.iter().map(|s| self.dir_of(&s.key)).collect();
        for ns in read_dirs(&self.inner.root) {
            for dir in read_dirs(&ns) {
                if !wanted.contains(&dir) {
                    kill_recorded(&read_state(&dir));
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl LocalRuntime {
    async fn recover_one(&self, spec: &WorkloadSpec) -> Result<(), RuntimeError> {
        check(spec)?;
        let wl = self.workload(&spec.key)?;
        let _one = wl.op.lock().await;
        let kept = read_state(&wl.dir);
        let n = usize::try_from(spec.instances).unwrap_or(0);
        let (mut alive, dead): (Vec<Recorded>, Vec<Recorded>) =
            kept.instances.into_iter().partition(|r| {
                r.revision == spec.revision && r.handle.as_ref().is_some_and(|h| h.leader_alive())
            });
        let surplus = alive.split_off(alive.len().min(n));
        for r in dead.iter().chain(&surplus) {
            if let Some(h) = &r.handle {
                h.kill_leftovers();
            }
        }
        let proxy = match spec.port {
            Some(port) => Some(self.listen(&wl, port).await?),
            None => None,
        };
        let launch = self.launch(&wl, spec);
        let mut instances: Vec<Arc<Instance>> = alive
            .into_iter()
            .map(|r| instance::start(r.id, r.port, launch.clone(), r.handle))
            .collect();
        let missing = n.saturating_sub(instances.len());
        instances.extend(self.start_instances(&wl, spec, missing)?);
        {
            let mut now = lock(&wl.now);
            now.spec = Some(spec.clone());
            now.instances = instances.clone();
            now.proxy = proxy;
        }
        wl.targets.set(instances.clone());
        wl.save();
        if !all_ready(&instances, spec.ready_timeout).await {
            tracing::warn!(workload = %spec.key, "recovered instances are not all ready yet");
        }
        Ok(())
    }
}

/// Kills what is left of every process a state file records.
fn kill_recorded(state: &State) {
    for r in &state.instances {
        if let Some(h) = &r.handle {
            h.kill_leftovers();
        }
    }
}

fn read_dirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}
