//! The audit trail on SQLite and PostgreSQL (and, by the same checks, in
//! the in-memory catalog): entries come back as they were recorded, every
//! filter narrows to what it names, pages are newest first (or oldest
//! first), never overlap, and entries of the same time are ordered by id;
//! through the use case, only admins read the whole trail and bad filters
//! are refused by field.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use slipway_core::Registry;
use slipway_domain::catalog::{CatalogStore, Order, PageRequest};
use slipway_domain::{AuditEntry, AuditFilter, Caller, DomainError, MemoryCatalog};
use slipway_store::testing::{TestDb, sql_app};
use slipway_store::{Db, DbOptions, SqlCatalog};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap()
}

/// An entry `secs` seconds after [`t0`].
#[allow(clippy::too_many_arguments)]
fn entry(
    id: &str,
    secs: i64,
    user: Option<(&str, &str)>,
    action: &str,
    kind: &str,
    object: Option<&str>,
    project: Option<&str>,
    status: u16,
) -> AuditEntry {
    let mut e = AuditEntry::new(t0() + Duration::seconds(secs), status);
    e.id = id.into();
    match user {
        Some((uid, name)) => {
            e.user_id = Some(uid.into());
            e.user_name = name.into();
            e.token_id = Some(format!("token-of-{uid}"));
        }
        None => e.user_name = "anonymous".into(),
    }
    e.api = "native".into();
    e.method = "POST".into();
    e.route = format!("/api/v1/{kind}s");
    e.action = action.into();
    e.object_kind = kind.into();
    e.object_id = object.map(str::to_owned);
    e.project_id = project.map(str::to_owned);
    e
}

fn entries() -> Vec<AuditEntry> {
    let ann = Some(("u1", "ann"));
    let bob = Some(("u2", "bob"));
    vec![
        entry("e1", 1, ann, "create", "project", None, Some("p1"), 201),
        entry(
            "e2",
            2,
            bob,
            "delete",
            "project",
            Some("p1"),
            Some("p1"),
            404,
        ),
        entry("e3", 3, None, "login", "session", None, None, 401),
        entry(
            "e4",
            4,
            ann,
            "update",
            "secret",
            Some("API_KEY"),
            Some("p2"),
            200,
        ),
        entry("e5", 5, ann, "cancel", "run", Some("r1"), Some("p2"), 409),
        // Two at the same time: ordered by id.
        entry("e7", 6, bob, "create", "token", None, None, 403),
        entry("e6", 6, bob, "delete", "token", Some("t9"), None, 500),
    ]
}

fn page(n: u32, per: u32, order: Order) -> PageRequest {
    PageRequest {
        page: n,
        per_page: per,
        sort: String::new(),
        order,
    }
}

async fn ids(cat: &dyn CatalogStore, filter: &AuditFilter) -> Vec<String> {
    let found = cat
        .audit_entries(filter, &page(1, 100, Order::Desc))
        .await
        .unwrap();
    assert_eq!(found.total, found.items.len() as u64);
    found.items.into_iter().map(|e| e.id).collect()
}

