//! Webhook deliveries: verify, deduplicate, match a trigger rule, start
//! a run.

use super::applications::detail;
use super::applications::webhook_aad;
use super::{App, DomainError, Result};
use crate::catalog::Application;
use crate::secrets;
use crate::webhook::{self, EventKind, Headers, Provider};
use chrono::Utc;
use serde::Serialize;
use slipway_core::{Problem, Trigger};
use std::collections::BTreeMap;

/// What happened to a webhook delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum HookOutcome {
    /// A ping: nothing to do.
    Pong,
    /// This delivery id was handled before; nothing started.
    Duplicate {
        /// The delivery id.
        delivery: String,
    },
    /// No rule matched (or the event is not one rules name).
    Ignored {
        /// Why.
        reason: String,
    },
    /// A run was started.
    Started {
        /// The run.
        run_id: String,
        /// The rule that matched, by index.
        rule: usize,
    },
}

impl App {
    /// Handles a webhook delivery for an application: verifies it
    /// (nothing else happens when that fails), answers a ping, ignores a
    /// delivery id seen before, and starts a run of the first rule whose
    /// event and filter match, at the pushed commit. Once called, it
    /// finishes even if its future is dropped: a delivery is never
    /// recorded as seen without the run it starts.
    pub async fn receive_webhook(
        &self,
        provider: Provider,
        app_id: &str,
        headers: &Headers,
        body: &[u8],
    ) -> Result<HookOutcome> {
        let (app_id, headers, body) = (app_id.to_owned(), headers.clone(), body.to_vec());
        self.detached(
            |app| async move { app.receive_here(provider, &app_id, &headers, &body).await },
        )
        .await
    }

    async fn receive_here(
        &self,
        provider: Provider,
        app_id: &str,
        headers: &Headers,
        body: &[u8],
    ) -> Result<HookOutcome> {
        // An unknown id and an application without a webhook secret are
        // answered exactly as a wrong signature is (the delivery is checked
        // against a secret nobody has), so the answer never tells an
        // outsider which application ids exist.
        let app = match self.find_application(app_id).await {
            Ok(app) if app.webhook_secret.is_some() => Some(app),
            Ok(_) => {
                tracing::warn!(application = %app_id, "webhook for an application without a webhook secret; refused");
                None
            }
            Err(DomainError::NotFound { .. }) => {
                tracing::info!(application = %app_id, "webhook for an unknown application; refused");
                None
            }
            Err(e) => return Err(e),
        };
        let secret = match app
            .as_ref()
            .and_then(|a| Some((a, a.webhook_secret.as_ref()?)))
        {
            Some((app, sealed)) => secrets::open(self.key()?, sealed, &webhook_aad(&app.id))?,
            None => webhook::decoy_secret().to_owned(),
        };
        webhook::verify(provider, headers, body, &secret, Utc::now())
            .map_err(|e| DomainError::Unauthorized(e.to_string()))?;
        let Some(app) = app else {
            // Only reached by a sender who guessed the decoy.
            return Err(DomainError::Unauthorized(
                webhook::WebhookError::NoSecret.to_string(),
            ));
        };
        if provider != app.repository.provider {
            return Err(DomainError::Invalid(vec![Problem::new(
                "provider",
                format!(
                    "the application's repository is on {}",
                    app.repository.provider
                ),
            )]));
        }
        let event = webhook::parse_event(provider, headers, body)
            .map_err(|e| DomainError::Invalid(vec![Problem::new("body", e.to_string())]))?;
        let event_name = match &event.kind {
            EventKind::Ping => return Ok(HookOutcome::Pong),
            EventKind::Push if !event.deleted => "push",
            EventKind::TagPush if !event.deleted => "tag_push",
            EventKind::PullRequest { action } if action.is_opened_or_updated() => "pull_request",
            _ => {
                return Ok(HookOutcome::Ignored {
                    reason: format!("event `{}` starts nothing", event.name),
                });
            }
        };
        if !self
            .catalog
            .record_delivery(&app.id, &event.delivery_id, Utc::now())
            .await?
        {
            return Ok(HookOutcome::Duplicate {
                delivery: event.delivery_id,
            });
        }
        let outcome = self
            .run_matching_rule(&app, &event, event_name, headers)
            .await;
        if outcome.is_err() {
            // Nothing started: let a redelivery try again.
            let _ = self
                .catalog
                .forget_delivery(&app.id, &event.delivery_id)
                .await;
        }
        outcome
    }

    async fn run_matching_rule(
        &self,
        app: &Application,
        event: &webhook::Event,
        event_name: &str,
        headers: &Headers,
    ) -> Result<HookOutcome> {
        let header_map: BTreeMap<String, String> = match headers.to_json() {
            serde_json::Value::Object(m) => m
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.to_ascii_lowercase(), s.to_owned())))
                .collect(),
            _ => BTreeMap::new(),
        };
        let mut matched = None;
        for (i, rule) in app.triggers.iter().enumerate() {
            if rule.event != event_name {
                continue;
            }
            let filter = match self.filter(&rule.filter).await {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(application = %app.id, rule = i, error = %e, "stored filter does not compile");
                    continue;
                }
            };
            if filter.matches(&event.body, &header_map) {
                matched = Some((i, rule));
                break;
            }
        }
        let Some((i, rule)) = matched else {
            return Ok(HookOutcome::Ignored {
                reason: format!("no trigger rule matched this `{event_name}` event"),
            });
        };
        let git_ref = event.git_ref.clone().ok_or_else(|| {
            DomainError::Invalid(vec![Problem::new("body", "no ref in the event")])
        })?;
        let commit_id = event.commit.clone().ok_or_else(|| {
            DomainError::Invalid(vec![Problem::new("body", "no commit in the event")])
        })?;
        let commit = self.resolve(app, &git_ref, Some(&commit_id)).await?;
        let template = if rule.template.is_empty() {
            app.template_path.clone()
        } else {
            rule.template.clone()
        };
        let trigger = Trigger::new("webhook")
            .with(detail::EVENT, event_name)
            .with(detail::DELIVERY, event.delivery_id.clone());
        let run = self
            .start_app_run(app, &commit, &git_ref, &template, &BTreeMap::new(), trigger)
            .await?;
        Ok(HookOutcome::Started {
            run_id: run.id.to_string(),
            rule: i,
        })
    }
}
