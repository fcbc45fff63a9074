//! The process runner: starts one program in its own process group,
//! streams its output into a job's log and stops the whole group when the
//! job is cancelled or when the program ends.
//!
//! - **Environment**: cleared, then [`PASS_THROUGH_ENV`] copied from the
//!   server's own environment, then [`ProcessSpec::env`] (which wins).
//!   Standard input is `/dev/null`.
//! - **Output**: standard output and standard error are read as bytes, line
//!   by line; lines are decoded lossily (invalid UTF-8 becomes `U+FFFD`),
//!   lose their final `\n` / `\r\n`, and lines longer than [`MAX_LINE`]
//!   bytes are split (never inside a secret: the cut moves back before
//!   it, see `Masker::split_point`). A last line without a final newline
//!   is kept. The lines one read completes are stamped with the log's
//!   clock at that read and handed together to one writer that stores what
//!   accumulates within 5 ms as one batch ([`LogWriter::lines`], which
//!   also masks secrets).
//! - **Stopping**: on cancel the group gets `SIGTERM`; once the group is
//!   gone or [`ProcessSpec::kill_grace`] has passed, it gets `SIGKILL`.
//!   When the program itself ends, whatever is left of its group is killed
//!   at once: background processes of a job do not outlive it. Then the
//!   pipes are drained, with a bounded wait in case a process that left the
//!   group still holds them open.
//! - **Program lookup**: a program name without a `/` is looked up in the
//!   `PATH` the process will see (its own env first, else the server's),
//!   before spawning, as `execvp` would. Passing the full path lets the
//!   standard library start the process with `posix_spawn` instead of
//!   `fork`, which copies the server's page tables for every job.
//! - **Liveness** of group members is read from `/proc/PID/stat`: a killed
//!   grandchild is reparented to PID 1, which may never reap it, so a
//!   zombie (`Z`) counts as dead and `kill(pid, 0)` would lie.

use crate::error::ExecError;
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use slipway_core::{HandleRecorder, LogWriter, Masker, NewLine, StoreError, Stream};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Variables copied from the server's environment into every process (when
/// set there); everything else the process sees comes from
/// [`ProcessSpec::env`].
pub const PASS_THROUGH_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SHELL",
];

/// Longest line stored as one log line, in bytes; longer lines are split
/// (at a UTF-8 character boundary).
pub const MAX_LINE: usize = 64 * 1024;

/// Most lines handed to the log writer in one call. A store pays per
/// write (a transaction, a commit flushed to disk), not per line: a job
/// printing 100 MB of short lines is written in about a hundred calls
/// rather than a thousand.
pub const MAX_BATCH_LINES: usize = 8 * 1024;

/// Most text (bytes) handed to the log writer in one call (a batch holds at
/// least one line).
const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// How long the log writer gathers lines into one batch, at most; the
/// batch goes out earlier when it is full or the process has ended.
const BATCH_WINDOW: Duration = Duration::from_millis(5);

/// Reads (each up to [`MAX_LINE`] bytes of output, handed over as the lines
/// they complete) waiting to be stored; when full, reading pauses and the
/// process blocks on its next write. About 2 MiB: the next batch gathers
/// while one is written.
const CHANNEL_READS: usize = 32;

/// After the program ended and its group was killed: give up on a pipe
/// that has been silent this long (a process outside the group holds it).
const DRAIN_IDLE: Duration = Duration::from_secs(2);

/// After the program ended and its group was killed: give up draining the
/// pipes after this long in any case.
const DRAIN_MAX: Duration = Duration::from_secs(10);

/// How often the group is checked while it has its grace period.
const GROUP_POLL: Duration = Duration::from_millis(20);

/// How long [`run_process`] waits for its group's `SIGKILL` to take effect
/// (a moment: the kernel delivers it at once, but not synchronously).
const GROUP_GONE_WAIT: Duration = Duration::from_secs(2);

