//! One instance of a workload: a process group started (or taken back
//! after a restart of the server), told ready, restarted with back-off
//! when it exits, and stopped gracefully.
//!
//! The process is detached from the server: it leads its own process
//! group and writes to a file, so that it outlives a crash of the server
//! and can be taken back by its [`GroupHandle`]. Exits of a process the
//! server started are awaited; a taken-back process, which is no child of
//! the server, is watched through `/proc` ([`ADOPTED_POLL`]).

use super::logs;
use crate::process::{GroupHandle, PASS_THROUGH_ENV, ProcessSpec, resolve_program};
use chrono::Utc;
use nix::sys::signal::Signal;
use slipway_core::{InstanceInfo, InstanceState, Readiness, WorkloadSpec};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often a taken-back process is checked for its exit.
pub(crate) const ADOPTED_POLL: Duration = Duration::from_millis(500);

/// The first restart's delay; each exit in a row doubles it.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);

/// The longest delay between restarts.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A process that ran this long before exiting was healthy: the back-off
/// starts again from its first delay.
const HEALTHY_RUN: Duration = Duration::from_secs(30);

/// Exits in a row from which the instance is in a crash loop.
const CRASH_LOOP_AFTER: u32 = 5;

/// How often readiness is checked at first, and at most.
const READY_POLL_FIRST: Duration = Duration::from_millis(5);
const READY_POLL_MAX: Duration = Duration::from_millis(250);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the runtime keeps of an instance's current process, across its
/// own restarts (the state file holds it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Recorded {
    pub id: String,
    pub revision: String,
    pub port: u16,
    pub handle: Option<GroupHandle>,
}

/// An instance and its supervising task.
#[derive(Debug)]
pub(crate) struct Instance {
    pub id: String,
    pub revision: String,
    pub port: u16,
    info: Mutex<InstanceInfo>,
    handle: Mutex<Option<GroupHandle>>,
    ready: watch::Sender<bool>,
    /// Proxied connections it is serving now.
    pub active: AtomicUsize,
    stop: CancellationToken,
    stopped: CancellationToken,
}

impl Instance {
    /// Its state for reports.
    pub fn info(&self) -> InstanceInfo {
        lock(&self.info).clone()
    }

    /// What the state file keeps of it.
    pub fn recorded(&self) -> Recorded {
        Recorded {
            id: self.id.clone(),
            revision: self.revision.clone(),
            port: self.port,
            handle: lock(&self.handle).clone(),
        }
    }

    /// Whether it is ready now.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits until it is ready; false when `within` passed first or it
    /// was stopped.
    pub async fn wait_ready(&self, within: Duration) -> bool {
        let mut rx = self.ready.subscribe();
        let wait = rx.wait_for(|r| *r);
        tokio::select! {
            r = tokio::time::timeout(within, wait) => matches!(r, Ok(Ok(_))),
            () = self.stop.cancelled() => false,
        }
    }

    /// Stops it (SIGTERM to its group, `grace`, SIGKILL) and waits until
    /// nothing of it runs.
    pub async fn stop(&self) {
        self.stop.cancel();
        self.stopped.cancelled().await;
    }

    fn set(&self, f: impl FnOnce(&mut InstanceInfo)) {
        f(&mut lock(&self.info));
    }
}

/// What an instance is started with.
#[derive(Clone)]
pub(crate) struct Launch {
    pub spec: WorkloadSpec,
    /// Its directory (its output file is there).
    pub dir: PathBuf,
    /// Where its output is shipped, if anywhere.
    pub logs: Option<logs::Shipping>,
    /// Called when its process changes (to save the state file).
    pub changed: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launch")
            .field("key", &self.spec.key)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Starts an instance's supervising task; `adopt` is a process of it that
/// still runs from before a restart of the server.
pub(crate) fn start(
    id: String,
    port: u16,
    launch: Launch,
    adopt: Option<GroupHandle>,
) -> Arc<Instance> {
    let (ready, _) = watch::channel(false);
    let inst = Arc::new(Instance {
        id: id.clone(),
        revision: launch.spec.revision.clone(),
        port,
        info: Mutex::new(InstanceInfo {
            id,
            revision: launch.spec.revision.clone(),
            port,
            pid: None,
            state: InstanceState::Starting,
            restarts: 0,
            last_exit: None,
            started_at: None,
        }),
        handle: Mutex::new(None),
        ready,
        active: AtomicUsize::new(0),
        stop: CancellationToken::new(),
        stopped: CancellationToken::new(),
    });
    let task = inst.clone();
    tokio::spawn(async move {
        supervise(&task, &launch, adopt).await;
        task.stopped.cancel();
    });
    inst
}

/// A running process of an instance.
enum Proc {
    /// Started by this server: its exit is awaited.
    Child(Child, GroupHandle),
    /// Taken back after a restart of the server: watched through /proc.
    Adopted(GroupHandle),
}

impl Proc {
    fn handle(&self) -> &GroupHandle {
        match self {
            Proc::Child(_, h) | Proc::Adopted(h) => h,
        }
    }

