//! `LogSink` on SQL: a job's log is a sequence of chunks, one row per
//! appended batch (`run_id, job, first_seq, last_seq, body`).
//!
//! A batch of lines is written in one short transaction, so a job printing
//! 100 MB writes a few thousand rows rather than a million, and readers and
//! other writers get the database between batches. Reading the last N lines
//! walks chunks backwards from the end (`ORDER BY first_seq DESC`) and stops
//! as soon as N lines are in hand; resuming after a `seq` starts at the
//! chunk whose `last_seq` is past it. Both use the primary key.
//!
//! Body encoding, one line per log line: the stream letter (`o`, `e`, `s`),
//! the time in microseconds since the epoch, a space, then the text (which
//! never holds a newline).

use crate::db::{AnyConnection, Db};
use crate::error::DbError;
use crate::schema::log_chunks;
use crate::sql::{Arg, Sql};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use slipway_core::{LogKey, LogLine, LogSink, NewLine, StoreError, Stream};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// How many chunk rows a read fetches per round trip.
const CHUNK_PAGE: i64 = 32;

/// How many logs' in-process state is kept before idle ones are dropped.
const KEPT_STATES: usize = 256;

#[derive(Debug)]
struct KeyState {
    /// The last stored `seq`; `None` until the first append of this
    /// process finds it in the database.
    last: Mutex<Option<u64>>,
    /// Made when somebody first subscribes (most logs are never watched
    /// live, and a channel's buffer is allocated whole).
    live: Mutex<Option<broadcast::Sender<LogLine>>>,
}