/// What to run, where, and how patiently to stop it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// The program: a path, or a name looked up in the `PATH` of the
    /// process's environment.
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Environment on top of [`PASS_THROUGH_ENV`]; wins over it.
    pub env: BTreeMap<String, String>,
    /// The working directory (it must exist).
    pub cwd: PathBuf,
    /// How long the group has after `SIGTERM` before `SIGKILL`.
    pub kill_grace: Duration,
}

impl ProcessSpec {
    /// `program` in `cwd`, with no arguments, no extra environment and a
    /// grace of 5 seconds.
    pub fn new(program: impl Into<OsString>, cwd: impl Into<PathBuf>) -> Self {
        ProcessSpec {
            program: program.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: cwd.into(),
            kill_grace: Duration::from_secs(5),
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Sets the grace period between `SIGTERM` and `SIGKILL`.
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    fn program_text(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// It exited with this code.
    Code(i32),
    /// A signal with this number killed it.
    Signal(i32),
}

impl ExitKind {
    fn from_status(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitKind::Code(code),
            (None, Some(sig)) => ExitKind::Signal(sig),
            // A waited-for process has either; keep something visible.
            (None, None) => ExitKind::Code(-1),
        }
    }

    /// True for exit code 0.
    pub fn success(self) -> bool {
        self == ExitKind::Code(0)
    }

    /// The signal's name (`SIGKILL`), or its number when unknown.
    pub fn signal_name(sig: i32) -> String {
        Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_owned())
    }
}

/// What [`run_process`] observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessExit {
    /// The process id (also its process group id).
    pub pid: u32,
    /// How it ended.
    pub exit: ExitKind,
    /// True when it was stopped because `cancel` fired.
    pub cancelled: bool,
}

/// Runs `spec` to its end, writing its output to `log`; stops the process
/// group when `cancel` fires (see the module docs). Returns how the
/// process ended; an error when it could not be started or waited for, or
/// when the log store refused lines (the process still ran to its end).
pub async fn run_process(
    spec: &ProcessSpec,
    log: &LogWriter,
    cancel: &CancellationToken,
) -> Result<ProcessExit, ExecError> {
    run_process_recorded(spec, log, cancel, &HandleRecorder::detached()).await
}

/// [`run_process`], recording the process group's [`GroupHandle`] in
/// `handle` when it starts, so that a server that dies while the group
/// runs can kill it when it starts again.
pub async fn run_process_recorded(
    spec: &ProcessSpec,
    log: &LogWriter,
    cancel: &CancellationToken,
    handle: &HandleRecorder,
) -> Result<ProcessExit, ExecError> {
    run_process_announced(spec, log, cancel, handle, None).await
}

