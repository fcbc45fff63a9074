//! Log lines.

use chrono::{DateTime, Utc};
use serde::Serialize;
use slipway_core::LogLine;
use utoipa::ToSchema;

/// A stored log line.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogLineView {
    /// Its position in the job's log, from 1 (also the SSE event id).
    pub seq: u64,
    /// `stdout`, `stderr` or `system`.
    pub stream: String,
    /// When it was read.
    pub at: DateTime<Utc>,
    /// Its text, without the newline.
    pub text: String,
}

impl From<&LogLine> for LogLineView {
    fn from(l: &LogLine) -> Self {
        LogLineView {
            seq: l.seq,
            stream: l.stream.as_str().to_owned(),
            at: l.at,
            text: l.text.clone(),
        }
    }
}
