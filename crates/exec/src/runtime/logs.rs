//! Instances' output: each process writes to `output.log` in its
//! instance's directory (a file, so that it outlives the server), and a
//! shipper copies new complete lines from there into the log store, as
//! the lines of a job's log (masked like every log). Idle files are
//! looked at less and less often ([`IDLE_MAX`]).

use slipway_core::{Clock, EventBus, LogKey, LogSink, LogWriter, Masker, NewLine, Stream};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How soon a file that just grew is looked at again.
const BUSY: Duration = Duration::from_millis(50);

/// How seldom an idle file is looked at, at most.
const IDLE_MAX: Duration = Duration::from_secs(1);

/// The most bytes shipped in one store call.
const CHUNK: usize = 256 * 1024;

/// The output file of instance `id` in workload directory `dir`.
pub(crate) fn output_file(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.log"))
}

/// How long `file` is now (0 when it does not exist).
pub(crate) fn length(file: &Path) -> u64 {
    std::fs::metadata(file).map(|m| m.len()).unwrap_or(0)
}

/// Where instances' logs go.
#[derive(Clone)]
pub(crate) struct Shipping {
    pub sink: Arc<dyn LogSink>,
    pub events: EventBus,
    pub clock: Arc<dyn Clock>,
    /// The run and job prefix: instance `id` logs to job `<job>/<id>`.
    pub key: LogKey,
    pub masker: Masker,
}

impl std::fmt::Debug for Shipping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shipping")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A running shipper of one process's output.
#[derive(Debug)]
pub(crate) struct Shipper {
    done: CancellationToken,
    task: JoinHandle<()>,
}

impl Shipper {
    /// Ships what is left (an unfinished last line included) and stops.
    pub async fn finish(self) {
        self.done.cancel();
        let _ = self.task.await;
    }
}

/// Starts shipping `file` from byte `start` (its length before the
/// process was started: what an earlier process wrote was shipped by that
/// process's shipper) for instance `id`.
pub(crate) fn ship(shipping: Shipping, file: PathBuf, start: u64, id: &str) -> Shipper {
    let key = LogKey::new(
        shipping.key.run.clone(),
        format!("{}/{id}", shipping.key.job),
    );
    let writer = LogWriter::new(
        key,
        shipping.sink,
        shipping.events,
        shipping.clock,
        shipping.masker,
    );
    let done = CancellationToken::new();
    let stop = done.clone();
    let task = tokio::spawn(async move {
        let mut offset = start;
        let mut pending = Vec::new();
        let mut wait = BUSY;
        loop {
            let finishing = stop.is_cancelled();
            // A length check here; the read itself, when there is
            // something to read, on a blocking thread.
            let grew = if length(&file) == offset {
                false
            } else {
                let (path, mut at, mut buf) = (file.clone(), offset, std::mem::take(&mut pending));
                let read = tokio::task::spawn_blocking(move || {
                    let grew = read_new(&path, &mut at, &mut buf);
                    (grew, at, buf)
                })
                .await;
                match read {
                    Ok((grew, at, buf)) => {
                        offset = at;
                        pending = buf;
                        grew
                    }
                    Err(_) => false,
                }
            };
            let lines = complete_lines(&mut pending, finishing);
            if !lines.is_empty() {
                let at = writer.now();
                let batch = lines
                    .into_iter()
                    .map(|text| NewLine {
                        stream: Stream::Stdout,
                        at,
                        text,
                    })
                    .collect();
                if let Err(e) = writer.lines(batch).await {
                    tracing::warn!(error = %e, "an instance's output could not be stored");
                }
            }
            if finishing {
                return;
            }
            wait = if grew { BUSY } else { (wait * 2).min(IDLE_MAX) };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => {}
            }
        }
    });
    Shipper { done, task }
}

/// Appends what `file` holds past `offset` (at most [`CHUNK`]) to
/// `pending`; whether anything was read.
fn read_new(file: &Path, offset: &mut u64, pending: &mut Vec<u8>) -> bool {
    let Ok(mut f) = std::fs::File::open(file) else {
        return false;
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len < *offset {
        // Truncated by hand: start over.
        *offset = 0;
    }
    if len == *offset || f.seek(SeekFrom::Start(*offset)).is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let want = usize::try_from(len - *offset).unwrap_or(CHUNK).min(CHUNK);
    if (&mut f).take(want as u64).read_to_end(&mut buf).is_err() {
        return false;
    }
    *offset += buf.len() as u64;
    pending.extend_from_slice(&buf);
    !buf.is_empty()
}

/// The complete lines at the front of `pending` (all of it when `all`),
/// without their line ends, decoded lossily.
fn complete_lines(pending: &mut Vec<u8>, all: bool) -> Vec<String> {
    let cut = if all {
        pending.len()
    } else {
        match pending.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None => return Vec::new(),
        }
    };
    let taken: Vec<u8> = pending.drain(..cut).collect();
    String::from_utf8_lossy(&taken)
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_lines_leave_unless_finishing() {
        let mut pending = b"one\r\ntwo\nthr".to_vec();
        assert_eq!(complete_lines(&mut pending, false), ["one", "two"]);
        assert_eq!(pending, b"thr");
        assert!(complete_lines(&mut pending, false).is_empty());
        assert_eq!(complete_lines(&mut pending, true), ["thr"]);
        assert!(pending.is_empty());
    }
}
