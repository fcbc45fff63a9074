//! The one status vocabulary shared by runs, stages and jobs, and the single
//! table of allowed transitions.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The status of a run, a stage or a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Recorded, not yet scheduled.
    Created,
    /// Waiting for a concurrency slot (runs) or for its turn.
    Queued,
    /// Executing.
    Running,
    /// Held by an approval gate.
    WaitingApproval,
    /// Finished successfully.
    Passed,
    /// Finished unsuccessfully (non-zero exit, rejection, interruption, ...).
    Failed,
    /// Stopped on request.
    Cancelled,
    /// Stopped because it ran past its time limit.
    TimedOut,
    /// Not executed: disabled in the plan, or an earlier stage failed.
    Skipped,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 9] = [
        Status::Created,
        Status::Queued,
        Status::Running,
        Status::WaitingApproval,
        Status::Passed,
        Status::Failed,
        Status::Cancelled,
        Status::TimedOut,
        Status::Skipped,
    ];

    /// The word used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Queued => "queued",
            Status::Running => "running",
            Status::WaitingApproval => "waiting_approval",
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::TimedOut => "timed_out",
            Status::Skipped => "skipped",
        }
    }

    /// True once nothing more will happen without a retry.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Passed
                | Status::Failed
                | Status::Cancelled
                | Status::TimedOut
                | Status::Skipped
        )
    }

    /// True for the finished states a retry may start again.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Status::Failed | Status::Cancelled | Status::TimedOut | Status::Skipped
        )
    }

    /// Whether `self -> to` is an allowed transition. This table is the only
    /// place that decides it.
    ///
    /// - `created -> queued | running | waiting_approval | skipped | cancelled | failed`
    /// - `queued -> running | waiting_approval | skipped | cancelled | failed`
    /// - `running -> waiting_approval | passed | failed | cancelled | timed_out`
    /// - `waiting_approval -> running | failed | cancelled | timed_out`
    /// - `failed | cancelled | timed_out | skipped -> created | queued` (retry)
    /// - `passed` is final.
    pub fn can_become(self, to: Status) -> bool {
        use Status::*;
        match self {
            Created => matches!(
                to,
                Queued | Running | WaitingApproval | Skipped | Cancelled | Failed
            ),
            Queued => matches!(to, Running | WaitingApproval | Skipped | Cancelled | Failed),
            Running => matches!(to, WaitingApproval | Passed | Failed | Cancelled | TimedOut),
            WaitingApproval => matches!(to, Running | Failed | Cancelled | TimedOut),
            Failed | Cancelled | TimedOut | Skipped => matches!(to, Created | Queued),
            Passed => false,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a word is not a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("done".parse::<Status>().is_err());
    }

    #[test]
    fn passed_is_final_and_retry_only_from_unsuccessful_ends() {
        for to in Status::ALL {
            assert!(!Status::Passed.can_become(to), "passed -> {to}");
        }
        assert!(Status::Failed.can_become(Status::Queued));
        assert!(Status::TimedOut.can_become(Status::Created));
        assert!(!Status::Failed.can_become(Status::Running));
        assert!(!Status::Running.can_become(Status::Queued));
        assert!(Status::WaitingApproval.can_become(Status::Running));
        assert!(!Status::WaitingApproval.can_become(Status::Passed));
    }
}
