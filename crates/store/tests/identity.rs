//! Users, project members, followed applications and the migration that
//! made users of the tokens, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, Utc};
use diesel::RunQueryDsl;
use slipway_domain::catalog::{
    ApiToken, Application, CatalogStore, CatalogStoreError, Order, PageRequest, Project, Provider,
    Repository, Role, User,
};
use slipway_store::db::{self, AnyConnection};
use slipway_store::testing::TestDb;
use slipway_store::{Db, DbOptions, SqlCatalog};

/// A time `ago_s` seconds back, in whole seconds (exact on both backends).
fn secs_ago(ago_s: i64) -> DateTime<Utc> {
    let t = Utc::now() - Duration::seconds(ago_s);
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

fn user(login: &str, age_s: i64) -> User {
    User {
        id: format!("user-{login}"),
        login: login.into(),
        display_name: format!("{login} the tester"),
        email: None,
        is_admin: false,
        created_by: Some("root".into()),
        created_at: secs_ago(age_s),
        disabled_at: None,
    }
}

fn project(name: &str) -> Project {
    let at = secs_ago(100);
    Project {
        id: format!("project-{name}"),
        name: name.into(),
        description: String::new(),
        created_at: at,
        updated_at: at,
    }
}

fn application(project_id: &str, name: &str) -> Application {
    let at = secs_ago(50);
    Application {
        id: format!("app-{name}"),
        project_id: project_id.into(),
        name: name.into(),
        description: String::new(),
        repository: Repository {
            provider: Provider::Github,
            owner: "acme".into(),
            name: name.into(),
            url: format!("https://github.com/acme/{name}.git"),
            provider_repo_id: String::new(),
        },
        default_branch: "main".into(),
        template_path: ".slipway/workflow.yaml".into(),
        triggers: Vec::new(),
        cancel_superseded: false,
        webhook_secret: None,
        permissions: None,
        created_by: None,
        updated_by: None,
        created_at: at,
        updated_at: at,
        last_run: None,
        repository_id: None,
    }
}

fn token(id: &str, user_id: &str) -> ApiToken {
    ApiToken {
        id: id.into(),
        name: format!("token {id}"),
        prefix: "slw_123456".into(),
        user_id: user_id.into(),
        is_admin: false,
        created_by: None,
        created_at: secs_ago(10),
        last_used_at: None,
        revoked_at: None,
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

fn open(t: &TestDb) -> SqlCatalog {
    SqlCatalog::new(Db::open(&t.url, &DbOptions::default()).unwrap())
}

/// The message of a `Duplicate`, else a panic.
fn duplicate<T: std::fmt::Debug>(r: Result<T, CatalogStoreError>) -> String {
    match r {
        Err(CatalogStoreError::Duplicate(m)) => m,
        other => panic!("not a duplicate: {other:?}"),
    }
}

/// The message of a `Missing`, else a panic.
fn missing<T: std::fmt::Debug>(r: Result<T, CatalogStoreError>) -> String {
    match r {
        Err(CatalogStoreError::Missing(m)) => m,
        other => panic!("not missing: {other:?}"),
    }
}

/// The message of a `Refused`, else a panic.
fn refused<T: std::fmt::Debug>(r: Result<T, CatalogStoreError>) -> String {
    match r {
        Err(CatalogStoreError::Refused(m)) => m,
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn users_are_kept_with_unique_logins_and_emails_whatever_their_case() {
    for t in TestDb::all() {
        let backend = t.backend();
        let cat = open(&t);
        let ann = User {
            email: Some("Ann@Example.com".into()),
            is_admin: true,
            ..user("ann", 30)
        };
        let bob = user("bob", 20);
        let cid = User {
            email: Some("cid@example.com".into()),
            ..user("cid", 10)
        };
        for u in [&ann, &bob, &cid] {
            cat.insert_user(u).await.unwrap();
        }
        assert_eq!(cat.user(&ann.id).await.unwrap().as_ref(), Some(&ann));
        assert_eq!(cat.user_by_login("bob").await.unwrap().as_ref(), Some(&bob));
        assert!(
            cat.user_by_login("BOB").await.unwrap().is_none(),
            "{backend}"
        );
        assert!(cat.user("user-nobody").await.unwrap().is_none());
        assert_eq!(
            cat.user_by_email("ann@EXAMPLE.com").await.unwrap().as_ref(),
            Some(&ann),
            "{backend}: e-mails compare without case"
        );
        assert!(
            cat.user_by_email("ann@example.org")
                .await
                .unwrap()
                .is_none()
        );

        // A taken login or e-mail is a duplicate naming its field.
        let login_taken = User {
            id: "user-ann-2".into(),
            ..user("ann", 5)
        };
        let m = duplicate(cat.insert_user(&login_taken).await);
        assert!(m.contains("login") && m.contains("ann"), "{backend}: {m}");
        let email_taken = User {
            email: Some("ANN@example.COM".into()),
            ..user("dora", 5)
        };
        let m = duplicate(cat.insert_user(&email_taken).await);
        assert!(m.contains("email"), "{backend}: {m}");
        assert!(!m.contains("login"), "{backend}: {m}");
        let id_taken = User {
            login: "someone-else".into(),
            ..bob.clone()
        };
        duplicate(cat.insert_user(&id_taken).await);
        assert!(cat.user_by_login("dora").await.unwrap().is_none());
        assert!(cat.user_by_login("someone-else").await.unwrap().is_none());

        // Pages by login or creation time.
        let logins = |p: slipway_domain::Page<User>| {
            (
                p.total,
                p.items.into_iter().map(|u| u.login).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            logins(cat.users(&page(1, 2, "login", Order::Desc)).await.unwrap()),
            (3, vec!["cid".to_owned(), "bob".to_owned()]),
            "{backend}"
        );
        assert_eq!(
            logins(
                cat.users(&page(2, 2, "created_at", Order::Asc))
                    .await
                    .unwrap()
            ),
            (3, vec!["cid".to_owned()]),
            "{backend}"
        );

        // Updates change the display name, e-mail, admin flag and
        // disabled time, never the login or creation.
        let changed = User {
            login: "bobby".into(),
            display_name: "Robert".into(),
            email: Some("bob@example.com".into()),
            is_admin: true,
            created_by: Some("somebody".into()),
            created_at: secs_ago(1),
            disabled_at: Some(secs_ago(2)),
            ..bob.clone()
        };
        assert!(cat.update_user(&changed).await.unwrap(), "{backend}");
        let stored = cat.user(&bob.id).await.unwrap().unwrap();
        assert_eq!(
            stored,
            User {
                login: bob.login.clone(),
                created_by: bob.created_by.clone(),
                created_at: bob.created_at,
                ..changed.clone()
            },
            "{backend}"
        );
        // An e-mail of somebody else's is refused; one's own, in another
        // case, is fine.
        let clash = User {
            email: Some("CID@example.com".into()),
            ..stored.clone()
        };
        let m = duplicate(cat.update_user(&clash).await);
        assert!(m.contains("email"), "{backend}: {m}");
        let recased = User {
            email: Some("BOB@example.com".into()),
            ..stored.clone()
        };
        assert!(cat.update_user(&recased).await.unwrap(), "{backend}");
        let gone = User {
            id: "user-gone".into(),
            ..stored.clone()
        };
        assert!(!cat.update_user(&gone).await.unwrap(), "{backend}");
        // Several users without an e-mail do not clash.
        cat.insert_user(&user("eve", 1)).await.unwrap();
        cat.insert_user(&user("fay", 1)).await.unwrap();
    }
}

#[tokio::test]
async fn a_service_account_is_made_with_its_first_token_or_not_at_all() {
    for t in TestDb::all() {
        let backend = t.backend();
        let cat = open(&t);
        let bot = user("deploy-bot", 10);
        cat.insert_user_with_token(&bot, &token("tok-1", &bot.id), "hash-1")
            .await
            .unwrap();
        let (found, _) = cat.token_by_hash("hash-1").await.unwrap().unwrap();
        assert_eq!(found.user_id, bot.id, "{backend}");
        assert_eq!(cat.user(&bot.id).await.unwrap().as_ref(), Some(&bot));

        // A taken login: neither the user nor the token is made.
        let again = User {
            id: "user-other".into(),
            ..bot.clone()
        };
        let m = duplicate(
            cat.insert_user_with_token(&again, &token("tok-2", &again.id), "hash-2")
                .await,
        );
        assert!(m.contains("login"), "{backend}: {m}");
        assert!(cat.token_by_hash("hash-2").await.unwrap().is_none());
        // A taken token secret: the user is not made either.
        let fresh = user("fresh-bot", 5);
        duplicate(
            cat.insert_user_with_token(&fresh, &token("tok-3", &fresh.id), "hash-1")
                .await,
        );
        assert!(cat.user(&fresh.id).await.unwrap().is_none(), "{backend}");
        assert_eq!(cat.count_tokens().await.unwrap(), 1);
    }
}

#[tokio::test]
async fn members_change_but_a_project_keeps_an_owner() {
    for t in TestDb::all() {
        let backend = t.backend();
        let cat = open(&t);
        let (ann, bob, cid) = (user("ann", 30), user("bob", 20), user("cid", 10));
        for u in [&ann, &bob, &cid] {
            cat.insert_user(u).await.unwrap();
        }
        // A project made with its owner, together; with a missing owner,
        // not at all.
        let p = project("shop");
        cat.insert_project(&p, Some(&ann.id)).await.unwrap();
        let orphan = project("orphan");
        assert_eq!(
            missing(cat.insert_project(&orphan, Some("user-nobody")).await),
            "user",
            "{backend}"
        );
        assert!(
            cat.project(&orphan.id).await.unwrap().is_none(),
            "{backend}"
        );
        let members = cat.members(&p.id).await.unwrap();
        assert_eq!(members.len(), 1);
        let m = &members[0];
        assert_eq!(
            (m.user_id.as_str(), m.login.as_str(), m.role),
            (ann.id.as_str(), "ann", Role::Owner)
        );
        assert_eq!(m.display_name, ann.display_name);
        assert_eq!((m.created_at, m.updated_at), (p.created_at, p.created_at));

        // Added, then changed; by login.
        let t1 = secs_ago(5);
        cat.put_member(&p.id, &cid.id, Role::Viewer, t1)
            .await
            .unwrap();
        cat.put_member(&p.id, &bob.id, Role::Developer, t1)
            .await
            .unwrap();
        let t2 = secs_ago(2);
        cat.put_member(&p.id, &bob.id, Role::Maintainer, t2)
            .await
            .unwrap();
        let members = cat.members(&p.id).await.unwrap();
        let roles: Vec<_> = members.iter().map(|m| (m.login.as_str(), m.role)).collect();
        assert_eq!(
            roles,
            [
                ("ann", Role::Owner),
                ("bob", Role::Maintainer),
                ("cid", Role::Viewer)
            ],
            "{backend}"
        );
        assert_eq!((members[1].created_at, members[1].updated_at), (t1, t2));

        // Missing project or user.
        assert_eq!(
            missing(
                cat.put_member("project-none", &bob.id, Role::Viewer, t2)
                    .await
            ),
            "project"
        );
        assert_eq!(
            missing(cat.put_member(&p.id, "user-none", Role::Viewer, t2).await),
            "user",
            "{backend}"
        );

        // The last owner can be neither demoted nor removed; nothing
        // changes when refused.
        let m = refused(cat.put_member(&p.id, &ann.id, Role::Maintainer, t2).await);
        assert_eq!(m, "the project must keep at least one owner");
        refused(cat.remove_member(&p.id, &ann.id).await);
        let ann_role = |members: Vec<slipway_domain::Member>| {
            members
                .into_iter()
                .find(|m| m.user_id == ann.id)
                .map(|m| m.role)
        };
        assert_eq!(
            ann_role(cat.members(&p.id).await.unwrap()),
            Some(Role::Owner),
            "{backend}"
        );
        // With a second owner, the first may go; then the second is the
        // last.
        cat.put_member(&p.id, &bob.id, Role::Owner, t2)
            .await
            .unwrap();
        cat.put_member(&p.id, &ann.id, Role::Developer, t2)
            .await
            .unwrap();
        refused(cat.remove_member(&p.id, &bob.id).await);
        assert!(cat.remove_member(&p.id, &ann.id).await.unwrap());
        assert!(
            !cat.remove_member(&p.id, &ann.id).await.unwrap(),
            "{backend}"
        );
        assert!(!cat.remove_member("project-none", &ann.id).await.unwrap());
        assert!(cat.remove_member(&p.id, &cid.id).await.unwrap());
        assert_eq!(ann_role(cat.members(&p.id).await.unwrap()), None);

        // A project that never had an owner (made before users) takes
        // members of any role.
        let old = project("legacy");
        cat.insert_project(&old, None).await.unwrap();
        cat.put_member(&old.id, &cid.id, Role::Viewer, t2)
            .await
            .unwrap();
        assert!(cat.remove_member(&old.id, &cid.id).await.unwrap());

        // Eight owners stepping down at once (half demoted, half removed),
        // a few times over: all but one may go.
        let crowd: Vec<User> = (0..8).map(|i| user(&format!("owner{i}"), 3)).collect();
        for u in &crowd {
            cat.insert_user(u).await.unwrap();
        }
        for round in 0..4 {
            for u in &crowd {
                cat.put_member(&p.id, &u.id, Role::Owner, t2).await.unwrap();
            }
            cat.remove_member(&p.id, &bob.id).await.unwrap();
            let tasks: Vec<_> = crowd
                .iter()
                .enumerate()
                .map(|(i, u)| {
                    let (cat, pid, uid) = (cat.clone(), p.id.clone(), u.id.clone());
                    tokio::spawn(async move {
                        if i % 2 == 0 {
                            cat.put_member(&pid, &uid, Role::Viewer, Utc::now()).await
                        } else {
                            cat.remove_member(&pid, &uid).await.map(|_| ())
                        }
                    })
                })
                .collect();
            let mut refusals = 0;
            for task in tasks {
                if let Err(e) = task.await.unwrap() {
                    refused::<()>(Err(e));
                    refusals += 1;
                }
            }
            let owners = cat
                .members(&p.id)
                .await
                .unwrap()
                .into_iter()
                .filter(|m| m.role == Role::Owner)
                .count();
            assert_eq!((refusals, owners), (1, 1), "{backend}: round {round}");
        }

        // Deleting the project takes its members along, not the users.
        assert!(cat.delete_project(&p.id).await.unwrap());
        assert!(cat.members(&p.id).await.unwrap().is_empty(), "{backend}");
        assert!(
            cat.identity(&bob.id)
                .await
                .unwrap()
                .unwrap()
                .roles
                .is_empty()
        );
        assert!(cat.user(&bob.id).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn follows_are_idempotent_go_with_their_application_and_show_in_the_identity() {
    for t in TestDb::all() {
        let backend = t.backend();
        let cat = open(&t);
        let (ann, bob) = (user("ann", 30), user("bob", 20));
        cat.insert_user(&ann).await.unwrap();
        cat.insert_user(&bob).await.unwrap();
        let (p, q) = (project("shop"), project("blog"));
        cat.insert_project(&p, Some(&ann.id)).await.unwrap();
        cat.insert_project(&q, None).await.unwrap();
        cat.put_member(&q.id, &ann.id, Role::Viewer, Utc::now())
            .await
            .unwrap();
        let (api, web) = (application(&p.id, "api"), application(&p.id, "web"));
        cat.insert_application(&api).await.unwrap();
        cat.insert_application(&web).await.unwrap();

        let at = Utc::now();
        for _ in 0..2 {
            cat.set_follow(&web.id, &ann.id, true, at).await.unwrap();
            cat.set_follow(&api.id, &ann.id, true, at).await.unwrap();
        }
        cat.set_follow(&api.id, &bob.id, true, at).await.unwrap();
        cat.set_follow(&api.id, &bob.id, false, at).await.unwrap();
        cat.set_follow(&api.id, &bob.id, false, at).await.unwrap();
        assert_eq!(
            missing(cat.set_follow("app-none", &ann.id, true, at).await),
            "application",
            "{backend}"
        );
        assert_eq!(
            missing(cat.set_follow("app-none", &ann.id, false, at).await),
            "application",
            "{backend}"
        );
        assert_eq!(
            missing(cat.set_follow(&api.id, "user-none", true, at).await),
            "user",
            "{backend}"
        );

        // The identity: the user, roles by project, follows by
        // application.
        let id = cat.identity(&ann.id).await.unwrap().unwrap();
        assert_eq!(id.user, ann);
        let mut roles = vec![(p.id.clone(), Role::Owner), (q.id.clone(), Role::Viewer)];
        roles.sort();
        assert_eq!(id.roles, roles, "{backend}");
        assert_eq!(id.follows, [api.id.clone(), web.id.clone()], "{backend}");
        let bob_id = cat.identity(&bob.id).await.unwrap().unwrap();
        assert!(bob_id.roles.is_empty() && bob_id.follows.is_empty());
        assert!(cat.identity("user-none").await.unwrap().is_none());

        // Deleting an application takes its follows along (and a new one
        // under the same id starts with none).
        assert!(cat.delete_application(&api.id).await.unwrap());
        let id = cat.identity(&ann.id).await.unwrap().unwrap();
        assert_eq!(id.follows, std::slice::from_ref(&web.id), "{backend}");
        cat.insert_application(&api).await.unwrap();
        let id = cat.identity(&ann.id).await.unwrap().unwrap();
        assert_eq!(id.follows, std::slice::from_ref(&web.id), "{backend}");
        // And deleting the project, those of its applications.
        assert!(cat.delete_project(&p.id).await.unwrap());
        let id = cat.identity(&ann.id).await.unwrap().unwrap();
        assert!(id.follows.is_empty(), "{backend}");
        assert_eq!(id.roles, [(q.id.clone(), Role::Viewer)], "{backend}");
    }
}

/// Runs `sql` on `conn`.
fn exec(conn: &mut AnyConnection, sql: &str) {
    db::execute(conn, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The one number `sql` (a `SELECT count(*) AS n ...`) answers.
fn count(conn: &mut AnyConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: Vec<N> = diesel::sql_query(sql).load(conn).unwrap();
    rows[0].n
}

#[tokio::test]
async fn the_identity_migration_makes_a_user_of_every_token() {
    for t in TestDb::all() {
        let backend = t.backend();
        // The database as the previous server left it, with tokens that
        // share names: two as old as each other (the smaller id keeps the
        // name), one younger with the smallest id of all.
        let mut conn = db::connect(&t.url, &DbOptions::default()).unwrap();
        db::run_migrations_to(&mut conn, "2026-12-01-000010").unwrap();
        let tokens = [
            (
                "c3333333-0000-4000-8000-000000000000",
                "ci",
                "2026-01-01 10:00:00",
                "FALSE",
                "NULL",
                "NULL",
            ),
            (
                "c2222222-0000-4000-8000-000000000000",
                "ci",
                "2026-01-01 10:00:00",
                "FALSE",
                "NULL",
                "NULL",
            ),
            (
                "c1111111-0000-4000-8000-000000000000",
                "ci",
                "2026-01-01 11:00:00",
                "TRUE",
                "'ci'",
                "NULL",
            ),
            (
                "d4444444-0000-4000-8000-000000000000",
                "deploy",
                "2026-01-02 09:30:00.250",
                "TRUE",
                "'ci'",
                "'2026-02-01 00:00:00'",
            ),
        ];
        for (id, name, at, admin, by, revoked) in tokens {
            exec(
                &mut conn,
                &format!(
                    "INSERT INTO api_tokens (id, name, prefix, secret_hash, is_admin, created_by, \
                     created_at, last_used_at, revoked_at) VALUES ('{id}', '{name}', 'slw_abcdef', \
                     'hash-{id}', {admin}, {by}, '{at}', NULL, {revoked})"
                ),
            );
        }
        db::run_migrations_to(&mut conn, "2026-12-01-000011").unwrap();
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) AS n FROM api_tokens WHERE user_id = id"
            ),
            4,
            "{backend}: each token is its own user's"
        );
        drop(conn);

        let cat = open(&t);
        let login = |id: &'static str| {
            let cat = cat.clone();
            async move { cat.user(id).await.unwrap().unwrap() }
        };
        let plain = login("c2222222-0000-4000-8000-000000000000").await;
        assert_eq!(plain.login, "ci", "{backend}");
        assert_eq!(
            login("c3333333-0000-4000-8000-000000000000").await.login,
            "ci-c3333333",
            "{backend}: as old, a larger id"
        );
        let younger = login("c1111111-0000-4000-8000-000000000000").await;
        assert_eq!(younger.login, "ci-c1111111", "{backend}: younger");
        assert_eq!(
            (younger.display_name.as_str(), younger.is_admin),
            ("ci", true)
        );
        assert_eq!(younger.created_by.as_deref(), Some("ci"));
        let deploy = login("d4444444-0000-4000-8000-000000000000").await;
        assert_eq!(
            User {
                id: "d4444444-0000-4000-8000-000000000000".into(),
                login: "deploy".into(),
                display_name: "deploy".into(),
                email: None,
                is_admin: true,
                created_by: Some("ci".into()),
                created_at: "2026-01-02T09:30:00.250Z".parse().unwrap(),
                disabled_at: None,
            },
            deploy,
            "{backend}"
        );
        assert!(!plain.is_admin && plain.created_by.is_none());
        assert_eq!(
            cat.users(&page(1, 10, "login", Order::Asc))
                .await
                .unwrap()
                .total,
            4
        );
        // Tokens still work and name their users; a revoked one stays
        // revoked.
        for (id, ..) in tokens {
            let (tok, _) = cat
                .token_by_hash(&format!("hash-{id}"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(tok.user_id, id, "{backend}");
        }
        let (revoked, _) = cat
            .token_by_hash("hash-d4444444-0000-4000-8000-000000000000")
            .await
            .unwrap()
            .unwrap();
        assert!(revoked.revoked_at.is_some());
        assert!(cat.identity(&plain.id).await.unwrap().is_some());

        // The migration goes back down (tokens kept, users gone) and up
        // again.
        drop(cat);
        let mut conn = db::connect(&t.url, &DbOptions::default()).unwrap();
        db::revert_migrations_after(&mut conn, "2026-12-01-000010").unwrap();
        assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM api_tokens"), 4);
        assert!(
            diesel::sql_query("SELECT id FROM users")
                .execute(&mut conn)
                .is_err(),
            "{backend}: no users table"
        );
        db::run_migrations(&mut conn).unwrap();
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) AS n FROM users WHERE login LIKE 'ci%'"
            ),
            3,
            "{backend}"
        );
    }
}
