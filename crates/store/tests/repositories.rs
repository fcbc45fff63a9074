//! Named repositories on SQLite and PostgreSQL: every field round trips,
//! names are unique in the server, a repository an application uses is
//! not deleted, and a project's deletion takes its repositories along.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Utc};
use slipway_domain::catalog::{
    Actor, Application, CatalogStore, CatalogStoreError, NamedRepository, Order, PageRequest,
    Project, Provider, Repository,
};
use slipway_store::testing::TestDb;
use slipway_store::{Db, DbOptions, SqlCatalog};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap()
}

fn project(name: &str) -> Project {
    Project {
        id: format!("project-{name}"),
        name: name.into(),
        description: String::new(),
        created_at: now(),
        updated_at: now(),
    }
}

fn named(project_id: &str, name: &str) -> NamedRepository {
    NamedRepository {
        id: format!("repo-{name}"),
        project_id: project_id.into(),
        name: name.into(),
        url: format!("https://git.example.com/team/{name}.git"),
        default_branch: "main".into(),
        provider: Provider::Gitlab,
        owner: Some("team".into()),
        repo: Some(name.into()),
        credentials_secret: Some("GIT_TOKEN".into()),
        created_by: Some(Actor {
            id: "user-ann".into(),
            name: "ann".into(),
        }),
        updated_by: None,
        created_at: now(),
        updated_at: now(),
    }
}

fn application(project_id: &str, repository_id: Option<&str>) -> Application {
    Application {
        id: "app-api".into(),
        project_id: project_id.into(),
        name: "api".into(),
        description: String::new(),
        repository: Repository {
            provider: Provider::Gitlab,
            owner: "team".into(),
            name: "api".into(),
            url: "https://git.example.com/team/api.git".into(),
            provider_repo_id: String::new(),
        },
        default_branch: "main".into(),
        template_path: ".slipway/workflow.yaml".into(),
        triggers: vec![],
        cancel_superseded: false,
        webhook_secret: None,
        permissions: None,
        created_by: None,
        updated_by: None,
        created_at: now(),
        updated_at: now(),
        last_run: None,
        repository_id: repository_id.map(str::to_owned),
    }
}

fn page(sort: &str, order: Order) -> PageRequest {
    PageRequest {
        page: 1,
        per_page: 10,
        sort: sort.into(),
        order,
    }
}

#[tokio::test]
async fn named_repositories_round_trip_stay_unique_and_are_kept_while_used() {
    for t in TestDb::all() {
        let backend = t.backend();
        let cat = SqlCatalog::new(Db::open(&t.url, &DbOptions::default()).unwrap());
        let (p, q) = (project("team"), project("others"));
        cat.insert_project(&p, None).await.unwrap();
        cat.insert_project(&q, None).await.unwrap();

        // Every field comes back, by id and by name.
        let api = named(&p.id, "api");
        cat.insert_repository(&api).await.unwrap();
        assert_eq!(cat.repository(&api.id).await.unwrap(), Some(api.clone()));
        assert_eq!(
            cat.repository_by_name("api").await.unwrap(),
            Some(api.clone()),
            "{backend}"
        );
        assert!(cat.repository("nope").await.unwrap().is_none());

        // Names are unique in the server, not per project; the project
        // must exist.
        let clash = NamedRepository {
            id: "repo-other".into(),
            ..named(&q.id, "api")
        };
        assert!(matches!(
            cat.insert_repository(&clash).await,
            Err(CatalogStoreError::Duplicate(m)) if m.contains("`api`")
        ));
        assert!(matches!(
            cat.insert_repository(&named("project-gone", "orphan"))
                .await,
            Err(CatalogStoreError::Missing(_))
        ));
        let web = named(&q.id, "web");
        cat.insert_repository(&web).await.unwrap();

        // Lists: all, one project's, the visible projects', sorted.
        let all = cat
            .repositories(None, None, &page("name", Order::Desc))
            .await
            .unwrap();
        let names: Vec<&str> = all.items.iter().map(|r| r.name.as_str()).collect();
        assert_eq!((names, all.total), (vec!["web", "api"], 2), "{backend}");
        let of_q = cat
            .repositories(Some(&q.id), None, &page("name", Order::Asc))
            .await
            .unwrap();
        assert_eq!(of_q.items, vec![web.clone()]);
        let visible = cat
            .repositories(
                None,
                Some(std::slice::from_ref(&p.id)),
                &page("created_at", Order::Asc),
            )
            .await
            .unwrap();
        assert_eq!(visible.items, vec![api.clone()]);
        let none = cat
            .repositories(None, Some(&[]), &page("name", Order::Asc))
            .await
            .unwrap();
        assert_eq!(none.total, 0);

        // An update replaces all but project, creator and creation time;
        // a taken name is a duplicate.
        let changed = NamedRepository {
            url: "https://git.example.com/team/api2.git".into(),
            credentials_secret: None,
            owner: None,
            updated_by: Some(Actor {
                id: "user-bob".into(),
                name: "bob".into(),
            }),
            project_id: q.id.clone(),
            created_by: None,
            ..api.clone()
        };
        assert!(cat.update_repository(&changed).await.unwrap());
        let read = cat.repository(&api.id).await.unwrap().unwrap();
        assert_eq!(read.url, changed.url);
        assert_eq!(read.credentials_secret, None);
        assert_eq!(read.owner, None);
        assert_eq!(read.updated_by, changed.updated_by);
        assert_eq!(
            (read.project_id, read.created_by),
            (p.id.clone(), api.created_by.clone())
        );
        let renamed = NamedRepository {
            name: "web".into(),
            ..api.clone()
        };
        assert!(matches!(
            cat.update_repository(&renamed).await,
            Err(CatalogStoreError::Duplicate(_))
        ));
        assert!(!cat.update_repository(&named(&p.id, "gone")).await.unwrap());

        // An application points at it: the reference round trips, and the
        // repository cannot be deleted until the application lets go.
        let app = application(&p.id, Some(&api.id));
        cat.insert_application(&app).await.unwrap();
        assert_eq!(
            cat.application(&app.id)
                .await
                .unwrap()
                .unwrap()
                .repository_id,
            Some(api.id.clone()),
            "{backend}"
        );
        match cat.delete_repository(&api.id).await {
            Err(CatalogStoreError::Refused(why)) => assert!(why.contains("`api`"), "{why}"),
            other => panic!("{backend}: {other:?}"),
        }
        assert!(cat.repository(&api.id).await.unwrap().is_some());
        // A reference to a repository that does not exist is refused.
        let dangling = Application {
            repository_id: Some("repo-gone".into()),
            ..app.clone()
        };
        assert!(matches!(
            cat.update_application(&dangling).await,
            Err(CatalogStoreError::Missing(_))
        ));
        cat.update_application(&application(&p.id, None))
            .await
            .unwrap();
        assert_eq!(
            cat.application(&app.id)
                .await
                .unwrap()
                .unwrap()
                .repository_id,
            None
        );
        assert!(cat.delete_repository(&api.id).await.unwrap());
        assert!(!cat.delete_repository(&api.id).await.unwrap());

        // A project's deletion takes its repositories (and the
        // applications that use them) along.
        let used = application(&q.id, Some(&web.id));
        cat.insert_application(&Application {
            id: "app-web".into(),
            ..used
        })
        .await
        .unwrap();
        assert!(cat.delete_project(&q.id).await.unwrap());
        assert!(
            cat.repository(&web.id).await.unwrap().is_none(),
            "{backend}"
        );
        assert!(cat.application("app-web").await.unwrap().is_none());
    }
}
