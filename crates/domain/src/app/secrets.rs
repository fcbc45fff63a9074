//! Stored secrets of projects and applications, and the secrets runs get.

use super::{App, Caller, DomainError, Result};
use crate::access::Permission;
use crate::catalog::{CatalogStore, SecretMeta};
use crate::error::OrNotFound;
use crate::secrets::{SecretKey, SecretName, SecretOwner};
use chrono::Utc;
use slipway_core::{Problem, RunRecord, SecretSource};
use std::collections::BTreeMap;
use std::sync::Arc;

impl App {
    /// The owner's store key, once the owner is known to exist and `by`
    /// may do `what` on it.
    async fn owner_key(
        &self,
        by: &Caller,
        what: Permission,
        owner: &SecretOwner<'_>,
    ) -> Result<String> {
        match owner {
            SecretOwner::Project(id) => {
                let p = self.find_project(id).await?;
                self.check(
                    by,
                    what,
                    &p.id,
                    super::On::Project,
                    "the secrets of this project",
                )?;
            }
            SecretOwner::Application(id) => {
                self.application_for(by, what, id).await?;
            }
        }
        Ok(owner.key())
    }

    /// Sets a secret (creating or rotating it), for a caller who may
    /// modify its owner; the next run sees the new value. Returns whether
    /// it was created.
    pub async fn put_secret(
        &self,
        by: &Caller,
        owner: SecretOwner<'_>,
        name: &str,
        value: &str,
    ) -> Result<bool> {
        let name = SecretName::new(name)
            .map_err(|e| DomainError::Invalid(vec![Problem::new("name", e.to_string())]))?;
        crate::limits::check_secret_value(value)?;
        let key = self.owner_key(by, Permission::Modify, &owner).await?;
        let sealed = crate::secrets::seal(self.key()?, value, &owner.aad(&name))?;
        Ok(self
            .catalog
            .put_secret(
                &key,
                name.as_str(),
                &sealed,
                Utc::now(),
                by.actor().as_ref(),
            )
            .await?)
    }

    /// The names and times of an owner's secrets (never their values),
    /// for a caller who may view the owner.
    pub async fn secrets(&self, by: &Caller, owner: SecretOwner<'_>) -> Result<Vec<SecretMeta>> {
        let key = self.owner_key(by, Permission::View, &owner).await?;
        Ok(self.catalog.secrets(&key).await?)
    }

    /// Deletes a secret, for a caller who may modify its owner.
    pub async fn delete_secret(
        &self,
        by: &Caller,
        owner: SecretOwner<'_>,
        name: &str,
    ) -> Result<()> {
        let key = self.owner_key(by, Permission::Modify, &owner).await?;
        self.catalog
            .delete_secret(&key, name)
            .await?
            .or_not_found("secret", name)
    }

    fn run_secret_source(&self) -> RunSecrets {
        RunSecrets {
            catalog: self.catalog.clone(),
            key: self.secret_key.clone(),
        }
    }

    /// The opened secrets of a project, and of an application (whose win
    /// on the same name), for a run.
    pub(crate) async fn run_secrets(
        &self,
        project_id: &str,
        app_id: Option<&str>,
    ) -> Result<BTreeMap<String, String>> {
        self.run_secret_source().of(project_id, app_id).await
    }

    /// The secrets a run of `key` (a workflow's or an application's id)
    /// gets; none when the key names neither.
    pub(crate) async fn secrets_for_key(
        &self,
        key: Option<&str>,
    ) -> Result<BTreeMap<String, String>> {
        self.run_secret_source().for_key(key).await
    }
}

/// The secrets of runs, read from the catalog and opened with the key:
/// what [`App`] gives the runs it submits, and core's [`SecretSource`] for
/// the runs the engine resumes by itself after a restart.
#[derive(Clone)]
pub struct RunSecrets {
    catalog: Arc<dyn CatalogStore>,
    key: Option<Arc<SecretKey>>,
}

impl std::fmt::Debug for RunSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSecrets").finish_non_exhaustive()
    }
}

impl RunSecrets {
    /// Secrets from `catalog`, opened with `key`.
    pub fn new(catalog: Arc<dyn CatalogStore>, key: SecretKey) -> Self {
        RunSecrets {
            catalog,
            key: Some(Arc::new(key)),
        }
    }

    /// A project's secrets, then an application's (which win on the same
    /// name).
    pub(crate) async fn of(
        &self,
        project_id: &str,
        app_id: Option<&str>,
    ) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let mut owners = vec![SecretOwner::Project(project_id)];
        owners.extend(app_id.map(SecretOwner::Application));
        for owner in owners {
            let sealed = self.catalog.sealed_secrets(&owner.key()).await?;
            if sealed.is_empty() {
                continue;
            }
            let secret_key = self
                .key
                .as_deref()
                .ok_or_else(|| DomainError::Internal("no secret key is configured".into()))?;
            for (name, value) in sealed {
                let checked = SecretName::new(name.as_str())
                    .map_err(|e| DomainError::Internal(format!("stored secret name: {e}")))?;
                let aad = owner.aad(&checked);
                out.insert(name, crate::secrets::open(secret_key, &value, &aad)?);
            }
        }
        Ok(out)
    }

    /// The secrets of a run whose concurrency key is `key` (an
    /// application's or a workflow's id); none when it names neither.
    async fn for_key(&self, key: Option<&str>) -> Result<BTreeMap<String, String>> {
        let Some(key) = key else {
            return Ok(BTreeMap::new());
        };
        if let Some(app) = self.catalog.application(key).await? {
            return self.of(&app.project_id, Some(&app.id)).await;
        }
        if let Some(wf) = self.catalog.workflow(key).await? {
            return self.of(&wf.project_id, None).await;
        }
        Ok(BTreeMap::new())
    }
}

#[async_trait::async_trait]
impl SecretSource for RunSecrets {
    async fn secrets_for(
        &self,
        run: &RunRecord,
    ) -> std::result::Result<BTreeMap<String, String>, slipway_core::StoreError> {
        self.for_key(run.workflow_key.as_deref())
            .await
            .map_err(|e| slipway_core::StoreError::Backend(e.to_string()))
    }
}
