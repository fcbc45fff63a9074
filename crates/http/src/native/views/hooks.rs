//! What a webhook delivery did.

use serde::Serialize;
use slipway_domain::HookOutcome;
use utoipa::ToSchema;

/// What a webhook delivery did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum HookOutcomeView {
    /// A ping: nothing to do.
    Pong,
    /// This delivery id was handled before; nothing started.
    Duplicate {
        /// The delivery id.
        delivery: String,
    },
    /// No rule matched, or the event starts nothing.
    Ignored {
        /// Why.
        reason: String,
    },
    /// A run was started.
    Started {
        /// The run.
        run_id: String,
        /// The index of the trigger rule that matched.
        rule: usize,
    },
}

impl From<HookOutcome> for HookOutcomeView {
    fn from(o: HookOutcome) -> Self {
        match o {
            HookOutcome::Pong => HookOutcomeView::Pong,
            HookOutcome::Duplicate { delivery } => HookOutcomeView::Duplicate { delivery },
            HookOutcome::Ignored { reason } => HookOutcomeView::Ignored { reason },
            HookOutcome::Started { run_id, rule } => HookOutcomeView::Started { run_id, rule },
        }
    }
}
