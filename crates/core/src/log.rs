//! Log lines, secret masking and the writer a job kind logs through.

use crate::error::StoreError;
use crate::events::{Event, EventBus};
use crate::ports::{Clock, LogSink};
use crate::record::RunId;
use aho_corasick::{AhoCorasick, MatchKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// The process's standard output.
    Stdout,
    /// The process's standard error.
    Stderr,
    /// A line written by Slipway itself (step headers, retries, ...).
    System,
}

impl Stream {
    /// The word used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
            Stream::System => "system",
        }
    }

    /// Parses the word written by `as_str`.
    pub fn parse(s: &str) -> Option<Stream> {
        match s {
            "stdout" => Some(Stream::Stdout),
            "stderr" => Some(Stream::Stderr),
            "system" => Some(Stream::System),
            _ => None,
        }
    }
}

/// Identifies one job's log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LogKey {
    /// The run.
    pub run: RunId,
    /// The job's name (unique in the run's plan).
    pub job: String,
}

impl LogKey {
    /// The log of `job` in `run`.
    pub fn new(run: RunId, job: impl Into<String>) -> Self {
        LogKey {
            run,
            job: job.into(),
        }
    }
}

impl fmt::Display for LogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.run, self.job)
    }
}

/// A line about to be stored (already masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    /// Its stream.
    pub stream: Stream,
    /// When it was read.
    pub at: DateTime<Utc>,
    /// Its text, without the final newline.
    pub text: String,
}

/// A stored line. `seq` starts at 1 and increases by one per line of the
/// job's log, so a reader can resume after the last `seq` it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Position in the job's log, from 1.
    pub seq: u64,
    /// Its stream.
    pub stream: Stream,
    /// When it was read.
    pub at: DateTime<Utc>,
    /// Its text, without the final newline.
    pub text: String,
}

/// Replaces secret values in log text with `******`.
///
/// A multi-line secret is masked line by line; fragments (or whole
/// secrets) shorter than 4 characters are left alone, because masking
/// them would hide ordinary words and say what the secret is.
#[derive(Clone)]
pub struct Masker {
    matcher: Option<AhoCorasick>,
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Masker")
            .field("active", &self.matcher.is_some())
            .finish()
    }
}

/// What a masked value is replaced with.
pub const MASK: &str = "******";

/// Fragments shorter than this are not masked.
pub const MIN_MASKED_LEN: usize = 4;

impl Masker {
    /// A masker for `secrets`.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut pieces: Vec<String> = secrets
            .into_iter()
            .flat_map(|s| {
                s.as_ref()
                    .lines()
                    .map(|l| l.trim_end_matches('\r').to_owned())
                    .collect::<Vec<_>>()
            })
            .filter(|p| p.chars().count() >= MIN_MASKED_LEN)
            .collect();
        pieces.sort_by_key(|p| std::cmp::Reverse(p.len()));
        pieces.dedup();
        let matcher = if pieces.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&pieces)
                .ok()
        };
        Masker { matcher }
    }

    /// A masker that masks nothing.
    pub fn none() -> Self {
        Masker { matcher: None }
    }

    /// Where to end the piece of a long line that is cut into several
    /// (the process runner cuts at 64 KiB) when the line goes on after
    /// `text`, so that no secret is cut in two and left unmasked in
    /// halves: at most `text.len()`, and before the last `n - 1` bytes,
    /// `n` being the longest secret fragment (a secret may start there and
    /// go on past the end), moved back to the start of a secret that
    /// would straddle the cut (or after it, when it starts the text). The
    /// bytes after the point belong at the start of the next piece; each
    /// piece is then masked whole by [`Masker::mask`]. Secrets longer than
    /// half of `text` are not held back. Never 0 for a non-empty `text`.
    pub fn split_point(&self, text: &[u8]) -> usize {
        let Some(m) = &self.matcher else {
            return text.len();
        };
        let hold = m.max_pattern_len().saturating_sub(1).min(text.len() / 2);
        let mut cut = text.len() - hold;
        for found in m.find_iter(text) {
            if found.start() >= cut {
                break;
            }
            if found.end() > cut {
                cut = if found.start() > 0 {
                    found.start()
                } else {
                    found.end()
                };
                break;
            }
        }
        cut
    }

    /// [`Masker::mask`] of an owned text: a text with no secret in it
    /// (nearly every line) is handed back as it is, not copied.
    pub fn mask_owned(&self, text: String) -> String {
        match &self.matcher {
            Some(m) if m.is_match(&text) => self.mask(&text),
            _ => text,
        }
    }

    /// `text` with every secret fragment replaced.
    pub fn mask(&self, text: &str) -> String {
        match &self.matcher {
            None => text.to_owned(),
            Some(m) => {
                let n = m.patterns_len();
                m.replace_all(text, &vec![MASK; n])
            }
        }
    }
}