/// [`run_process_recorded`], with a system line (`$ step build`) logged
/// before any of the process's output. It is written while the process
/// group is being recorded, after the spawn: the two writes share one
/// wait instead of two.
pub async fn run_process_announced(
    spec: &ProcessSpec,
    log: &LogWriter,
    cancel: &CancellationToken,
    handle: &HandleRecorder,
    announce: Option<&str>,
) -> Result<ProcessExit, ExecError> {
    let mut cmd = Command::new(resolve_program(spec));
    // The program sees the name it was given as `$0`, as with `execvp`.
    cmd.arg0(&spec.program);
    cmd.args(&spec.args)
        .current_dir(&spec.cwd)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for key in PASS_THROUGH_ENV {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    cmd.envs(&spec.env);

    let started = cmd
        .spawn()
        .map_err(|source| ExecError::Spawn {
            program: spec.program_text(),
            source,
        })
        .and_then(|child| match child.id() {
            Some(pid) => Ok((child, pid)),
            None => Err(ExecError::NoPid {
                program: spec.program_text(),
            }),
        });
    let (mut child, pid) = match started {
        Ok(x) => x,
        Err(e) => {
            // Say what did not start before the caller says why.
            if let Some(text) = announce {
                let _ = log.line(Stream::System, text).await;
            }
            return Err(e);
        }
    };
    // The child leads its own group: its pid is the group id.
    let mut group = Group::new(pid);
    // The handle stays until the next step replaces it or the job ends
    // (a job's terminal status change clears it): a handle of a group
    // that is gone is harmless, `GroupHandle::kill_leftovers` checks.
    let record = async {
        if let Some(Ok(value)) = GroupHandle::of(pid).map(|h| serde_json::to_value(&h))
            && let Err(e) = handle.record(&value).await
        {
            tracing::warn!(pid, "recording the process group for crash recovery: {e}");
        }
    };
    let announced = async {
        if let Some(text) = announce
            && let Err(e) = log.line(Stream::System, text).await
        {
            tracing::warn!(pid, "logging the step's start: {e}");
        }
    };
    // Output is read only after both: the announcement comes first.
    tokio::join!(record, announced);
    tracing::debug!(pid, program = %spec.program_text(), "process started");

    let (tx, rx) = mpsc::channel(CHANNEL_READS);
    let writer = Task(tokio::spawn(write_lines(rx, log.clone())));
    let exited = CancellationToken::new();
    let mut readers = Vec::with_capacity(2);
    if let Some(out) = child.stdout.take() {
        readers.push(Task(tokio::spawn(read_lines(
            out,
            Stream::Stdout,
            log.clone(),
            tx.clone(),
            exited.clone(),
        ))));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(Task(tokio::spawn(read_lines(
            err,
            Stream::Stderr,
            log.clone(),
            tx.clone(),
            exited.clone(),
        ))));
    }
    drop(tx);

    let waited = supervise(&mut child, &group, spec.kill_grace, cancel).await;
    // Whatever is left of the group goes now, whether the program ended by
    // itself or not: this also closes the pipes those processes held.
    group.finish();
    group.wait_gone(GROUP_GONE_WAIT).await;
    exited.cancel();
    let (status, cancelled) = waited.map_err(|source| ExecError::Wait { pid, source })?;

    // Drain what is still in the pipes, boundedly.
    let drain = join_all(&mut readers);
    if tokio::time::timeout(DRAIN_MAX, drain).await.is_err() {
        tracing::warn!(
            pid,
            "output pipes still open after the process group ended; giving up on them"
        );
    }
    drop(readers);
    let stored = match writer.join().await {
        Some(r) => r,
        None => Ok(()),
    };
    let exit = ExitKind::from_status(status);
    tracing::debug!(pid, ?exit, cancelled, "process ended");
    stored?;
    Ok(ProcessExit {
        pid,
        exit,
        cancelled,
    })
}

/// The program to start: `spec.program` itself when it names a path (has a
/// `/`) or cannot be found, else the first executable regular file of that
/// name in the `PATH` the process will see. Not finding it is left to the
/// spawn, which then reports the error with the name as given.
pub(crate) fn resolve_program(spec: &ProcessSpec) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let name = spec.program.as_os_str();
    if name.is_empty() || name.as_bytes().contains(&b'/') {
        return spec.program.clone();
    }
    let path = match spec.env.get("PATH") {
        Some(p) => OsString::from(p),
        None => match std::env::var_os("PATH") {
            Some(p) => p,
            None => return spec.program.clone(),
        },
    };
    for dir in std::env::split_paths(&path) {
        // An empty entry means the current directory, which `execvp`
        // would resolve against the child's working directory.
        let dir = if dir.as_os_str().is_empty() {
            spec.cwd.clone()
        } else {
            dir
        };
        let candidate = dir.join(name);
        if let Ok(meta) = std::fs::metadata(&candidate)
            && meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
        {
            return candidate.into_os_string();
        }
    }
    spec.program.clone()
}

/// Waits for the child; on cancel, stops its group (TERM, grace, KILL).
async fn supervise(
    child: &mut Child,
    group: &Group,
    grace: Duration,
    cancel: &CancellationToken,
) -> std::io::Result<(ExitStatus, bool)> {
    tokio::select! {
        status = child.wait() => return Ok((status?, false)),
        () = cancel.cancelled() => {}
    }
    tracing::debug!(pgid = group.pgid, "cancelled: SIGTERM to the process group");
    group.kill(Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    let status = match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(status) => status?,
        Err(_) => {
            tracing::debug!(
                pgid = group.pgid,
                "grace over: SIGKILL to the process group"
            );
            group.kill(Signal::SIGKILL);
            return Ok((child.wait().await?, true));
        }
    };
    // The program is gone; the rest of its group gets what is left of
    // the grace to finish its own cleanup.
    while group.has_members() && Instant::now() < deadline {
        tokio::time::sleep(GROUP_POLL.min(deadline.saturating_duration_since(Instant::now())))
            .await;
    }
    Ok((status, true))
}

