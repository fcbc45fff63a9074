//! The engine's event stream: status changes of runs, stages and jobs, and
//! log lines.

use crate::log::LogLine;
use crate::record::RunId;
use crate::status::Status;
use tokio::sync::broadcast;

/// Something that happened in the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A run changed status.
    Run {
        /// The run.
        run: RunId,
        /// Its new status.
        status: Status,
    },
    /// A stage changed status.
    Stage {
        /// The run.
        run: RunId,
        /// The stage's name.
        stage: String,
        /// Its new status.
        status: Status,
    },
    /// A job changed status.
    Job {
        /// The run.
        run: RunId,
        /// The job's name.
        job: String,
        /// Its new status.
        status: Status,
    },
    /// A job wrote a log line (already masked and stored).
    Log {
        /// The run.
        run: RunId,
        /// The job's name.
        job: String,
        /// The stored line.
        line: LogLine,
    },
}

/// A broadcast of [`Event`]s. Subscribers that fall more than the buffer
/// behind receive `RecvError::Lagged` and miss events; the stores keep the
/// full history.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl EventBus {
    /// A bus keeping up to `capacity` undelivered events per subscriber.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        EventBus { tx }
    }

    /// A new subscriber, seeing events sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// True when somebody listens.
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Sends `event` to every subscriber (nobody listening is fine).
    pub fn send(&self, event: Event) {
        let _ = self.tx.send(event);
    }
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(4096)
    }
}