/// Every check, on any catalog.
async fn check(cat: &dyn CatalogStore, backend: &str) {
    let all = entries();
    for e in &all {
        cat.insert_audit(e).await.unwrap();
    }

    // Read back whole, newest first; same time by id, descending.
    let found = cat
        .audit_entries(&AuditFilter::default(), &page(1, 100, Order::Desc))
        .await
        .unwrap();
    assert_eq!(found.total, 7, "{backend}");
    let order: Vec<&str> = found.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        order,
        ["e7", "e6", "e5", "e4", "e3", "e2", "e1"],
        "{backend}"
    );
    for e in &found.items {
        let sent = all.iter().find(|s| s.id == e.id).unwrap();
        assert_eq!(e, sent, "{backend}: recorded as sent");
    }
    assert_eq!(found.items[4].outcome, "unauthorized");
    assert_eq!(found.items[4].user_id, None);

    // Each filter.
    let cases: Vec<(AuditFilter, Vec<&str>)> = vec![
        (
            AuditFilter {
                user: Some("u1".into()),
                ..AuditFilter::default()
            },
            vec!["e5", "e4", "e1"],
        ),
        (
            AuditFilter {
                user: Some("bob".into()),
                ..AuditFilter::default()
            },
            vec!["e7", "e6", "e2"],
        ),
        (
            AuditFilter {
                user: Some("anonymous".into()),
                ..AuditFilter::default()
            },
            vec!["e3"],
        ),
        (
            AuditFilter {
                action: Some("delete".into()),
                ..AuditFilter::default()
            },
            vec!["e6", "e2"],
        ),
        (
            AuditFilter {
                object_kind: Some("project".into()),
                ..AuditFilter::default()
            },
            vec!["e2", "e1"],
        ),
        (
            AuditFilter {
                object_id: Some("API_KEY".into()),
                ..AuditFilter::default()
            },
            vec!["e4"],
        ),
        (
            AuditFilter {
                project_id: Some("p2".into()),
                ..AuditFilter::default()
            },
            vec!["e5", "e4"],
        ),
        (
            AuditFilter {
                outcome: Some("not_found".into()),
                ..AuditFilter::default()
            },
            vec!["e2"],
        ),
        (
            AuditFilter {
                outcome: Some("error".into()),
                ..AuditFilter::default()
            },
            vec!["e6"],
        ),
        (
            AuditFilter {
                since: Some(t0() + Duration::seconds(5)),
                ..AuditFilter::default()
            },
            vec!["e7", "e6", "e5"],
        ),
        (
            AuditFilter {
                until: Some(t0() + Duration::seconds(2)),
                ..AuditFilter::default()
            },
            vec!["e1"],
        ),
        (
            AuditFilter {
                user: Some("ann".into()),
                project_id: Some("p2".into()),
                outcome: Some("ok".into()),
                since: Some(t0() + Duration::seconds(4)),
                until: Some(t0() + Duration::seconds(5)),
                ..AuditFilter::default()
            },
            vec!["e4"],
        ),
        (
            AuditFilter {
                user: Some("nobody".into()),
                ..AuditFilter::default()
            },
            vec![],
        ),
    ];
    for (filter, want) in cases {
        assert_eq!(ids(cat, &filter).await, want, "{backend}: {filter:?}");
        // The rule the stores keep is the one the domain states.
        let by_rule: Vec<&str> = {
            let mut v: Vec<&AuditEntry> = all.iter().filter(|e| filter.matches(e)).collect();
            v.sort_by(|a, b| (b.at, &b.id).cmp(&(a.at, &a.id)));
            v.into_iter().map(|e| e.id.as_str()).collect()
        };
        assert_eq!(by_rule, want, "{backend}: matches() {filter:?}");
    }

    // Pages: newest first by default, oldest first when asked; they
    // never overlap and the last one is short.
    let mut seen = Vec::new();
    for n in 1..=4 {
        let p = cat
            .audit_entries(&AuditFilter::default(), &page(n, 2, Order::Desc))
            .await
            .unwrap();
        assert_eq!(p.total, 7, "{backend}");
        assert_eq!((p.page, p.per_page), (n, 2));
        assert_eq!(p.items.len(), if n == 4 { 1 } else { 2 }, "{backend}");
        seen.extend(p.items.into_iter().map(|e| e.id));
    }
    assert_eq!(
        seen,
        ["e7", "e6", "e5", "e4", "e3", "e2", "e1"],
        "{backend}"
    );
    let asc = cat
        .audit_entries(&AuditFilter::default(), &page(1, 3, Order::Asc))
        .await
        .unwrap();
    let asc: Vec<String> = asc.items.into_iter().map(|e| e.id).collect();
    assert_eq!(asc, ["e1", "e2", "e3"], "{backend}");
    let beyond = cat
        .audit_entries(&AuditFilter::default(), &page(9, 2, Order::Desc))
        .await
        .unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 7);
    let project_page = cat
        .audit_entries(
            &AuditFilter {
                project_id: Some("p1".into()),
                ..AuditFilter::default()
            },
            &page(2, 1, Order::Desc),
        )
        .await
        .unwrap();
    assert_eq!(project_page.total, 2);
    assert_eq!(project_page.items[0].id, "e1", "{backend}");
}

