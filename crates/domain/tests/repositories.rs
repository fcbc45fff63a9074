//! Named repositories over the in-memory catalog: who may see and change
//! them, the name rules, the credentials secret that must exist, and
//! applications that point at one (filled from it, kept from other
//! projects' repositories, and keeping it from being deleted).
#![allow(clippy::unwrap_used)]

use slipway_core::{Engine, Registry};
use slipway_domain::{
    App, ApplicationInput, Caller, DomainError, MemoryCatalog, NamedRepositoryInput, Order,
    PageRequest, ProjectInput, SecretKey, SecretOwner,
};
use std::sync::Arc;

fn fixture() -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new();
    let engine = Engine::builder(registry.clone())
        .workspace_root(dir.path())
        .build();
    let catalog = Arc::new(MemoryCatalog::with_runs(engine.store().clone()));
    let app = App::new(catalog, engine, registry).with_secret_key(SecretKey::generate().unwrap());
    (app, dir)
}

fn op() -> Caller {
    Caller::operator()
}

async fn project(app: &App, name: &str) -> String {
    let input = ProjectInput {
        name: Some(name.into()),
        description: None,
    };
    app.create_project(&op(), input).await.unwrap().id
}

async fn member(app: &App, project: &str, login: &str, role: &str) -> Caller {
    let made = app.issue_token(login, false, None).await.unwrap();
    app.put_member(&op(), project, login, role).await.unwrap();
    app.authenticate(&made.secret).await.unwrap().unwrap()
}

fn repo(name: &str, secret: Option<&str>) -> NamedRepositoryInput {
    NamedRepositoryInput {
        name: Some(name.into()),
        url: Some(format!("https://git.example.com/team/{name}.git")),
        provider: Some("gitlab".into()),
        owner: Some("team".into()),
        credentials_secret: secret.map(str::to_owned),
        ..Default::default()
    }
}

fn page() -> PageRequest {
    PageRequest {
        page: 1,
        per_page: 10,
        sort: "name".into(),
        order: Order::Asc,
    }
}

fn paths(e: &DomainError) -> Vec<String> {
    match e {
        DomainError::Invalid(p) => p.iter().map(|p| p.path.clone()).collect(),
        other => panic!("not invalid: {other:?}"),
    }
}

#[tokio::test]
async fn members_see_maintainers_change_and_names_stay_unique_and_label_like() {
    let (app, _dir) = fixture();
    let team = project(&app, "team").await;
    let other = project(&app, "other").await;
    let viewer = member(&app, &team, "vic", "viewer").await;
    let maintainer = member(&app, &team, "max", "maintainer").await;
    let outsider = member(&app, &other, "oz", "owner").await;

    // Bad input: every problem with its field, nothing made.
    let bad = NamedRepositoryInput {
        name: Some("Not_A-Label".into()),
        url: Some("ftp://x".into()),
        default_branch: Some("a b".into()),
        provider: Some("svn".into()),
        credentials_secret: Some("lower".into()),
        ..Default::default()
    };
    let err = app
        .create_repository(&maintainer, &team, bad)
        .await
        .unwrap_err();
    assert_eq!(
        paths(&err),
        [
            "name",
            "url",
            "default_branch",
            "provider",
            "credentials_secret"
        ]
    );
    for name in [
        "-api",
        "api-",
        &"a".repeat(64),
        "6f1c2b0e-8d2a-4c1e-9a3b-2f4d5e6a7b8c",
    ] {
        let err = app
            .create_repository(&maintainer, &team, repo(name, None))
            .await
            .unwrap_err();
        assert_eq!(paths(&err), ["name"], "{name}");
    }
    // The credentials secret must be one of the project's.
    let err = app
        .create_repository(&maintainer, &team, repo("api", Some("GIT_TOKEN")))
        .await
        .unwrap_err();
    assert_eq!(paths(&err), ["credentials_secret"]);
    assert_eq!(
        app.repositories(&op(), None, &page()).await.unwrap().total,
        0
    );

    // A viewer may not create; a maintainer may, once the secret is set.
    app.put_secret(&op(), SecretOwner::Project(&team), "GIT_TOKEN", "bot:t0k3n")
        .await
        .unwrap();
    assert!(matches!(
        app.create_repository(&viewer, &team, repo("api", Some("GIT_TOKEN")))
            .await,
        Err(DomainError::Forbidden(_))
    ));
    let api = app
        .create_repository(&maintainer, &team, repo("api", Some("GIT_TOKEN")))
        .await
        .unwrap();
    assert_eq!(api.default_branch, "main");
    assert_eq!(api.created_by.as_ref().unwrap().name, "max");

    // Names are unique in the server, across projects.
    assert!(matches!(
        app.create_repository(&outsider, &other, repo("api", None))
            .await,
        Err(DomainError::Conflict(_))
    ));

    // Seen by id or name by members; not by others, whose lists leave it
    // out.
    assert_eq!(app.repository(&viewer, "api").await.unwrap().id, api.id);
    assert_eq!(app.repository(&viewer, &api.id).await.unwrap().name, "api");
    assert!(matches!(
        app.repository(&outsider, "api").await,
        Err(DomainError::Forbidden(_))
    ));
    assert!(matches!(
        app.repository(&viewer, "nope").await,
        Err(DomainError::NotFound { .. })
    ));
    assert_eq!(
        app.repositories(&viewer, None, &page())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        app.repositories(&outsider, None, &page())
            .await
            .unwrap()
            .total,
        0
    );
    assert!(matches!(
        app.repositories(&outsider, Some(&team), &page()).await,
        Err(DomainError::Forbidden(_))
    ));

    // Changed by a maintainer only; an empty field removes it.
    let change = NamedRepositoryInput {
        url: Some("https://git.example.com/team/api2.git".into()),
        owner: Some(String::new()),
        credentials_secret: Some(String::new()),
        ..Default::default()
    };
    assert!(matches!(
        app.update_repository(&viewer, "api", change.clone()).await,
        Err(DomainError::Forbidden(_))
    ));
    let changed = app
        .update_repository(&maintainer, "api", change)
        .await
        .unwrap();
    assert_eq!(changed.url, "https://git.example.com/team/api2.git");
    assert_eq!((changed.owner, changed.credentials_secret), (None, None));
    assert_eq!(changed.updated_by.unwrap().name, "max");

    assert!(matches!(
        app.delete_repository(&viewer, "api").await,
        Err(DomainError::Forbidden(_))
    ));
    app.delete_repository(&maintainer, "api").await.unwrap();
    assert!(matches!(
        app.repository(&op(), "api").await,
        Err(DomainError::NotFound { .. })
    ));
}

