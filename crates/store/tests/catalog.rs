//! The SQL catalog on SQLite and PostgreSQL: unique names, versions that
//! only move forward, cascading deletes, tokens found by hash and revoked.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, Utc};
use slipway_domain::catalog::{
    ApiToken, CatalogStore, CatalogStoreError, Order, PageRequest, Project, Workflow,
    WorkflowVersion,
};
use slipway_domain::definition::Format;
use slipway_store::testing::TestDb;
use slipway_store::{Db, DbOptions, SqlCatalog};

fn project(name: &str, age_s: i64) -> Project {
    let at = Utc::now() - Duration::seconds(age_s);
    Project {
        id: uuid_like(name),
        name: name.into(),
        description: format!("about {name}"),
        created_at: at,
        updated_at: at,
    }
}

fn uuid_like(seed: &str) -> String {
    format!(
        "id-{seed}-{}",
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    )
}

fn version(workflow: &str, v: i32) -> WorkflowVersion {
    WorkflowVersion {
        workflow_id: workflow.into(),
        version: v,
        definition: serde_json::json!({"name": "build", "v": v}),
        format: Format::Yaml,
        source: format!("name: build # v{v}\n"),
        created_by: Some("ann".into()),
        created_at: Utc::now(),
    }
}

fn page(n: u32, per: u32, sort: &str, order: Order) -> PageRequest {
    PageRequest {
        page: n,
        per_page: per,
        sort: sort.into(),
        order,
    }
}

#[tokio::test]
async fn the_catalog_keeps_projects_workflows_versions_and_tokens() {
    for t in TestDb::all() {
        let backend = t.backend();
        let db = Db::open(&t.url, &DbOptions::default()).unwrap();
        let cat = SqlCatalog::new(db);

        // Projects: unique names, pages, sorting, updates.
        let a = project("alpha", 30);
        let b = project("beta", 20);
        let c = project("gamma", 10);
        for p in [&a, &b, &c] {
            cat.insert_project(p).await.unwrap();
        }
        let dup = Project {
            id: "other".into(),
            ..a.clone()
        };
        assert!(
            matches!(
                cat.insert_project(&dup).await,
                Err(CatalogStoreError::Duplicate(_))
            ),
            "{backend}"
        );
        let first = cat.projects(&page(1, 2, "name", Order::Asc)).await.unwrap();
        assert_eq!(first.total, 3, "{backend}");
        let names: Vec<&str> = first.items.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["alpha", "beta"], "{backend}");
        let newest = cat
            .projects(&page(1, 1, "created_at", Order::Desc))
            .await
            .unwrap();
        assert_eq!(newest.items[0].name, "gamma", "{backend}");
        let mut renamed = b.clone();
        renamed.name = "alpha".into();
        assert!(
            matches!(
                cat.update_project(&renamed).await,
                Err(CatalogStoreError::Duplicate(_))
            ),
            "{backend}"
        );
        renamed.name = "delta".into();
        assert!(cat.update_project(&renamed).await.unwrap(), "{backend}");
        assert_eq!(
            cat.project(&b.id).await.unwrap().unwrap().name,
            "delta",
            "{backend}"
        );

        // Workflows and versions: created together, versions move forward
        // one at a time, a stale writer is refused.
        let wf = Workflow {
            id: uuid_like("wf"),
            project_id: a.id.clone(),
            name: "build".into(),
            latest_version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        cat.insert_workflow(&wf, &version(&wf.id, 1)).await.unwrap();
        let again = Workflow {
            id: "wf-2".into(),
            ..wf.clone()
        };
        assert!(
            matches!(
                cat.insert_workflow(&again, &version("wf-2", 1)).await,
                Err(CatalogStoreError::Duplicate(_))
            ),
            "{backend}: the project has a workflow of that name"
        );
        assert!(cat.workflow("wf-2").await.unwrap().is_none(), "{backend}");
        let orphan = Workflow {
            id: "wf-3".into(),
            project_id: "no-such-project".into(),
            ..wf.clone()
        };
        assert!(
            matches!(
                cat.insert_workflow(&orphan, &version("wf-3", 1)).await,
                Err(CatalogStoreError::Missing(_))
            ),
            "{backend}"
        );
        cat.add_version(&version(&wf.id, 2)).await.unwrap();
        assert!(
            matches!(
                cat.add_version(&version(&wf.id, 2)).await,
                Err(CatalogStoreError::Duplicate(_))
            ),
            "{backend}: a writer that saw version 1 is refused"
        );
        assert_eq!(
            cat.workflow(&wf.id).await.unwrap().unwrap().latest_version,
            2
        );
        let v1 = cat.version(&wf.id, 1).await.unwrap().unwrap();
        assert_eq!(v1, version(&wf.id, 1).clone_with_time(v1.created_at));
        let versions = cat
            .versions(&wf.id, &page(1, 10, "", Order::Desc))
            .await
            .unwrap();
        assert_eq!(
            versions.items.iter().map(|v| v.version).collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!(
            cat.workflow_ids(&a.id).await.unwrap(),
            std::slice::from_ref(&wf.id)
        );

        // Deleting a project takes its workflows and versions along.
        assert!(cat.delete_project(&a.id).await.unwrap(), "{backend}");
        assert!(cat.workflow(&wf.id).await.unwrap().is_none(), "{backend}");
        assert!(cat.version(&wf.id, 1).await.unwrap().is_none(), "{backend}");
        assert!(!cat.delete_project(&a.id).await.unwrap(), "{backend}");

        // Tokens: found by hash, revoked once and for all.
        let tok = ApiToken {
            id: uuid_like("tok"),
            name: "ci".into(),
            prefix: "slw_abcdef".into(),
            is_admin: false,
            created_by: None,
            created_at: Utc::now(),
            last_used_at: None,
            revoked_at: None,
        };
        cat.insert_token(&tok, "hash-1").await.unwrap();
        assert_eq!(cat.count_tokens().await.unwrap(), 1);
        let (found, hash) = cat.token_by_hash("hash-1").await.unwrap().unwrap();
        assert_eq!((found.name.as_str(), hash.as_str()), ("ci", "hash-1"));
        assert!(cat.token_by_hash("hash-2").await.unwrap().is_none());
        cat.touch_token(&tok.id, Utc::now()).await.unwrap();
        assert!(cat.revoke_token(&tok.id, Utc::now()).await.unwrap());
        assert!(cat.revoke_token(&tok.id, Utc::now()).await.unwrap());
        assert!(!cat.revoke_token("nope", Utc::now()).await.unwrap());
        let (after, _) = cat.token_by_hash("hash-1").await.unwrap().unwrap();
        assert!(after.revoked_at.is_some() && after.last_used_at.is_some());
        assert_eq!(cat.tokens().await.unwrap().len(), 1);
    }
}

trait WithTime {
    fn clone_with_time(&self, at: chrono::DateTime<Utc>) -> Self;
}

impl WithTime for WorkflowVersion {
    fn clone_with_time(&self, at: chrono::DateTime<Utc>) -> Self {
        WorkflowVersion {
            created_at: at,
            ..self.clone()
        }
    }
}