#[tokio::test]
async fn the_audit_trail_is_kept_filtered_and_paged() {
    TestDb::each(async |t| {
        let db = Db::open(&t.url, &DbOptions::default()).unwrap();
        check(&SqlCatalog::new(db), t.backend()).await;
    })
    .await;
}

#[tokio::test]
async fn the_in_memory_catalog_keeps_the_same_rules() {
    check(&MemoryCatalog::new(), "memory").await;
}

/// The caller a new service account's token stands for.
async fn caller(app: &slipway_domain::App, name: &str, is_admin: bool) -> Caller {
    let made = app.issue_token(name, is_admin, None).await.unwrap();
    app.authenticate(&made.secret).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_read_the_trail_and_bad_filters_are_named() {
    TestDb::each(async |t| {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&t.url, &DbOptions::default()).unwrap();
        let app = sql_app(&db, Registry::new(), dir.path());
        for e in entries() {
            app.record_audit(e).await.unwrap();
        }
        let admin = caller(&app, "root", true).await;
        let all = app
            .audit(&admin, &AuditFilter::default(), &page(1, 20, Order::Desc))
            .await
            .unwrap();
        assert_eq!(all.total, 7, "{}", t.backend());

        // Not an admin: refused, whole or by a project they do not own.
        let ci = caller(&app, "ci", false).await;
        for filter in [
            AuditFilter::default(),
            AuditFilter {
                project_id: Some("p1".into()),
                ..AuditFilter::default()
            },
        ] {
            let refused = app.audit(&ci, &filter, &page(1, 20, Order::Desc)).await;
            assert!(
                matches!(refused, Err(DomainError::Forbidden(_))),
                "{refused:?}"
            );
        }

        // A project's owner reads its trail, and only its trail.
        let olga = caller(&app, "olga", false).await;
        let mine = app
            .create_project(
                &olga,
                slipway_domain::ProjectInput {
                    name: Some("mine".into()),
                    description: None,
                },
            )
            .await
            .unwrap();
        let olga = app
            .authenticate_user(&olga.user_id, olga.token_id.as_deref())
            .await
            .unwrap()
            .unwrap();
        let mut e = entries().remove(0);
        e.id = "mine-1".into();
        e.project_id = Some(mine.id.clone());
        app.record_audit(e).await.unwrap();
        let own = app
            .audit(
                &olga,
                &AuditFilter {
                    project_id: Some(mine.id.clone()),
                    ..AuditFilter::default()
                },
                &page(1, 20, Order::Desc),
            )
            .await
            .unwrap();
        assert_eq!(own.total, 1, "{}", t.backend());
        assert!(matches!(
            app.audit(&olga, &AuditFilter::default(), &page(1, 20, Order::Desc))
                .await,
            Err(DomainError::Forbidden(_))
        ));

        // Bad filters: named by field.
        let bad = app
            .audit(
                &admin,
                &AuditFilter {
                    outcome: Some("fine".into()),
                    ..AuditFilter::default()
                },
                &page(1, 20, Order::Desc),
            )
            .await;
        match bad {
            Err(DomainError::Invalid(problems)) => assert_eq!(problems[0].path, "outcome"),
            other => panic!("{other:?}"),
        }
        // An empty window is no error: nothing is in it.
        let none = app
            .audit(
                &admin,
                &AuditFilter {
                    since: Some(t0() + Duration::seconds(5)),
                    until: Some(t0()),
                    ..AuditFilter::default()
                },
                &page(1, 20, Order::Desc),
            )
            .await
            .unwrap();
        assert_eq!(none.total, 0);
    })
    .await;
}
