//! Helpers shared by the integration tests: a job's log on the in-memory
//! sink, a `JobContext` around a temporary workspace, and process liveness
//! read from `/proc` (a killed grandchild may stay a zombie forever here,
//! so `kill(pid, 0)` would say it lives).
#![allow(dead_code, clippy::unwrap_used)]

use slipway_core::{
    EventBus, HandleRecorder, JobContext, LogKey, LogLine, LogSink, LogWriter, Masker,
    MemoryLogSink, NewLine, Outputs, RunId, Stream, SystemClock, async_trait,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// A temporary workspace and scratch directory, and a job log on `sink`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub workspace: PathBuf,
    pub scratch: PathBuf,
    pub sink: Arc<dyn LogSink>,
    pub key: LogKey,
    pub log: LogWriter,
    pub masker: Masker,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with(Arc::new(MemoryLogSink::new()), Masker::none())
    }

    pub fn with_secrets(secrets: &[&str]) -> Self {
        Self::with(Arc::new(MemoryLogSink::new()), Masker::new(secrets))
    }

    pub fn with(sink: Arc<dyn LogSink>, masker: Masker) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("workspace");
        let scratch = dir.path().join("scratch");
        std::fs::create_dir_all(&workspace).unwrap();
        std::fs::create_dir_all(&scratch).unwrap();
        let key = LogKey::new(RunId::new(), "job");
        let log = LogWriter::new(
            key.clone(),
            sink.clone(),
            EventBus::default(),
            Arc::new(SystemClock),
            masker.clone(),
        );
        Fixture {
            dir,
            workspace,
            scratch,
            sink,
            key,
            log,
            masker,
        }
    }

    /// A context for a job with `spec` and `env`.
    pub fn ctx(&self, spec: serde_json::Value, env: BTreeMap<String, String>) -> JobContext {
        JobContext {
            run_id: self.key.run.clone(),
            stage: "stage".into(),
            job: self.key.job.clone(),
            attempt: 1,
            spec,
            workspace: self.workspace.clone(),
            scratch: self.scratch.join("attempt"),
            outputs_file: self.scratch.join("outputs"),
            env,
            params: BTreeMap::new(),
            masker: self.masker.clone(),
            log: self.log.clone(),
            cancel: CancellationToken::new(),
            outputs: Outputs::default(),
            handle: HandleRecorder::detached(),
        }
    }

    pub async fn lines(&self) -> Vec<LogLine> {
        self.sink.read_all(&self.key).await.unwrap()
    }

    pub async fn texts(&self) -> Vec<String> {
        self.lines().await.into_iter().map(|l| l.text).collect()
    }

    pub async fn stream(&self, stream: Stream) -> Vec<String> {
        self.lines()
            .await
            .into_iter()
            .filter(|l| l.stream == stream)
            .map(|l| l.text)
            .collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.sink.subscribe(&self.key)
    }
}

/// Waits (up to 30 s) for a live log line with exactly `text`.
pub async fn wait_for_line(rx: &mut broadcast::Receiver<LogLine>, text: &str) {
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match rx.recv().await {
                Ok(line) if line.text == text => return,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("log closed"),
            }
        }
    })
    .await;
    assert!(found.is_ok(), "no log line `{text}` within 30 s");
}

/// `/proc/PID/stat` fields: (state, process group). `None`: no such process.
pub fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let _ppid = f.next()?;
    let pgrp = f.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// Alive means: listed in /proc and not a zombie.
pub fn alive(pid: i32) -> bool {
    matches!(proc_stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// Live (non-zombie) processes whose process group is `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(
            |&pid| matches!(proc_stat(pid), Some((st, g)) if g == pgid && st != 'Z' && st != 'X'),
        )
        .collect()
}

/// Pids listed one per line in `path`.
pub fn read_pids(path: &std::path::Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

/// A log sink that counts `append` calls and takes a millisecond per call,
/// like a database would.
#[derive(Debug, Default)]
pub struct SlowCountingSink {
    pub inner: MemoryLogSink,
    pub calls: AtomicUsize,
    pub largest: AtomicUsize,
}

#[async_trait]
impl LogSink for SlowCountingSink {
    async fn append(
        &self,
        key: &LogKey,
        lines: Vec<NewLine>,
    ) -> Result<Vec<LogLine>, slipway_core::StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.largest.fetch_max(lines.len(), Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.inner.append(key, lines).await
    }

    async fn read_after(
        &self,
        key: &LogKey,
        after: u64,
        limit: usize,
    ) -> Result<Vec<LogLine>, slipway_core::StoreError> {
        self.inner.read_after(key, after, limit).await
    }

    async fn tail(&self, key: &LogKey, n: usize) -> Result<Vec<LogLine>, slipway_core::StoreError> {
        self.inner.tail(key, n).await
    }

    fn subscribe(&self, key: &LogKey) -> broadcast::Receiver<LogLine> {
        self.inner.subscribe(key)
    }
}