impl KeyState {
    fn watched(&self) -> bool {
        lock(&self.live)
            .as_ref()
            .is_some_and(|l| l.receiver_count() > 0)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The SQL log sink.
#[derive(Debug, Clone)]
pub struct SqlLogSink {
    db: Db,
    keys: Arc<Mutex<HashMap<LogKey, Arc<KeyState>>>>,
}

impl SqlLogSink {
    /// A log sink on `db`.
    pub fn new(db: Db) -> Self {
        SqlLogSink {
            db,
            keys: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn state(&self, key: &LogKey) -> Arc<KeyState> {
        let mut keys = lock(&self.keys);
        if keys.len() >= KEPT_STATES && !keys.contains_key(key) {
            // Drop the state of logs nobody is appending to (only an append
            // in progress holds a second reference, and appends take their
            // state under this lock) or watching; their next append finds
            // its numbering in the database again.
            keys.retain(|_, st| Arc::strong_count(st) > 1 || st.watched());
        }
        keys.entry(key.clone())
            .or_insert_with(|| {
                Arc::new(KeyState {
                    last: Mutex::new(None),
                    live: Mutex::new(None),
                })
            })
            .clone()
    }

    /// How many logs have in-process state (bounded near `KEPT_STATES`
    /// plus the logs being written or watched).
    pub fn states(&self) -> usize {
        lock(&self.keys).len()
    }
}

fn stream_letter(s: Stream) -> char {
    match s {
        Stream::Stdout => 'o',
        Stream::Stderr => 'e',
        Stream::System => 's',
    }
}

#[cfg(test)]
fn encode(lines: &[LogLine]) -> String {
    encode_parts(lines.iter().map(|l| (l.stream, l.at, l.text.as_str())))
}

fn encode_parts<'a>(
    lines: impl Iterator<Item = (Stream, DateTime<Utc>, &'a str)> + Clone,
) -> String {
    let mut body = String::with_capacity(lines.clone().map(|(_, _, t)| t.len() + 20).sum());
    for (stream, at, text) in lines {
        body.push(stream_letter(stream));
        let _ = write!(body, "{} ", at.timestamp_micros());
        if text.contains('\n') {
            body.push_str(&text.replace('\n', " "));
        } else {
            body.push_str(text);
        }
        body.push('\n');
    }
    body
}

#[derive(QueryableByName)]
struct Prev {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    prev: i64,
}

/// Inserts the chunk numbered after the log's stored lines, in one
/// statement; returns the seq of the line before it.
fn first_append(c: &mut AnyConnection, k: &LogKey, count: u64, body: &str) -> Result<u64, DbError> {
    let mut q = Sql::default();
    let (run, job) = (
        q.arg(Arg::Text(k.run.as_str().to_owned())),
        q.arg(Arg::Text(k.job.clone())),
    );
    let n = q.arg(Arg::Int(i32::try_from(count).unwrap_or(i32::MAX)));
    let body = q.arg(Arg::Text(body.to_owned()));
    q.text = format!(
        "INSERT INTO log_chunks (run_id, job, first_seq, last_seq, body) \
         SELECT {run}, {job}, COALESCE(MAX(last_seq), 0) + 1, COALESCE(MAX(last_seq), 0) + {n}, {body} \
         FROM log_chunks WHERE run_id = {run} AND job = {job} \
         RETURNING first_seq - 1 AS prev"
    );
    let row: Prev = q.get_result(c)?;
    Ok(u64::try_from(row.prev).unwrap_or(0))
}

fn decode(first_seq: i64, body: &str) -> Result<Vec<LogLine>, DbError> {
    let bad = || DbError::Corrupt(format!("log chunk starting at {first_seq}"));
    let first = u64::try_from(first_seq).map_err(|_| bad())?;
    body.split_terminator('\n')
        .enumerate()
        .map(|(i, line)| {
            let stream = match line.as_bytes().first() {
                Some(b'o') => Stream::Stdout,
                Some(b'e') => Stream::Stderr,
                Some(b's') => Stream::System,
                _ => return Err(bad()),
            };
            let rest = &line[1..];
            let sp = rest.find(' ').ok_or_else(bad)?;
            let micros: i64 = rest[..sp].parse().map_err(|_| bad())?;
            let at = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
            Ok(LogLine {
                seq: first + i as u64,
                stream,
                at,
                text: rest[sp + 1..].to_owned(),
            })
        })
        .collect()
}

fn seq_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl LogSink for SqlLogSink {
    async fn append(&self, key: &LogKey, lines: Vec<NewLine>) -> Result<Vec<LogLine>, StoreError> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let state = self.state(key);
        let db = self.db.clone();
        let k = key.clone();
        let st = state.clone();
        let stored = tokio::task::spawn_blocking(move || -> Result<Vec<LogLine>, DbError> {
            // One writer per log at a time keeps seq numbers dense.
            let mut last = lock(&st.last);
            let lines: Vec<_> = lines.into_iter().collect();
            let count = lines.len() as u64;
            let body = encode_parts(lines.iter().map(|l| (l.stream, l.at, l.text.as_str())));
            let prev = match *last {
                Some(prev) => {
                    db.write_one_blocking(|c| {
                        diesel::insert_into(log_chunks::table)
                            .values((
                                log_chunks::run_id.eq(k.run.as_str()),
                                log_chunks::job.eq(&k.job),
                                log_chunks::first_seq.eq(seq_i64(prev + 1)),
                                log_chunks::last_seq.eq(seq_i64(prev + count)),
                                log_chunks::body.eq(&body),
                            ))
                            .execute(c)?;
                        Ok(())
                    })?;
                    prev
                }
                // The first append of this process to this log: numbering
                // continues after what is stored (an earlier attempt, a
                // previous process), found by the insert itself.
                None => db.write_one_blocking(|c| first_append(c, &k, count, &body))?,
            };
            let end = prev + count;
            let stored: Vec<LogLine> = (prev + 1..)
                .zip(lines)
                .map(|(seq, l)| LogLine {
                    seq,
                    stream: l.stream,
                    at: l.at,
                    text: l.text,
                })
                .collect();
            *last = Some(end);
            Ok(stored)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("log task: {e}")))??;
        if let Some(live) = lock(&state.live).as_ref()
            && live.receiver_count() > 0
        {
            for l in &stored {
                let _ = live.send(l.clone());
            }
        }
        Ok(stored)
    }

    async fn read_after(
        &self,
        key: &LogKey,
        after: u64,
        limit: usize,
    ) -> Result<Vec<LogLine>, StoreError> {
        let k = key.clone();
        Ok(self
            .db
            .read(move |c| {
                let mut out = Vec::new();
                let mut cursor = seq_i64(after);
                loop {
                    let rows: Vec<(i64, i64, String)> = log_chunks::table
                        .filter(
                            log_chunks::run_id
                                .eq(k.run.as_str())
                                .and(log_chunks::job.eq(&k.job))
                                .and(log_chunks::last_seq.gt(cursor)),
                        )
                        .order(log_chunks::first_seq.asc())
                        .select((
                            log_chunks::first_seq,
                            log_chunks::last_seq,
                            log_chunks::body,
                        ))
                        .limit(CHUNK_PAGE)
                        .load(c)?;
                    let done = (rows.len() as i64) < CHUNK_PAGE;
                    for (first, last, body) in rows {
                        cursor = last;
                        for line in decode(first, &body)? {
                            if line.seq > after {
                                out.push(line);
                                if limit > 0 && out.len() >= limit {
                                    return Ok(out);
                                }
                            }
                        }
                    }
                    if done {
                        return Ok(out);
                    }
                }
            })
            .await?)
    }

    async fn tail(&self, key: &LogKey, n: usize) -> Result<Vec<LogLine>, StoreError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let k = key.clone();
        Ok(self
            .db
            .read(move |c| {
                let mut chunks: Vec<Vec<LogLine>> = Vec::new();
                let mut have = 0usize;
                let mut before = i64::MAX;
                loop {
                    let rows: Vec<(i64, String)> = log_chunks::table
                        .filter(
                            log_chunks::run_id
                                .eq(k.run.as_str())
                                .and(log_chunks::job.eq(&k.job))
                                .and(log_chunks::first_seq.lt(before)),
                        )
                        .order(log_chunks::first_seq.desc())
                        .select((log_chunks::first_seq, log_chunks::body))
                        .limit(CHUNK_PAGE)
                        .load(c)?;
                    let done = (rows.len() as i64) < CHUNK_PAGE;
                    for (first, body) in rows {
                        before = first;
                        let lines = decode(first, &body)?;
                        have += lines.len();
                        chunks.push(lines);
                        if have >= n {
                            break;
                        }
                    }
                    if done || have >= n {
                        break;
                    }
                }
                let mut all: Vec<LogLine> = chunks.into_iter().rev().flatten().collect();
                let skip = all.len().saturating_sub(n);
                all.drain(..skip);
                Ok(all)
            })
            .await?)
    }

    fn subscribe(&self, key: &LogKey) -> broadcast::Receiver<LogLine> {
        lock(&self.state(key).live)
            .get_or_insert_with(|| broadcast::channel(slipway_core::memory::LIVE_CAPACITY).0)
            .subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_bodies_round_trip() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let lines = vec![
            LogLine {
                seq: 7,
                stream: Stream::Stdout,
                at,
                text: "hello world".into(),
            },
            LogLine {
                seq: 8,
                stream: Stream::Stderr,
                at,
                text: "".into(),
            },
            LogLine {
                seq: 9,
                stream: Stream::System,
                at,
                text: "tab\there 5 x".into(),
            },
        ];
        assert_eq!(decode(7, &encode(&lines)).unwrap(), lines);
        assert!(decode(1, "x12 a\n").is_err());
    }
}