#[tokio::test]
async fn an_application_uses_its_own_projects_repository_which_stays_while_used() {
    let (app, _dir) = fixture();
    let team = project(&app, "team").await;
    let other = project(&app, "other").await;
    app.put_secret(&op(), SecretOwner::Project(&team), "GIT_TOKEN", "t0k3n")
        .await
        .unwrap();
    let api = app
        .create_repository(&op(), &team, repo("api", Some("GIT_TOKEN")))
        .await
        .unwrap();
    app.create_repository(&op(), &other, repo("elsewhere", None))
        .await
        .unwrap();
    let with_ref = |r: &str| ApplicationInput {
        name: Some("api".into()),
        repository_ref: Some(r.into()),
        ..Default::default()
    };

    // Another project's repository, or none by that name: refused at
    // `repository_ref`.
    for r in ["elsewhere", "missing"] {
        let err = app
            .create_application(&op(), &team, with_ref(r))
            .await
            .unwrap_err();
        assert_eq!(paths(&err), ["repository_ref"], "{r}");
    }
    // A URL given with it is refused: it comes from the repository.
    let mut both = with_ref("api");
    both.repository = Some(slipway_domain::RepositoryInput {
        url: Some("https://elsewhere.example.com/x.git".into()),
        ..Default::default()
    });
    let err = app
        .create_application(&op(), &team, both)
        .await
        .unwrap_err();
    assert_eq!(paths(&err), ["repository.url"]);

    // By name: the repository's fields fill the application's.
    let made = app
        .create_application(&op(), &team, with_ref("api"))
        .await
        .unwrap();
    assert_eq!(made.repository_id.as_deref(), Some(api.id.as_str()));
    assert_eq!(made.repository.url, api.url);
    assert_eq!(made.repository.provider.as_str(), "gitlab");
    assert_eq!(
        (
            made.repository.owner.as_str(),
            made.repository.name.as_str()
        ),
        ("team", "api")
    );

    // Kept while used (409 naming the application); free once it lets go.
    let err = app.delete_repository(&op(), "api").await.unwrap_err();
    assert!(
        matches!(&err, DomainError::Conflict(m) if m.contains("`api`")),
        "{err:?}"
    );
    let letting_go = ApplicationInput {
        repository_ref: Some(String::new()),
        ..Default::default()
    };
    let changed = app
        .update_application(&op(), &made.id, letting_go)
        .await
        .unwrap();
    assert_eq!(changed.repository_id, None);
    assert_eq!(changed.repository.url, api.url);
    app.delete_repository(&op(), &api.id).await.unwrap();
}
