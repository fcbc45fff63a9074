//! Runs of applications: manual dispatch at a ref, redeploy (repeat a
//! finished run), and what every application run shares (template at a
//! commit, checkout, cancel-superseded).

use super::applications::{check_ref_name, detail};
use super::{ACTIVE, App, Caller, DomainError, Result};
use crate::access::Permission;
use crate::catalog::{Application, NamedRepository};
use crate::definition::{Format, WorkflowDefinition};
use slipway_core::source::{CommitInfo, SourceError};
use slipway_core::{Problem, RunId, RunQuery, RunRecord, RunRequest, Trigger};
use std::collections::BTreeMap;

/// A manual dispatch of an application.
#[derive(Debug, Clone, Default)]
pub struct DispatchInput {
    /// A branch or tag name, or a full ref (`refs/heads/main`,
    /// `refs/tags/v1`); required.
    pub git_ref: Option<String>,
    /// A commit id; the ref's head when absent.
    pub commit: Option<String>,
    /// The template's params.
    pub inputs: BTreeMap<String, serde_json::Value>,
}

fn source_error(e: SourceError, path: &str) -> DomainError {
    match e {
        SourceError::Auth { .. } | SourceError::Fetch { .. } => {
            DomainError::Upstream(e.to_string())
        }
        SourceError::UrlRefused { .. } => {
            DomainError::Invalid(vec![Problem::new("repository.url", e.to_string())])
        }
        SourceError::RefNotFound { .. } | SourceError::Ambiguous { .. } => {
            DomainError::Invalid(vec![Problem::new("ref", e.to_string())])
        }
        SourceError::PathRefused { .. }
        | SourceError::PathNotFound { .. }
        | SourceError::WrongKind { .. }
        | SourceError::Parse { .. }
        | SourceError::Invalid { .. } => {
            DomainError::Invalid(vec![Problem::new(path, e.to_string())])
        }
        other => DomainError::Internal(other.to_string()),
    }
}

/// `refs/heads/<x>` for a bare branch name; a full ref stays as given.
pub(crate) fn full_ref(name: &str) -> String {
    if name.starts_with("refs/") {
        name.to_owned()
    } else {
        format!("refs/heads/{name}")
    }
}

fn format_of(path: &str) -> Format {
    if path.ends_with(".json") {
        Format::Json
    } else {
        Format::Yaml
    }
}

/// A git failure of an application's named repository, naming it (the
/// source's messages name the URL, never the credentials).
fn of_repository(e: DomainError, named: Option<&NamedRepository>) -> DomainError {
    match (e, named) {
        (DomainError::Upstream(m), Some(r)) => {
            DomainError::Upstream(format!("repository `{}`: {m}", r.name))
        }
        (other, _) => other,
    }
}