/// A process group that gets `SIGKILL` when this value is dropped before
/// [`Group::finish`], so that an abandoned [`run_process`] future leaves
/// nothing running.
#[derive(Debug)]
struct Group {
    pgid: i32,
    finished: bool,
}

impl Group {
    fn new(pid: u32) -> Self {
        Group {
            pgid: i32::try_from(pid).unwrap_or(i32::MAX),
            finished: false,
        }
    }

    /// Kills what is left of the group, once: after this the group id may
    /// be reused by the system, so it is not signalled again.
    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.kill(Signal::SIGKILL);
        }
    }

    fn kill(&self, signal: Signal) {
        match killpg(Pid::from_raw(self.pgid), signal) {
            // ESRCH: the group is gone already.
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => tracing::warn!(pgid = self.pgid, %signal, "killpg: {e}"),
        }
    }

    /// Waits up to `limit` for the group to have no live member.
    async fn wait_gone(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.has_members() {
            if Instant::now() >= deadline {
                tracing::warn!(pgid = self.pgid, "process group still alive after SIGKILL");
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// True while a live (not zombie) process belongs to the group. Without
    /// a readable `/proc`, the group is assumed gone.
    fn has_members(&self) -> bool {
        // Cheap first answer: no process at all, zombie or not, is in the
        // group (the usual case once the program has been reaped).
        if killpg(Pid::from_raw(self.pgid), None) == Err(Errno::ESRCH) {
            return false;
        }
        live_processes().iter().any(|(_, st)| st.pgrp == self.pgid)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.finish();
    }
}

fn is_dead_state(state: char) -> bool {
    matches!(state, 'Z' | 'X' | 'x')
}

/// What `/proc/PID/stat` says about a process.
#[derive(Debug, Clone, Copy)]
struct ProcStat {
    state: char,
    pgrp: i32,
    /// Clock ticks since boot when the process started.
    start: u64,
}

/// `pid`'s state, process group and start time, from `/proc/PID/stat`;
/// `None` when there is no such process.
fn proc_stat(pid: i32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything; the
    // fields after it start at field 3 (state).
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Every live (not zombie) process as `(pid, stat)`.
fn live_processes() -> Vec<(i32, ProcStat)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, proc_stat(pid)?)))
        .filter(|(_, st)| !is_dead_state(st.state))
        .collect()
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
}

/// What identifies a job's process group across a crash of the server:
/// recorded with the job while the group runs, used at the next start-up
/// to kill what is left of it, after checking it is really ours.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupHandle {
    /// The group id (the pid of the process that leads it).
    pub pgid: i32,
    /// When the leader started, in clock ticks since boot.
    pub start: u64,
    /// The kernel's boot id: after a reboot nothing of the group is left.
    pub boot_id: String,
}

impl GroupHandle {
    /// The handle of the group led by `pid`, while it runs.
    pub fn of(pid: u32) -> Option<GroupHandle> {
        let pgid = i32::try_from(pid).ok()?;
        Some(GroupHandle {
            pgid,
            start: proc_stat(pgid)?.start,
            boot_id: boot_id()?,
        })
    }