    /// Waits until the process exits; how it ended.
    async fn exited(&mut self) -> String {
        match self {
            Proc::Child(child, _) => match child.wait().await {
                Ok(status) => match (status.code(), status.signal()) {
                    (Some(code), _) => format!("exit {code}"),
                    (None, Some(sig)) => format!("signal {sig}"),
                    _ => "ended".to_owned(),
                },
                Err(e) => format!("lost: {e}"),
            },
            Proc::Adopted(handle) => {
                while handle.leader_alive() {
                    tokio::time::sleep(ADOPTED_POLL).await;
                }
                "ended (taken back after a restart; its exit status is unknown)".to_owned()
            }
        }
    }
}

/// Spawns the instance's program: its own process group, a cleared
/// environment (the allowlist, the spec's, `PORT`), standard input
/// `/dev/null`, output appended to `output.log` in its directory.
fn spawn(inst: &Instance, launch: &Launch) -> Result<Proc, String> {
    let spec = &launch.spec;
    let mut env: std::collections::BTreeMap<String, String> = PASS_THROUGH_ENV
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
        .collect();
    env.extend(spec.env.clone());
    env.insert("PORT".to_owned(), inst.port.to_string());
    let mut lookup = ProcessSpec::new(spec.program.clone(), spec.workdir.clone());
    lookup.env = env.clone();
    let program = resolve_program(&lookup);
    let output = logs::output_file(&launch.dir, &inst.id);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&output)
        .map_err(|e| format!("output file {}: {e}", output.display()))?;
    let err = file
        .try_clone()
        .map_err(|e| format!("output file {}: {e}", output.display()))?;
    let mut cmd = Command::new(&program);
    cmd.args(&spec.args)
        .current_dir(&spec.workdir)
        .env_clear()
        .envs(&env)
        .stdin(std::process::Stdio::null())
        .stdout(file)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(false);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", spec.program))?;
    let pid = child
        .id()
        .ok_or_else(|| format!("`{}` started without a process id", spec.program))?;
    let handle = GroupHandle::of(pid)
        .ok_or_else(|| format!("`{}` ended before it could be watched", spec.program))?;
    Ok(Proc::Child(child, handle))
}

/// Whether the instance is ready now.
async fn ready_now(inst: &Instance, spec: &WorkloadSpec) -> bool {
    match &spec.readiness {
        Readiness::Started => true,
        Readiness::Port => tokio::net::TcpStream::connect(("127.0.0.1", inst.port))
            .await
            .is_ok(),
        Readiness::Command { argv } => {
            let Some((program, args)) = argv.split_first() else {
                return true;
            };
            let mut env = spec.env.clone();
            env.insert("PORT".to_owned(), inst.port.to_string());
            for k in PASS_THROUGH_ENV {
                if let Ok(v) = std::env::var(k) {
                    env.entry((*k).to_owned()).or_insert(v);
                }
            }
            Command::new(program)
                .args(args)
                .current_dir(&spec.workdir)
                .env_clear()
                .envs(&env)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .await
                .is_ok_and(|s| s.success())
        }
    }
}

/// Polls readiness, often at first and then less often, until ready.
async fn until_ready(inst: &Instance, spec: &WorkloadSpec) {
    let mut every = READY_POLL_FIRST;
    while !ready_now(inst, spec).await {
        tokio::time::sleep(every).await;
        every = (every * 2).min(READY_POLL_MAX);
    }
}

/// Stops `proc`: SIGTERM to its group, up to `grace` for it to end, then
/// SIGKILL to whatever is left of the group.
async fn terminate(proc: &mut Proc, grace: Duration) {
    let handle = proc.handle().clone();
    handle.signal(Signal::SIGTERM);
    let ended = tokio::time::timeout(grace, proc.exited()).await.is_ok();
    if !ended {
        handle.signal(Signal::SIGKILL);
        let _ = tokio::time::timeout(Duration::from_secs(5), proc.exited()).await;
    }
    handle.kill_leftovers();
}