impl App {
    /// Starts a run of `app`'s template at `commit`: reads the template
    /// there, checks `inputs`, checks the repository out at that commit
    /// for every shell job that names no repository of its own, and
    /// records commit, ref, message and author.
    pub(crate) async fn start_app_run(
        &self,
        app: &Application,
        commit: &CommitInfo,
        git_ref: &str,
        template: &str,
        inputs: &BTreeMap<String, serde_json::Value>,
        mut trigger: Trigger,
    ) -> Result<RunRecord> {
        let git = self.git()?;
        let (remote, named) = self.remote_of(app).await?;
        let bytes = git
            .read_file(&remote, &commit.id, template)
            .await
            .map_err(|e| of_repository(source_error(e, "template"), named.as_ref()))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            DomainError::Invalid(vec![Problem::new("template", "is not UTF-8 text")])
        })?;
        let def = self
            .check_definition(&text, format_of(template))
            .map_err(|e| match e {
                DomainError::Invalid(problems) => DomainError::Invalid(
                    problems
                        .into_iter()
                        .map(|p| {
                            Problem::new(format!("template({template}).{}", p.path), p.message)
                        })
                        .collect(),
                ),
                other => other,
            })?;
        let checkout = match &named {
            Some(r) => {
                let mut repo = serde_json::json!({"url": r.url, "ref": commit.id});
                if let Some(secret) = &r.credentials_secret {
                    repo["credentials"] = serde_json::Value::String(secret.clone());
                }
                repo
            }
            None => serde_json::json!({"url": app.repository.url, "ref": commit.id}),
        };
        self.start_compiled(
            app,
            &def,
            &checkout,
            commit,
            git_ref,
            template,
            inputs,
            &mut trigger,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn start_compiled(
        &self,
        app: &Application,
        def: &WorkflowDefinition,
        checkout: &serde_json::Value,
        commit: &CommitInfo,
        git_ref: &str,
        template: &str,
        inputs: &BTreeMap<String, serde_json::Value>,
        trigger: &mut Trigger,
    ) -> Result<RunRecord> {
        let (mut plan, params) = def.compile(inputs).map_err(crate::app::params_problems)?;
        for stage in &mut plan.stages {
            for job in &mut stage.jobs {
                if job.kind == "shell"
                    && let serde_json::Value::Object(spec) = &mut job.spec
                    && !spec.contains_key("repo")
                {
                    spec.insert("repo".into(), checkout.clone());
                }
            }
        }
        let d = &mut trigger.detail;
        d.insert(detail::APPLICATION.into(), app.id.clone());
        d.insert(detail::COMMIT.into(), commit.id.clone());
        d.insert(detail::REF.into(), git_ref.to_owned());
        d.insert(detail::MESSAGE.into(), commit.summary().to_owned());
        d.insert(
            detail::AUTHOR.into(),
            format!("{} <{}>", commit.author.name, commit.author.email),
        );
        d.insert(detail::TEMPLATE.into(), template.to_owned());
        let superseded = if app.cancel_superseded && trigger.kind == "webhook" {
            self.active_runs_of_ref(&app.id, git_ref).await?
        } else {
            Vec::new()
        };
        if !superseded.is_empty() {
            trigger.detail.insert(
                detail::SUPERSEDES.into(),
                superseded
                    .iter()
                    .map(RunId::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        let secrets = self.run_secrets(&app.project_id, Some(&app.id)).await?;
        let request = RunRequest {
            plan,
            params,
            trigger: trigger.clone(),
            workflow_key: Some(app.id.clone()),
            secrets,
        };
        let id = self.engine.submit(request).await?;
        self.catalog.set_last_run(&app.id, id.as_str()).await?;
        for old in superseded {
            if let Err(e) = self
                .engine
                .cancel(&old, &format!("cancelled: superseded by run {id}"))
                .await
            {
                tracing::warn!(run = %old, error = %e, "cancelling a superseded run");
            }
        }
        Ok(self.engine.get(&id).await?)
    }

    /// Active runs of an application started for `git_ref`, oldest first.
    async fn active_runs_of_ref(&self, app_id: &str, git_ref: &str) -> Result<Vec<RunId>> {
        let runs = self
            .engine
            .store()
            .list_runs(&RunQuery {
                workflow_key: Some(app_id.to_owned()),
                statuses: ACTIVE.to_vec(),
                oldest_first: true,
                limit: 1000,
                offset: 0,
                ..RunQuery::default()
            })
            .await?;
        Ok(runs
            .into_iter()
            .filter(|r| r.trigger.detail.get(detail::REF).map(String::as_str) == Some(git_ref))
            .map(|r| r.id)
            .collect())
    }

    /// Resolves `commit` (or the head of `git_ref`) after bringing the
    /// mirror up to date.
    pub(crate) async fn resolve(
        &self,
        app: &Application,
        git_ref: &str,
        commit: Option<&str>,
    ) -> Result<CommitInfo> {
        let git = self.git()?;
        let (remote, named) = self.remote_of(app).await?;
        git.refresh(&remote)
            .await
            .map_err(|e| of_repository(source_error(e, "repository.url"), named.as_ref()))?;
        let wanted = commit.unwrap_or(git_ref);
        git.resolve(&remote, wanted).await.map_err(|e| {
            let at = if commit.is_some() { "commit" } else { "ref" };
            match source_error(e, at) {
                DomainError::Invalid(p) => DomainError::Invalid(
                    p.into_iter().map(|p| Problem::new(at, p.message)).collect(),
                ),
                other => of_repository(other, named.as_ref()),
            }
        })
    }

    /// Starts a run of an application by hand, at a ref (and optionally a
    /// commit); the template is read at that commit. Once called, it
    /// finishes even if its future is dropped.
    ///
    /// For a caller who may run the application.
    pub async fn dispatch(
        &self,
        by: &Caller,
        app_id: &str,
        input: DispatchInput,
    ) -> Result<RunRecord> {
        let (app_id, by) = (app_id.to_owned(), by.clone());
        self.detached(|app| async move { app.dispatch_here(&by, &app_id, input).await })
            .await
    }

    async fn dispatch_here(
        &self,
        by: &Caller,
        app_id: &str,
        input: DispatchInput,
    ) -> Result<RunRecord> {
        let app = self
            .application_for(by, Permission::Execute, app_id)
            .await?;
        let mut problems = Vec::new();
        let git_ref = input.git_ref.unwrap_or_default();
        check_ref_name(&git_ref, "ref", &mut problems);
        if let Some(c) = &input.commit
            && (c.len() < 4 || c.len() > 64 || !c.chars().all(|c| c.is_ascii_hexdigit()))
        {
            problems.push(Problem::new("commit", "must be a hexadecimal commit id"));
        }
        if !problems.is_empty() {
            return Err(DomainError::Invalid(problems));
        }
        let commit = self
            .resolve(&app, &git_ref, input.commit.as_deref())
            .await?;
        let shown_ref = if git_ref.starts_with("refs/") {
            git_ref.clone()
        } else {
            commit.refname.clone().unwrap_or_else(|| full_ref(&git_ref))
        };
        let mut trigger = Trigger::new("dispatch");
        trigger.by = Some(by.name.clone());
        trigger.by_id = by.actor().map(|a| a.id);
        self.start_app_run(
            &app,
            &commit,
            &shown_ref,
            &app.template_path.clone(),
            &input.inputs,
            trigger,
        )
        .await
    }

    /// Starts a new run that repeats a finished run exactly: the same
    /// plan (so the same commit and template content) and params, with
    /// today's secrets. A rollback when the repeated run is an older one.
    /// Once called, it finishes even if its future is dropped. For a
    /// caller who may run the run's workflow or application.
    pub async fn redeploy(&self, by: &Caller, run_id: &str) -> Result<RunRecord> {
        let (run_id, by) = (run_id.to_owned(), by.clone());
        self.detached(|app| async move { app.redeploy_here(&by, &run_id).await })
            .await
    }

    async fn redeploy_here(&self, by: &Caller, run_id: &str) -> Result<RunRecord> {
        let old = self.run_for(by, Permission::Execute, run_id).await?;
        if !old.status.is_terminal() {
            return Err(DomainError::Conflict(format!(
                "run {run_id} is {}; only a finished run can be repeated",
                old.status
            )));
        }
        let mut trigger = Trigger::new("redeploy");
        trigger.by = Some(by.name.clone());
        trigger.by_id = by.actor().map(|a| a.id);
        for key in [
            detail::APPLICATION,
            detail::COMMIT,
            detail::REF,
            detail::MESSAGE,
            detail::AUTHOR,
            detail::TEMPLATE,
            "workflow_version",
        ] {
            if let Some(v) = old.trigger.detail.get(key) {
                trigger.detail.insert(key.to_owned(), v.clone());
            }
        }
        trigger
            .detail
            .insert(detail::REPEATS.into(), old.id.to_string());
        let secrets = self.secrets_for_key(old.workflow_key.as_deref()).await?;
        let request = RunRequest {
            plan: old.plan.clone(),
            params: old.params.clone(),
            trigger,
            workflow_key: old.workflow_key.clone(),
            secrets,
        };
        let id = self.engine.submit(request).await?;
        if let Some(app) = old.trigger.detail.get(detail::APPLICATION)
            && self.catalog.application(app).await?.is_some()
        {
            self.catalog.set_last_run(app, id.as_str()).await?;
        }
        Ok(self.engine.get(&id).await?)
    }
}