    /// Kills (SIGKILL) what is left of the group, when it is really the
    /// one this handle describes, and returns how many processes were
    /// signalled:
    /// - after a reboot (another boot id) nothing can be left: 0;
    /// - when a process with the leader's pid runs but started at another
    ///   time, the pid was reused by something else: it is left alone;
    /// - when the leader runs and started at the recorded time, the whole
    ///   group is killed;
    /// - when the leader is gone, the members of a group with that id that
    ///   started no earlier than the leader are killed one by one (a group
    ///   id is not handed out again while any member lives).
    pub fn kill_leftovers(&self) -> usize {
        if boot_id().as_deref() != Some(self.boot_id.as_str()) {
            return 0;
        }
        let members: Vec<(i32, ProcStat)> = live_processes()
            .into_iter()
            .filter(|(_, st)| st.pgrp == self.pgid)
            .collect();
        match members.iter().find(|(pid, _)| *pid == self.pgid) {
            Some((_, leader)) if leader.start != self.start => 0,
            Some(_) => {
                let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
                members.len()
            }
            None => members
                .iter()
                .filter(|(_, st)| st.start >= self.start)
                .filter(|(pid, _)| {
                    nix::sys::signal::kill(Pid::from_raw(*pid), Signal::SIGKILL).is_ok()
                })
                .count(),
        }
    }

    /// True while the group's leader runs: the same process (same boot,
    /// same start time), not a zombie.
    pub fn leader_alive(&self) -> bool {
        boot_id().as_deref() == Some(self.boot_id.as_str())
            && proc_stat(self.pgid)
                .is_some_and(|st| st.start == self.start && !is_dead_state(st.state))
    }

    /// Sends `signal` to the group, when its leader is still the process
    /// this handle describes (a reused pid is left alone); false when
    /// nothing was signalled.
    pub fn signal(&self, signal: Signal) -> bool {
        self.leader_alive() && killpg(Pid::from_raw(self.pgid), signal).is_ok()
    }

    /// True while a live process is in the group.
    pub fn is_alive(&self) -> bool {
        live_processes().iter().any(|(_, st)| st.pgrp == self.pgid)
    }
}

/// A spawned task that is aborted if this value is dropped first.
#[derive(Debug)]
struct Task<T>(JoinHandle<T>);

impl<T> Task<T> {
    /// The task's result; `None` if it panicked or was aborted.
    async fn join(mut self) -> Option<T> {
        (&mut self.0).await.ok()
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn join_all(tasks: &mut [Task<()>]) {
    for t in tasks.iter_mut() {
        let _ = (&mut t.0).await;
    }
}

/// Reads `pipe` into `tx` until end of file, handing over the lines each
/// read completes together, stamped with the time of that read (one
/// channel message and one clock reading per read, not per line); once
/// `exited` fires, gives up when the pipe stays silent for [`DRAIN_IDLE`].
async fn read_lines<R: AsyncRead + Unpin>(
    pipe: R,
    stream: Stream,
    log: LogWriter,
    tx: mpsc::Sender<Vec<NewLine>>,
    exited: CancellationToken,
) {
    let mut reader = BufReader::with_capacity(MAX_LINE, pipe);
    let mut line = LineSplitter::default();
    loop {
        let chunk = if exited.is_cancelled() {
            match tokio::time::timeout(DRAIN_IDLE, reader.fill_buf()).await {
                Ok(r) => r,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                r = reader.fill_buf() => r,
                () = exited.cancelled() => continue,
            }
        };
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(?stream, "reading process output: {e}");
                break;
            }
        };
        if chunk.is_empty() {
            break;
        }
        let at = log.now();
        let mut lines = Vec::new();
        let used = chunk.len();
        line.split(chunk, log.masker(), |bytes| {
            let text = lossy(bytes);
            lines.push(NewLine { stream, at, text });
        });
        reader.consume(used);
        if !lines.is_empty() && tx.send(lines).await.is_err() {
            return;
        }
    }
    if let Some(rest) = line.finish() {
        let (at, text) = (log.now(), lossy(rest));
        let _ = tx.send(vec![NewLine { stream, at, text }]).await;
    }
}

/// Cuts a byte stream into log lines: at each newline (a `\r` before it
/// dropped), and a line that reaches [`MAX_LINE`] bytes is split, never
/// inside a secret or a UTF-8 character.
#[derive(Default)]
struct LineSplitter {
    /// The line read so far.
    line: Vec<u8>,
    /// Set right after a split line: a newline that comes next ends the
    /// split line and must not produce an empty one.
    after_split: bool,
}