/// How a job writes its log: it masks secrets, stores lines in the log
/// sink and publishes them as events, in that order.
#[derive(Clone)]
pub struct LogWriter {
    key: LogKey,
    sink: Arc<dyn LogSink>,
    events: EventBus,
    clock: Arc<dyn Clock>,
    masker: Masker,
}

impl fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogWriter").field("key", &self.key).finish()
    }
}

impl LogWriter {
    /// A writer for `key`.
    pub fn new(
        key: LogKey,
        sink: Arc<dyn LogSink>,
        events: EventBus,
        clock: Arc<dyn Clock>,
        masker: Masker,
    ) -> Self {
        LogWriter {
            key,
            sink,
            events,
            clock,
            masker,
        }
    }

    /// The log this writer writes.
    pub fn key(&self) -> &LogKey {
        &self.key
    }

    /// The masker it masks lines with.
    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    /// The clock lines are stamped with.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Writes one line stamped now.
    pub async fn line(&self, stream: Stream, text: &str) -> Result<(), StoreError> {
        let at = self.clock.now();
        self.lines(vec![NewLine {
            stream,
            at,
            text: text.to_owned(),
        }])
        .await
    }

    /// Writes a batch of lines (masking each) in one call to the sink.
    pub async fn lines(&self, mut batch: Vec<NewLine>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        for l in &mut batch {
            // Masking happens before anything is stored or sent.
            if l.text.contains('\n') {
                l.text = l.text.replace(['\r', '\n'], " ");
            }
            l.text = self.masker.mask_owned(std::mem::take(&mut l.text));
        }
        let stored = self.sink.append(&self.key, batch).await?;
        if self.events.has_subscribers() {
            for line in stored {
                self.events.send(Event::Log {
                    run: self.key.run.clone(),
                    job: self.key.job.clone(),
                    line,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_whole_secrets_and_lines_of_multiline_ones() {
        let m = Masker::new(["hunter22", "line-one\nline-two\nab", "xyz"]);
        assert_eq!(m.mask("pw=hunter22!"), "pw=******!");
        assert_eq!(m.mask("line-two"), "******");
        // Short fragments and short secrets are left alone.
        assert_eq!(m.mask("ab xyz"), "ab xyz");
        assert_eq!(Masker::none().mask("hunter22"), "hunter22");
        for text in ["pw=hunter22!", "line-two", "ab xyz", "nothing here", ""] {
            assert_eq!(m.mask_owned(text.to_owned()), m.mask(text), "{text}");
        }
        assert_eq!(Masker::none().mask_owned("hunter22".into()), "hunter22");
    }

    #[test]
    fn split_points_never_cut_a_secret() {
        let none = Masker::none();
        assert_eq!(none.split_point(b"abcdefgh"), 8);
        let m = Masker::new(["s3cret-value"]);
        // No secret in sight: the last 11 bytes (a secret may start there
        // and go on) are held back.
        let text = "x".repeat(40);
        assert_eq!(m.split_point(text.as_bytes()), 29);
        // A secret across that point is kept whole, after the cut.
        let text = format!("{}s3cret-value", "x".repeat(24));
        assert_eq!(m.split_point(text.as_bytes()), 24);
        let piece = &text[..m.split_point(text.as_bytes())];
        assert!(!piece.contains("s3c"));
        // A secret that starts the text stays in this piece.
        let text = format!("s3cret-value{}", "x".repeat(4));
        assert_eq!(m.split_point(text.as_bytes()), 12);
        // A secret wholly before the point changes nothing.
        let text = format!("s3cret-value{}", "x".repeat(40));
        assert_eq!(m.split_point(text.as_bytes()), 41);
    }
}
