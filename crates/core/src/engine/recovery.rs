//! [`Engine::recover`]: settling the work a previous process left in the
//! store (see *Crash recovery* in docs/architecture.md).

use super::{Engine, INTERRUPTED, Recovery, lock};
use crate::error::CoreError;
use crate::record::{RunQuery, RunRecord, Target};
use crate::status::Status;
use std::collections::BTreeMap;

impl Engine {
    /// Settles the work a previous process left in the store; call it once
    /// when the engine starts, before submitting new runs.
    ///
    /// Policy (documented in docs/engine.md): runs that were `running` fail
    /// with `interrupted: server stopped` (their running jobs too, after
    /// the job kind has stopped what they left behind; jobs that had not
    /// started are skipped); runs waiting for approval keep waiting, their
    /// timeout still counted from when the wait began; `queued` runs start
    /// again in their original order.
    pub async fn recover(&self) -> Result<Recovery, CoreError> {
        let query = RunQuery {
            statuses: vec![Status::Queued, Status::Running, Status::WaitingApproval],
            oldest_first: true,
            ..RunQuery::default()
        };
        let pending = self.inner.store.list_runs(&query).await?;
        let mut report = Recovery::default();
        for run in pending.iter().filter(|r| r.status == Status::Running) {
            self.settle_failed(run, INTERRUPTED).await?;
            report.failed.push(run.id.clone());
        }
        // Waiting runs hold their concurrency slots first, then the queue
        // re-forms in its original order.
        for status in [Status::WaitingApproval, Status::Queued] {
            for run in pending.iter().filter(|r| r.status == status) {
                if lock(&self.inner.active).contains_key(&run.id) {
                    continue;
                }
                let list = if status == Status::Queued {
                    &mut report.requeued
                } else {
                    &mut report.resumed
                };
                let secrets = match &self.inner.secrets {
                    None => BTreeMap::new(),
                    Some(source) => match source.secrets_for(run).await {
                        Ok(s) => s,
                        Err(e) => {
                            let why = format!("secrets unavailable after a restart: {e}");
                            tracing::error!(run = %run.id, "{why}");
                            self.settle_failed(run, &why).await?;
                            report.failed.push(run.id.clone());
                            continue;
                        }
                    },
                };
                list.push(run.id.clone());
                self.start(run.clone(), secrets);
            }
        }
        Ok(report)
    }

    /// Fails a run the engine is not driving, with `reason` on its
    /// running and queued jobs, its running or waiting stages and itself;
    /// a running job's leftover processes are stopped first.
    async fn settle_failed(&self, run: &RunRecord, reason: &str) -> Result<(), CoreError> {
        let inner = &self.inner;
        let id = &run.id;
        let why = || Some(reason.to_owned());
        for (si, stage) in run.stages.iter().enumerate() {
            for (ji, job) in stage.jobs.iter().enumerate() {
                let t = Target::Job(si, ji);
                match job.status {
                    Status::Running => {
                        if let (Some(h), Some(kind)) = (&job.handle, inner.registry.get(&job.kind))
                        {
                            kind.interrupted(h).await;
                            inner.store.set_handle(id, si, ji, None).await?;
                        }
                        inner
                            .change(id, t, job.status, Status::Failed, why(), None, &run.plan)
                            .await?;
                    }
                    Status::Queued => {
                        inner
                            .change(id, t, job.status, Status::Failed, why(), None, &run.plan)
                            .await?;
                    }
                    Status::Created => {
                        inner
                            .change(id, t, job.status, Status::Skipped, None, None, &run.plan)
                            .await?;
                    }
                    _ => {}
                }
            }
            let t = Target::Stage(si);
            match stage.status {
                Status::Running | Status::WaitingApproval => {
                    inner
                        .change(id, t, stage.status, Status::Failed, why(), None, &run.plan)
                        .await?;
                }
                Status::Created | Status::Queued => {
                    inner
                        .change(id, t, stage.status, Status::Skipped, None, None, &run.plan)
                        .await?;
                }
                _ => {}
            }
        }
        inner
            .change(
                id,
                Target::Run,
                run.status,
                Status::Failed,
                why(),
                None,
                &run.plan,
            )
            .await?;
        Ok(())
    }
}