impl LineSplitter {
    /// Takes `chunk` whole, calling `emit` with each line it completes.
    fn split(&mut self, mut chunk: &[u8], masker: &Masker, mut emit: impl FnMut(Vec<u8>)) {
        while let Some(&first) = chunk.first() {
            if self.after_split && self.line.is_empty() && first == b'\n' {
                self.after_split = false;
                chunk = &chunk[1..];
                continue;
            }
            let room = MAX_LINE - self.line.len();
            let window = &chunk[..chunk.len().min(room)];
            let (used, ended) = match window.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.line.extend_from_slice(&window[..i]);
                    (i + 1, true)
                }
                None => {
                    self.line.extend_from_slice(window);
                    (window.len(), false)
                }
            };
            chunk = &chunk[used..];
            if ended {
                self.after_split = false;
                if self.line.last() == Some(&b'\r') {
                    self.line.pop();
                }
                emit(std::mem::take(&mut self.line));
            } else if self.line.len() >= MAX_LINE {
                self.after_split = true;
                // Not inside a secret (masking is per stored line, so
                // halves on two lines would both escape it), nor inside a
                // character.
                let cut = utf8_cut(&self.line[..masker.split_point(&self.line)]);
                let rest = self.line.split_off(cut);
                emit(std::mem::replace(&mut self.line, rest));
            }
        }
    }

    /// What is left once the stream ended: a last line with no newline.
    fn finish(self) -> Option<Vec<u8>> {
        (!self.line.is_empty()).then_some(self.line)
    }
}

/// The text of a line's bytes; invalid UTF-8 becomes `U+FFFD`.
fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Where to split `line` so that no UTF-8 character is cut in two: its
/// length, or the start of an incomplete character at its end.
fn utf8_cut(line: &[u8]) -> usize {
    let len = line.len();
    for back in 1..=len.min(4) {
        let b = line[len - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back
        }
        let needed = match b {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if needed > back && back < len {
            len - back
        } else {
            len
        };
    }
    len
}

/// Stores lines in batches: whatever accumulates within [`BATCH_WINDOW`] of
/// a batch's first line, up to [`MAX_BATCH_LINES`] lines or
/// [`MAX_BATCH_BYTES`] bytes per call (at least one line). After the store
/// fails, lines are read and dropped (so the process never blocks on a full
/// pipe) and the first error is returned at the end.
async fn write_lines(
    mut rx: mpsc::Receiver<Vec<NewLine>>,
    log: LogWriter,
) -> Result<(), StoreError> {
    let mut failed: Option<StoreError> = None;
    // Lines received and not stored yet, and their bytes.
    let mut pending: Vec<NewLine> = Vec::new();
    let mut bytes = 0;
    let mut open = true;
    loop {
        if pending.is_empty() {
            // Once the channel is closed and drained, this is `None`.
            match rx.recv().await {
                Some(lines) => {
                    bytes = text_len(&lines);
                    pending = lines;
                }
                None => break,
            }
        }
        // Gather for at most BATCH_WINDOW: a store pays per write, not per
        // line, and a process that prints fast would otherwise be written
        // a few lines at a time.
        let deadline = Instant::now() + BATCH_WINDOW;
        while open && pending.len() < MAX_BATCH_LINES && bytes < MAX_BATCH_BYTES {
            let more = match rx.try_recv() {
                Ok(more) => more,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(more)) => more,
                        Ok(None) => {
                            open = false;
                            break;
                        }
                        Err(_) => break,
                    }
                }
            };
            bytes += text_len(&more);
            pending.extend(more);
        }
        let batch = take_batch(&mut pending, &mut bytes);
        if failed.is_none()
            && let Err(e) = log.lines(batch).await
        {
            tracing::warn!(log = %log.key(), "storing log lines failed: {e}");
            failed = Some(e);
        }
    }
    failed.map_or(Ok(()), Err)
}

fn text_len(lines: &[NewLine]) -> usize {
    lines.iter().map(|l| l.text.len()).sum()
}