/// The delay before restart number `in_a_row` (1 for the first exit).
fn backoff(in_a_row: u32) -> Duration {
    let factor = 2u32.saturating_pow(in_a_row.saturating_sub(1).min(16));
    (BACKOFF_FIRST * factor).min(BACKOFF_MAX)
}

/// The instance's life: run (or take back) its process, tell readiness,
/// restart it when it exits, until it is stopped.
async fn supervise(inst: &Arc<Instance>, launch: &Launch, mut adopt: Option<GroupHandle>) {
    let spec = &launch.spec;
    let mut in_a_row = 0u32;
    loop {
        let output = logs::output_file(&launch.dir, &inst.id);
        let shipped_from = logs::length(&output);
        let mut proc = match adopt.take() {
            Some(handle) => Proc::Adopted(handle),
            None => match spawn(inst, launch) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(instance = %inst.id, error = %e, "an instance could not start");
                    in_a_row += 1;
                    inst.set(|i| {
                        i.last_exit = Some(e);
                        i.state = restarting_state(in_a_row);
                    });
                    if wait_or_stop(inst, backoff(in_a_row)).await {
                        return;
                    }
                    continue;
                }
            },
        };
        let handle = proc.handle().clone();
        *lock(&inst.handle) = Some(handle.clone());
        let began = Instant::now();
        inst.set(|i| {
            i.pid = u32::try_from(handle.pgid).ok();
            i.started_at = Some(Utc::now());
            i.state = InstanceState::Starting;
        });
        (launch.changed)();
        let shipper = launch
            .logs
            .clone()
            .map(|l| logs::ship(l, output.clone(), shipped_from, &inst.id));
        let how = tokio::select! {
            how = run_until_exit(inst, spec, &mut proc) => how,
            () = inst.stop.cancelled() => {
                inst.set(|i| i.state = InstanceState::Stopping);
                inst.ready.send_replace(false);
                terminate(&mut proc, spec.stop_grace).await;
                if let Some(s) = shipper { s.finish().await; }
                inst.set(|i| i.pid = None);
                return;
            }
        };
        inst.ready.send_replace(false);
        handle.kill_leftovers();
        if let Some(s) = shipper {
            s.finish().await;
        }
        if began.elapsed() >= HEALTHY_RUN {
            in_a_row = 0;
        }
        in_a_row += 1;
        tracing::info!(instance = %inst.id, exit = %how, "an instance exited; restarting it");
        inst.set(|i| {
            i.pid = None;
            i.restarts += 1;
            i.last_exit = Some(how);
            i.state = restarting_state(in_a_row);
        });
        if wait_or_stop(inst, backoff(in_a_row)).await {
            return;
        }
    }
}

fn restarting_state(in_a_row: u32) -> InstanceState {
    if in_a_row >= CRASH_LOOP_AFTER {
        InstanceState::CrashLoop
    } else {
        InstanceState::Restarting
    }
}

/// Sleeps `delay` unless stopped first (true: stopped).
async fn wait_or_stop(inst: &Instance, delay: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        () = inst.stop.cancelled() => true,
    }
}

/// Tells readiness, then waits for the process to exit; how it ended.
async fn run_until_exit(inst: &Instance, spec: &WorkloadSpec, proc: &mut Proc) -> String {
    let mut told = false;
    loop {
        tokio::select! {
            how = proc.exited() => return how,
            () = until_ready(inst, spec), if !told => {
                told = true;
                inst.set(|i| i.state = InstanceState::Ready);
                inst.ready.send_replace(true);
            }
        }
    }
}

/// How many proxied connections `inst` serves now.
pub(crate) fn active(inst: &Instance) -> usize {
    inst.active.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_its_ceiling() {
        assert_eq!(backoff(1), BACKOFF_FIRST);
        assert_eq!(backoff(2), BACKOFF_FIRST * 2);
        assert_eq!(backoff(4), BACKOFF_FIRST * 8);
        assert_eq!(backoff(40), BACKOFF_MAX);
        assert_eq!(
            restarting_state(CRASH_LOOP_AFTER - 1),
            InstanceState::Restarting
        );
        assert_eq!(restarting_state(CRASH_LOOP_AFTER), InstanceState::CrashLoop);
    }
}
