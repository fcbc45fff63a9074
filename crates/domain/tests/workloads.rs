#![allow(clippy::unwrap_used)]
//! The Deploy API's formats (`manifest.json`, `pipeline.json`) and the
//! in-memory store of load states. Loading from a real git repository is
//! tested in `crates/git/tests/git.rs`; the SQL store of load states in
//! `crates/store/tests/loads.rs`.

use chrono::{TimeZone, Utc};
use slipway_domain::Problem;
use slipway_domain::workloads::{
    LoadState, LoadStore, Loaded, LoadedManifest, LoadedPipeline, Manifest, MemoryLoadStore,
    Pipeline, ResolvedTask, WorkloadKind,
};

/// Asserts that `problems` has one at each of the `expected` paths.
fn assert_problems_at(problems: &[Problem], expected: &[&str]) {
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    for expected in expected {
        assert!(
            paths.contains(expected),
            "{expected} missing from {problems:?}"
        );
    }
}

#[test]
fn manifest_validation_lists_every_problem_with_its_path() {
    let bad = serde_json::json!({
        "kind": "cronjob",
        "name": "Bad_Name",
        "args": ["ok", 3],
        "env": {"1X": "a", "SLIPWAY_COMMIT": "b", "OK": 5},
        "port": 80,
        "instances": 0,
        "colour": "blue"
    });
    let problems = Manifest::from_value(&bad).unwrap_err();
    assert_problems_at(
        &problems,
        &[
            "name",
            "command",
            "args[1]",
            "env.1X",
            "env.SLIPWAY_COMMIT",
            "env.OK",
            "port",
            "instances",
            "schedule",
            "colour",
        ],
    );
    let good = serde_json::json!({"kind": "deployment", "name": "api", "command": "./api"});
    let m = Manifest::from_value(&good).unwrap();
    assert_eq!(m.kind, WorkloadKind::Deployment);
    assert!(m.validate().is_ok());
}

#[test]
fn pipeline_validation_lists_every_problem_with_its_path() {
    let bad = serde_json::json!({
        "steps": [
            {"directory": "../outside"},
            {"parallel": []},
            {"directory": "a", "manifest": {"kind": "job", "name": "x", "command": "y"}},
            {"parallel": [{"manifest": {"kind": "service", "name": "s", "command": "c"}}]},
            {"manifest": {"kind": "job", "name": "dup", "command": "c"}},
            {"manifest": {"kind": "job", "name": "dup", "command": "c"}}
        ]
    });
    let problems = Pipeline::from_value(&bad).unwrap_err();
    assert_problems_at(
        &problems,
        &[
            "steps[0].directory",
            "steps[1].parallel",
            "steps[2]",
            "steps[3].parallel[0].manifest.port",
            "steps[5]",
        ],
    );
    let err = Pipeline::from_value(&serde_json::json!({"steps": []})).unwrap_err();
    assert_eq!(err[0].path, "steps");
}

fn t(s: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
}

#[tokio::test]
async fn the_memory_store_keeps_states_and_never_changes_a_finished_load() {
    let store = MemoryLoadStore::new();
    let a = store.insert("manifest", t(0), t(30)).await.unwrap();
    let b = store.insert("pipeline", t(0), t(30)).await.unwrap();
    assert_ne!(a, b);
    assert_eq!(a.0.len(), 32, "{a}");
    let got = store.get(&a).await.unwrap().unwrap();
    assert_eq!(got.state, LoadState::Pending);
    assert_eq!(got.kind, "manifest");

    assert!(
        store
            .set(&a, &LoadState::Loading, t(1), t(31))
            .await
            .unwrap()
    );
    let failed = LoadState::failed("boom");
    assert!(store.set(&a, &failed, t(2), t(32)).await.unwrap());
    // Finished: later changes are refused and change nothing.
    assert!(
        !store
            .set(&a, &LoadState::Loading, t(3), t(33))
            .await
            .unwrap()
    );
    assert_eq!(store.get(&a).await.unwrap().unwrap().state, failed);
    assert!(
        !store
            .set(
                &slipway_domain::workloads::WorkId("nope".into()),
                &failed,
                t(3),
                t(33)
            )
            .await
            .unwrap()
    );

    // b's lease runs out at t(30): abandoned after, not before.
    let interrupted = LoadState::failed("interrupted");
    assert_eq!(store.fail_abandoned(&interrupted, t(29)).await.unwrap(), 0);
    assert_eq!(store.fail_abandoned(&interrupted, t(31)).await.unwrap(), 1);
    assert_eq!(store.get(&b).await.unwrap().unwrap().state, interrupted);

    // Pruning forgets finished loads changed before the cut.
    let c = store.insert("document", t(40), t(70)).await.unwrap();
    assert_eq!(store.prune(t(35)).await.unwrap(), 2);
    assert!(store.get(&a).await.unwrap().is_none());
    assert!(store.get(&b).await.unwrap().is_none());
    assert!(
        store.get(&c).await.unwrap().is_some(),
        "unfinished loads stay"
    );
}

#[test]
fn load_states_round_trip_through_their_json_form() {
    let manifest =
        Manifest::from_value(&serde_json::json!({"kind": "job", "name": "m", "command": "true"}))
            .unwrap();
    let state = LoadState::Loaded {
        result: Box::new(Loaded::Manifest(LoadedManifest {
            commit: slipway_core::source::CommitInfo {
                id: "a".repeat(40),
                reference: "main".into(),
                refname: Some("refs/heads/main".into()),
                message: "m\n".into(),
                author: slipway_core::source::Person {
                    name: "Ada".into(),
                    email: "ada@example.com".into(),
                },
                time: t(0),
            },
            path: "manifest.json".into(),
            manifest,
        })),
    };
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!(json["state"], "loaded");
    assert_eq!(json["result"]["kind"], "manifest");
    let back: LoadState = serde_json::from_value(json).unwrap();
    assert_eq!(back, state);

    // A pipeline with a parallel step and an inline manifest.
    let pipeline = Pipeline::from_value(&serde_json::json!({
        "name": "p",
        "steps": [
            {"directory": "deploy/db"},
            {"parallel": [
                {"name": "w", "manifest": {"kind": "service", "name": "web", "command": "w", "port": 80}},
                {"directory": "deploy/cron"}
            ]}
        ]
    }))
    .unwrap();
    let Loaded::Manifest(loaded) = *(match &state {
        LoadState::Loaded { result } => result.clone(),
        other => panic!("{other:?}"),
    }) else {
        panic!("not a manifest");
    };
    let task = |name: &str| ResolvedTask {
        name: name.into(),
        directory: None,
        manifest: loaded.manifest.clone(),
    };
    let state = LoadState::Loaded {
        result: Box::new(Loaded::Pipeline(LoadedPipeline {
            commit: loaded.commit.clone(),
            path: "pipeline.json".into(),
            pipeline,
            groups: vec![vec![task("db")], vec![task("w"), task("cron")]],
        })),
    };
    let back: LoadState = serde_json::from_value(serde_json::to_value(&state).unwrap()).unwrap();
    assert_eq!(back, state);
    for failed in [
        LoadState::failed("x"),
        LoadState::Failed {
            reason: "invalid".into(),
            problems: vec![slipway_core::Problem::new("steps[0]", "required")],
        },
        LoadState::Pending,
        LoadState::Loading,
    ] {
        let back: LoadState =
            serde_json::from_value(serde_json::to_value(&failed).unwrap()).unwrap();
        assert_eq!(back, failed);
    }
}