/// The first lines of `pending` that fit in one batch (at least one);
/// `bytes` is kept the text length of what stays.
fn take_batch(pending: &mut Vec<NewLine>, bytes: &mut usize) -> Vec<NewLine> {
    let (mut n, mut taken) = (0, 0);
    for l in pending.iter() {
        if n > 0 && (n == MAX_BATCH_LINES || taken + l.text.len() > MAX_BATCH_BYTES) {
            break;
        }
        n += 1;
        taken += l.text.len();
    }
    let rest = pending.split_off(n);
    *bytes -= taken;
    std::mem::replace(pending, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut splitter = LineSplitter::default();
        let mut out = Vec::new();
        for chunk in chunks {
            splitter.split(chunk, &Masker::none(), |l| out.push(l));
        }
        out.extend(splitter.finish());
        out
    }

    #[test]
    fn lines_are_the_same_however_the_reads_cut_them() {
        let text = b"one\r\ntwo\n\nthree without end";
        let whole = split_all(&[text]);
        let expected: Vec<Vec<u8>> = vec![
            b"one".to_vec(),
            b"two".to_vec(),
            vec![],
            b"three without end".to_vec(),
        ];
        assert_eq!(whole, expected);
        for cut in 0..text.len() {
            let (a, b) = text.split_at(cut);
            assert_eq!(split_all(&[a, b]), expected, "cut at {cut}");
        }
        // A line of MAX_LINE bytes is split there, and the newline right
        // after it makes no empty line.
        let mut long = vec![b'x'; MAX_LINE];
        long.extend_from_slice(b"\nnext\n");
        let lines = split_all(&[&long[..1000], &long[1000..]]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1], b"next");
    }

    #[test]
    fn a_batch_keeps_to_its_limits_and_takes_at_least_one_line() {
        let line = |n: usize| NewLine {
            stream: Stream::Stdout,
            at: slipway_core::Clock::now(&slipway_core::SystemClock),
            text: "x".repeat(n),
        };
        let mut pending: Vec<NewLine> = (0..MAX_BATCH_LINES + 5).map(|_| line(1)).collect();
        let mut bytes = text_len(&pending);
        let batch = take_batch(&mut pending, &mut bytes);
        assert_eq!((batch.len(), pending.len(), bytes), (MAX_BATCH_LINES, 5, 5));
        let mut pending = vec![line(MAX_BATCH_BYTES + 1), line(10)];
        let mut bytes = text_len(&pending);
        let batch = take_batch(&mut pending, &mut bytes);
        assert_eq!((batch.len(), pending.len(), bytes), (1, 1, 10));
        let mut pending = vec![
            line(MAX_BATCH_BYTES / 2),
            line(MAX_BATCH_BYTES / 2),
            line(1),
        ];
        let mut bytes = text_len(&pending);
        let batch = take_batch(&mut pending, &mut bytes);
        assert_eq!((batch.len(), pending.len(), bytes), (2, 1, 1));
    }

    #[test]
    fn utf8_cut_keeps_characters_whole() {
        assert_eq!(utf8_cut(b"abc"), 3);
        assert_eq!(utf8_cut("aé".as_bytes()), 3);
        // "é" is C3 A9: cut before a lone lead byte.
        assert_eq!(utf8_cut(&[b'a', 0xC3]), 1);
        // "€" is E2 82 AC.
        assert_eq!(utf8_cut(&[b'a', 0xE2, 0x82]), 1);
        assert_eq!(utf8_cut(&[b'a', 0xE2, 0x82, 0xAC]), 4);
        // Garbage is not worth carrying: cut at the end.
        assert_eq!(utf8_cut(&[0x80, 0x80, 0x80, 0x80, 0x80]), 5);
    }

    #[test]
    fn proc_stat_reads_this_process() {
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let st = proc_stat(me).unwrap();
        assert!(!is_dead_state(st.state));
        assert!(st.pgrp > 0);
        assert!(st.start > 0);
        let mine = GroupHandle::of(std::process::id()).unwrap();
        assert_eq!(mine.start, st.start);
        assert!(!mine.boot_id.is_empty());
    }
}
