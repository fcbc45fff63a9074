#![allow(clippy::unwrap_used)]
//! The workflow definition format: parsing both formats, validation against
//! the real built-in job kinds, run inputs, compilation into core plans, and
//! robustness against garbage.

use serde_json::{Value, json};
use slipway_core::{Problem, Registry};
use slipway_domain::{DefinitionError, Format, ParamType, WorkflowDefinition};
use std::collections::BTreeMap;
use std::time::Duration;

fn registry() -> Registry {
    let mut r = Registry::new();
    slipway_exec::register_builtin(&mut r).unwrap();
    r
}

/// The first ```yaml block of docs/workflow-format.md: the documented
/// example is tested as written.
fn documented_example() -> String {
    documented_block("yaml")
}

/// The first block fenced as `lang` in docs/workflow-format.md.
fn documented_block(lang: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/workflow-format.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let fence = format!("```{lang}\n");
    let start = doc.find(&fence).unwrap() + fence.len();
    let len = doc[start..].find("```").unwrap();
    doc[start..start + len].to_owned()
}

fn pairs(problems: &[Problem]) -> Vec<(String, String)> {
    problems
        .iter()
        .map(|p| (p.path.clone(), p.message.clone()))
        .collect()
}

fn paths(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.path.as_str()).collect()
}

fn shape_problems(err: DefinitionError) -> Vec<Problem> {
    match err {
        DefinitionError::Shape { problems } => problems,
        other => panic!("expected shape problems, got {other:?}"),
    }
}

fn inputs(v: Value) -> BTreeMap<String, Value> {
    serde_json::from_value(v).unwrap()
}

const YAML: &str = r#"
name: deploy-web
description: |
  Two lines
  of description.
concurrency_limit: 2
env:
  REGION: eu-west
  PORT: 8080
params:
  - name: target
    type: choice
    choices: [staging, prod]
    default: staging
  - name: force
    type: bool
stages:
  - name: test
    parallel: true
    jobs:
      - name: unit
        kind: shell
        spec:
          steps:
            - script: cargo test
        timeout: 90s
        retries: 2
      - name: lint
        kind: freestyle
        allow_failure: true
        spec: {steps: [{script: cargo clippy}]}
  - name: prod
    approval:
      approvers: [ann, bob]
      needed: 2
      timeout: 1h30m
    jobs:
      - name: ship
        kind: shell
        skipped: false
        env:
          TARGET: "${{ params.target }}"
        spec:
          steps:
            - name: push
              script: ./ship.sh
"#;

const JSON: &str = r#"{
  "name": "deploy-web",
  "description": "Two lines\nof description.\n",
  "concurrency_limit": 2,
  "env": {"REGION": "eu-west", "PORT": "8080"},
  "params": [
    {"name": "target", "type": "choice", "choices": ["staging", "prod"], "default": "staging"},
    {"name": "force", "type": "bool", "required": false}
  ],
  "stages": [
    {"name": "test", "parallel": true, "jobs": [
      {"name": "unit", "kind": "shell", "spec": {"steps": [{"script": "cargo test"}]},
       "timeout": 90, "retries": 2},
      {"name": "lint", "kind": "freestyle", "allow_failure": true,
       "spec": {"steps": [{"script": "cargo clippy"}]}}
    ]},
    {"name": "prod", "parallel": false,
     "approval": {"approvers": ["ann", "bob"], "needed": 2, "timeout": "5400"},
     "jobs": [
      {"name": "ship", "kind": "shell", "env": {"TARGET": "${{ params.target }}"},
       "spec": {"steps": [{"name": "push", "script": "./ship.sh"}]}}
    ]}
  ]
}"#;

#[test]
fn yaml_and_json_of_the_same_workflow_give_the_same_definition() {
    let from_yaml = WorkflowDefinition::from_yaml(YAML).unwrap();
    let from_json = WorkflowDefinition::from_json(JSON).unwrap();
    assert_eq!(from_yaml, from_json);

    let d = from_yaml;
    assert_eq!(d.name, "deploy-web");
    assert_eq!(d.concurrency_limit, 2);
    assert_eq!(d.env["PORT"], "8080");
    assert_eq!(d.params[0].param_type, ParamType::Choice);
    assert_eq!(d.params[0].default, Some(json!("staging")));
    assert!(!d.params[1].required);
    assert!(d.stages[0].parallel && !d.stages[1].parallel);
    let unit = &d.stages[0].jobs[0];
    assert_eq!(unit.timeout, Some(Duration::from_secs(90)));
    assert_eq!(unit.retries, 2);
    let approval = d.stages[1].approval.as_ref().unwrap();
    assert_eq!(approval.needed, 2);
    assert_eq!(approval.timeout, Some(Duration::from_secs(5400)));
    assert!(d.validate(&registry()).is_ok());

    // The format can also be told from the text itself.
    assert_eq!(YAML.parse::<WorkflowDefinition>().unwrap(), d);
    assert_eq!(JSON.parse::<WorkflowDefinition>().unwrap(), d);
}

#[test]
fn defaults_are_filled_in() {
    let d = WorkflowDefinition::from_yaml(
        "name: w\nstages:\n  - name: s\n    approval: {}\n    jobs:\n      - {name: j, kind: shell}\n",
    )
    .unwrap();
    assert_eq!(d.description, None);
    assert!(d.params.is_empty() && d.env.is_empty());
    assert_eq!(d.concurrency_limit, -1);
    let s = &d.stages[0];
    assert!(!s.parallel);
    let a = s.approval.as_ref().unwrap();
    assert!(a.approvers.is_empty());
    assert_eq!((a.needed, a.timeout), (1, None));
    let j = &s.jobs[0];
    assert_eq!(j.spec, json!({}));
    assert_eq!(
        (j.timeout, j.retries, j.allow_failure, j.skipped),
        (None, 0, false, false)
    );
}

#[test]
fn the_canonical_json_form_round_trips() {
    for text in [YAML.to_owned(), documented_example()] {
        let d = WorkflowDefinition::from_yaml(&text).unwrap();
        let stored = serde_json::to_string(&d).unwrap();
        assert_eq!(WorkflowDefinition::from_json(&stored).unwrap(), d);
        // serde's own entry point applies the same reading.
        assert_eq!(
            serde_json::from_str::<WorkflowDefinition>(&stored).unwrap(),
            d
        );
        // Serializing again gives the same text.
        let again: WorkflowDefinition = serde_json::from_str(&stored).unwrap();
        assert_eq!(serde_json::to_string(&again).unwrap(), stored);
    }
    let d = WorkflowDefinition::from_yaml(YAML).unwrap();
    let stored = serde_json::to_value(&d).unwrap();
    assert_eq!(stored["stages"][0]["jobs"][0]["timeout"], json!("1m30s"));
    assert_eq!(stored["stages"][1]["approval"]["timeout"], json!("1h30m"));
    assert_eq!(stored["params"][0]["type"], json!("choice"));
    assert_eq!(stored["concurrency_limit"], json!(2));
    assert!(stored.get("params").unwrap()[1].get("default").is_none());
}

#[test]
fn the_documented_example_is_valid_and_compiles() {
    let d = WorkflowDefinition::from_yaml(&documented_example()).unwrap();
    let registry = registry();
    d.validate(&registry).unwrap();
    assert_eq!(d.stages.len(), 2);
    assert!(d.stages[1].approval.is_some());
    let (plan, params) = d.compile(&inputs(json!({"version": "v1.4.0"}))).unwrap();
    plan.validate(&registry).unwrap();
    assert_eq!(params["version"], "v1.4.0");
    assert_eq!(params["environment"], "staging");

    // The JSON excerpt is a workflow of its own.
    let excerpt = WorkflowDefinition::from_json(&documented_block("json")).unwrap();
    excerpt.validate(&registry).unwrap();
    assert_eq!(
        excerpt.stages[0].jobs[0].timeout,
        Some(Duration::from_secs(1200))
    );
}

#[test]
fn a_bad_duration_is_reported_with_its_path() {
    let text = r#"{"name": "w", "stages": [
        {"name": "a", "jobs": [{"name": "x", "kind": "shell", "timeout": "1m"}]},
        {"name": "b", "approval": {"timeout": 0},
         "jobs": [{"name": "y", "kind": "shell", "timeout": "5x"}]}]}"#;
    let problems = shape_problems(WorkflowDefinition::from_json(text).unwrap_err());
    assert_eq!(
        paths(&problems),
        ["stages[1].approval.timeout", "stages[1].jobs[0].timeout"]
    );
    assert_eq!(problems[0].message, "invalid duration 0: must be positive");
    assert!(
        problems[1]
            .to_string()
            .starts_with(r#"stages[1].jobs[0].timeout: invalid duration "5x""#),
        "{}",
        problems[1]
    );
}

#[test]
fn unknown_fields_are_errors_with_their_paths() {
    let yaml = r#"
name: w
stage: []
stages:
  - name: s
    paralel: true
    jobs:
      - name: j
        kind: shell
        timout: 5m
        spec: {steps: [{script: x}]}
"#;
    let err = WorkflowDefinition::from_yaml(yaml).unwrap_err();
    let problems = err.problems();
    assert_eq!(
        pairs(&problems),
        [
            (
                "stage".into(),
                "unknown field, did you mean `stages`?".into()
            ),
            (
                "stages[0].paralel".into(),
                "unknown field, did you mean `parallel`?".into()
            ),
            (
                "stages[0].jobs[0].timout".into(),
                "unknown field, did you mean `timeout`?".into()
            ),
        ]
    );
    assert!(err.to_string().contains("stages[0].jobs[0].timout"));

    let err =
        WorkflowDefinition::from_json(r#"{"name":"w","stages":[],"colour":"red"}"#).unwrap_err();
    assert_eq!(paths(&err.problems()), ["colour"]);
    assert!(
        err.problems()[0]
            .message
            .starts_with("unknown field; expected one of: name,")
    );
}

#[test]
fn every_shape_problem_is_listed_at_once() {
    let yaml = r#"
description: [not, text]
concurrency_limit: lots
params:
  - {name: p, type: colour}
  - {type: string, required: "yes", choices: a}
env: {A: [1]}
stages:
  - name: s
    parallel: 1
    approval: {approvers: [ann, 3], needed: -1}
    jobs:
      - {name: j, kind: shell, spec: [], retries: 1.5, env: "A=1", skipped: null}
      - {kind: 7, retries: 99999999999}
  - {name: t}
"#;
    let problems = shape_problems(WorkflowDefinition::from_yaml(yaml).unwrap_err());
    assert_eq!(
        pairs(&problems),
        [
            ("name", "required"),
            ("description", "must be a string, not a list"),
            (
                "params[0].type",
                "unknown type `colour`; expected one of: string, text, choice, bool, number"
            ),
            ("params[1].name", "required"),
            ("params[1].required", "must be true or false, not a string"),
            (
                "params[1].choices",
                "must be a list of strings, not a string"
            ),
            ("env.A", "must be a string, not a list"),
            (
                "concurrency_limit",
                "must be a whole number (-1 for unlimited), not a string"
            ),
            ("stages[0].parallel", "must be true or false, not a number"),
            (
                "stages[0].approval.approvers[1]",
                "must be a string, not a number"
            ),
            (
                "stages[0].approval.needed",
                "must be a whole number of 0 or more, not a number"
            ),
            ("stages[0].jobs[0].spec", "must be a mapping, not a list"),
            (
                "stages[0].jobs[0].env",
                "must be a mapping of names to strings, not a string"
            ),
            (
                "stages[0].jobs[0].retries",
                "must be a whole number of 0 or more, not a number"
            ),
            ("stages[0].jobs[1].name", "required"),
            ("stages[0].jobs[1].kind", "must be a string, not a number"),
            ("stages[0].jobs[1].retries", "must be at most 4294967295"),
            ("stages[1].jobs", "required"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

/// A definition with one of each problem `validate` finds.
const BROKEN: &str = r#"
name: " "
concurrency_limit: 0
env:
  GOOD: "${{ params.region }}"
  1BAD: x
  OUT: "${{ jobs.build.outputs.v }}"
  ALSO: "${{ params.nope }}"
params:
  - {name: region, type: choice, choices: [eu, us], default: mars}
  - {name: region, type: string}
  - {name: "has space", type: string}
  - {name: flag, type: bool, default: "yes"}
  - {name: count, type: number, default: "many"}
  - {name: pick, type: choice}
  - {name: plain, type: string, choices: [a]}
  - {name: line, type: string, default: "two\nlines"}
stages:
  - name: build
    jobs:
      - name: build
        kind: shell
        spec: {}
      - name: build
        kind: docker
        spec: {image: x}
  - name: build
    jobs: []
  - name: deploy
    approval: {approvers: [ann, ann], needed: 3}
    jobs:
      - name: ship
        kind: shell
        env:
          X: "${{ params.missing }}"
          bad-name: "${{ jobs.later.outputs.v }}"
        spec:
          steps:
            - script: "deploy ${{ params.region }} ${{ params.ghost }}"
  - name: ""
    jobs:
      - {name: later, kind: shell, spec: {steps: [{script: x, colour: red}]}}
"#;

#[test]
fn validate_reports_every_problem_at_once_with_exact_paths() {
    let d = WorkflowDefinition::from_yaml(BROKEN).unwrap();
    let problems = d.validate(&registry()).unwrap_err();
    let got = pairs(&problems);
    let expected: Vec<(&str, &str)> = vec![
        // params
        (
            "params[0].default",
            "`mars` is not one of the choices: eu, us",
        ),
        ("params[1].name", "duplicate param name `region`"),
        (
            "params[2].name",
            "`has space` is not a valid param name: use letters, digits, `_` and `-`",
        ),
        ("params[3].default", "must be true or false"),
        ("params[4].default", "`many` is not a finite number"),
        (
            "params[5].choices",
            "a choice param needs at least one choice",
        ),
        (
            "params[6].choices",
            "only a choice param has choices (this one is string)",
        ),
        (
            "params[7].default",
            "a string param holds one line; use type text for more",
        ),
        // workflow env
        (
            "env.1BAD",
            "not a valid variable name: use letters, digits and `_`, not starting with a digit",
        ),
        (
            "env.ALSO",
            "`${{ params.nope }}` refers to unknown param `nope`",
        ),
        (
            "env.OUT",
            "`${{ jobs.build.outputs.v }}`: the workflow's env may only refer to params",
        ),
        // core's plan checks, paths as they are
        ("name", "required"),
        ("concurrency_limit", "must be -1 (unlimited) or at least 1"),
        ("stages[0].jobs[0].spec.steps", "required"),
        ("stages[0].jobs[1].name", "duplicate job name `build`"),
        (
            "stages[0].jobs[1].kind",
            "unknown job kind `docker` (known: freestyle, shell)",
        ),
        ("stages[1].name", "duplicate stage name `build`"),
        ("stages[1].jobs", "a stage needs at least one job"),
        (
            "stages[2].approval.needed",
            "needs 3 approvals but only 2 approvers are listed",
        ),
        (
            "stages[2].jobs[0].env.bad-name",
            "`${{ jobs.later.outputs.v }}` refers to job `later`, which does not run in an earlier stage",
        ),
        ("stages[3].name", "required"),
        // domain checks per stage and job
        (
            "stages[2].approval.approvers[1]",
            "duplicate approver `ann`",
        ),
        (
            "stages[2].jobs[0].env.bad-name",
            "not a valid variable name: use letters, digits and `_`, not starting with a digit",
        ),
        (
            "stages[2].jobs[0].spec.steps[0].script",
            "`${{ params.ghost }}` refers to unknown param `ghost`",
        ),
        (
            "stages[2].jobs[0].env.X",
            "`${{ params.missing }}` refers to unknown param `missing`",
        ),
    ];
    // The kind's own message for the unknown step field is its business;
    // only its path is pinned here.
    let kind_problem = "stages[3].jobs[0].spec.steps[0].colour";
    assert!(got.iter().any(|(p, _)| p == kind_problem), "{got:#?}");
    let rest: Vec<(String, String)> = got.into_iter().filter(|(p, _)| p != kind_problem).collect();
    let mut want: Vec<(String, String)> = expected
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    let mut rest_sorted = rest.clone();
    rest_sorted.sort();
    want.sort();
    assert_eq!(rest_sorted, want, "{rest:#?}");
}

#[test]
fn a_valid_definition_has_no_problems() {
    let d = WorkflowDefinition::from_json(JSON).unwrap();
    assert_eq!(d.validate(&registry()), Ok(()));
}

fn with_params() -> WorkflowDefinition {
    WorkflowDefinition::from_yaml(
        r#"
name: w
params:
  - {name: env, type: choice, choices: [dev, prod], required: true}
  - {name: tag, type: string, required: true}
  - {name: notes, type: text}
  - {name: fast, type: bool}
  - {name: slow, type: bool, default: true}
  - {name: ratio, type: number, default: 0.5}
  - {name: count, type: number}
  - {name: region, type: choice, choices: [eu, us]}
  - {name: label, type: string, default: main}
stages:
  - name: s
    jobs:
      - {name: j, kind: shell, spec: {steps: [{script: "echo ${{ params.tag }}"}]}}
"#,
    )
    .unwrap()
}

#[test]
fn inputs_are_refused_when_unknown_missing_out_of_choice_or_of_the_wrong_type() {
    let d = with_params();
    let problems = d
        .check_inputs(&inputs(json!({
            "colour": "red",
            "env": "qa",
            "notes": 12,
            "fast": "yes",
            "ratio": "1/2",
            "count": true,
            "label": "a\nb",
        })))
        .unwrap_err();
    assert_eq!(
        pairs(&problems),
        [
            (
                "params.colour",
                "unknown param (known: env, tag, notes, fast, slow, ratio, count, region, label)"
            ),
            ("params.env", "`qa` is not one of the choices: dev, prod"),
            ("params.tag", "required"),
            ("params.notes", "must be a string, not a number"),
            ("params.fast", "must be true or false"),
            ("params.ratio", "`1/2` is not a finite number"),
            ("params.count", "must be a number"),
            (
                "params.label",
                "a string param holds one line; use type text for more"
            ),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );

    // A choice must be given as a string; a number is the wrong type.
    let problems = d
        .check_inputs(&inputs(
            json!({"env": 1, "tag": "v1", "ratio": "NaN", "count": "1e400"}),
        ))
        .unwrap_err();
    assert_eq!(
        paths(&problems),
        ["params.env", "params.ratio", "params.count"]
    );

    // A workflow without params refuses any input.
    let bare = WorkflowDefinition::from_json(
        r#"{"name":"w","stages":[{"name":"s","jobs":[{"name":"j","kind":"shell"}]}]}"#,
    )
    .unwrap();
    let problems = bare.check_inputs(&inputs(json!({"x": "1"}))).unwrap_err();
    assert_eq!(
        problems[0].message,
        "unknown param (this workflow takes no params)"
    );
}

#[test]
fn inputs_are_converted_and_defaults_filled() {
    let d = with_params();
    let values = d
        .check_inputs(&inputs(json!({
            "env": "prod",
            "tag": "v2",
            "notes": "line one\nline two",
            "fast": true,
            "slow": "false",
            "ratio": "3.50",
            "count": 3,
            "label": null,
        })))
        .unwrap();
    let want: BTreeMap<String, String> = [
        ("env", "prod"),
        ("tag", "v2"),
        ("notes", "line one\nline two"),
        ("fast", "true"),
        ("slow", "false"),
        ("ratio", "3.5"),
        ("count", "3"),
        ("region", "eu"),
        ("label", "main"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(values, want);

    // Only the required ones given: defaults and implicit values fill the rest.
    let values = d
        .check_inputs(&inputs(
            json!({"env": "dev", "tag": "v3", "fast": "true", "count": -2.25}),
        ))
        .unwrap();
    assert_eq!(values["notes"], "");
    assert_eq!(values["fast"], "true");
    assert_eq!(values["slow"], "true");
    assert_eq!(values["ratio"], "0.5");
    assert_eq!(values["count"], "-2.25");
    assert_eq!(values["region"], "eu");
    assert_eq!(values["label"], "main");
    let values = d
        .check_inputs(&inputs(json!({"env": "dev", "tag": "v3"})))
        .unwrap();
    assert_eq!(
        (values["fast"].as_str(), values["count"].as_str()),
        ("false", "0")
    );
}

#[test]
fn compile_gives_a_plan_that_core_accepts() {
    let d = WorkflowDefinition::from_yaml(YAML).unwrap();
    let registry = registry();
    d.validate(&registry).unwrap();
    let (plan, params) = d.compile(&inputs(json!({"force": true}))).unwrap();
    plan.validate(&registry).unwrap();

    assert_eq!(plan.name, "deploy-web");
    assert_eq!(plan.concurrency_limit, 2);
    assert_eq!(plan.stages.len(), 2);
    assert!(plan.stages[0].parallel);
    let unit = &plan.stages[0].jobs[0];
    assert_eq!(unit.kind, "shell");
    assert_eq!(unit.spec, json!({"steps": [{"script": "cargo test"}]}));
    assert_eq!(unit.timeout, Some(Duration::from_secs(90)));
    assert_eq!(unit.retries, 2);
    assert!(plan.stages[0].jobs[1].allow_failure);
    // The workflow env reaches every job; the job's own values win.
    assert_eq!(unit.env["REGION"], "eu-west");
    let ship = &plan.stages[1].jobs[0];
    assert_eq!(ship.env["TARGET"], "${{ params.target }}");
    assert_eq!(ship.env["PORT"], "8080");
    let gate = plan.stages[1].approval.as_ref().unwrap();
    assert_eq!(gate.approvers, ["ann", "bob"]);
    assert_eq!(gate.needed, 2);
    assert_eq!(gate.timeout, Some(Duration::from_secs(5400)));

    let want: BTreeMap<String, String> = [("target", "staging"), ("force", "true")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(params, want);

    // Input problems stop compilation.
    let problems = d.compile(&inputs(json!({"target": "moon"}))).unwrap_err();
    assert_eq!(paths(&problems), ["params.target"]);

    // The plan survives core's own JSON form.
    let stored = serde_json::to_string(&plan).unwrap();
    assert_eq!(
        serde_json::from_str::<slipway_core::Plan>(&stored).unwrap(),
        plan
    );
}

#[test]
fn duplicate_keys_and_yaml_oddities_are_refused() {
    for (text, format) in [
        (r#"{"name": "a", "name": "b", "stages": []}"#, Format::Json),
        ("name: a\nname: b\nstages: []\n", Format::Yaml),
        ("name: !custom a\nstages: []\n", Format::Yaml),
        ("name: a\nstages: []\n---\nname: b\n", Format::Yaml),
        ("name: a\n<<: {stages: []}\n", Format::Yaml),
        ("name: a\nstages: *missing\n", Format::Yaml),
        ("", Format::Json),
        ("", Format::Yaml),
        ("[1, 2]", Format::Json),
        ("just text", Format::Yaml),
    ] {
        let err = WorkflowDefinition::parse(text, format).unwrap_err();
        assert!(!err.problems().is_empty(), "{text:?}");
    }
    let err = WorkflowDefinition::from_json(r#"{"name": "a", "name": "b"}"#).unwrap_err();
    match err {
        DefinitionError::Syntax {
            format,
            line,
            message,
            ..
        } => {
            assert_eq!(format, Format::Json);
            assert_eq!(line, Some(1));
            assert!(message.contains("duplicate key `name`"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let err = WorkflowDefinition::from_yaml("name: a\nstages:\n  - name: [\n").unwrap_err();
    assert!(
        matches!(err, DefinitionError::Syntax { line: Some(_), .. }),
        "{err:?}"
    );
    // A top-level scalar is a shape problem at the root.
    let err = WorkflowDefinition::from_yaml("just text").unwrap_err();
    assert_eq!(
        pairs(&err.problems()),
        [(String::new(), "must be a mapping, not a string".to_owned())]
    );
    // Anchors and aliases are fine.
    let d = WorkflowDefinition::from_yaml(
        "name: a\nstages:\n  - name: s\n    jobs:\n      - &j {name: j, kind: shell, retries: 1}\n  - name: t\n    jobs:\n      - {name: k, kind: shell}\n",
    )
    .unwrap();
    assert_eq!(d.stages[0].jobs[0].retries, 1);
    // Number keys in YAML are their text.
    let d = WorkflowDefinition::from_yaml(
        "name: a\nstages:\n  - name: s\n    jobs:\n      - {name: j, kind: shell, spec: {1: x}}\n",
    )
    .unwrap();
    assert_eq!(d.stages[0].jobs[0].spec, json!({"1": "x"}));
}

#[test]
fn format_is_told_by_content_type_extension_or_content() {
    assert_eq!(
        Format::from_content_type("application/json"),
        Some(Format::Json)
    );
    assert_eq!(
        Format::from_content_type("Application/JSON; charset=utf-8"),
        Some(Format::Json)
    );
    assert_eq!(
        Format::from_content_type("application/vnd.slipway+json"),
        Some(Format::Json)
    );
    for yaml in [
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "text/x-yaml; q=1",
    ] {
        assert_eq!(
            Format::from_content_type(yaml),
            Some(Format::Yaml),
            "{yaml}"
        );
    }
    assert_eq!(Format::from_content_type("text/plain"), None);
    assert_eq!(Format::from_content_type(""), None);
    assert_eq!(Format::from_path("ci/release.yml"), Some(Format::Yaml));
    assert_eq!(Format::from_path("release.YAML"), Some(Format::Yaml));
    assert_eq!(Format::from_path("release.json"), Some(Format::Json));
    assert_eq!(Format::from_path("release"), None);
    assert_eq!(Format::from_path("release.toml"), None);
    assert_eq!(Format::sniff("\u{feff}  {\"name\": 1}"), Format::Json);
    assert_eq!(Format::sniff("name: x"), Format::Yaml);
    // A byte-order mark is ignored; bytes that are not UTF-8 are refused.
    assert!(
        WorkflowDefinition::parse_bytes(
            b"\xef\xbb\xbf{\"name\":\"w\",\"stages\":[]}",
            Format::Json
        )
        .is_ok()
    );
    assert_eq!(
        WorkflowDefinition::parse_bytes(b"name: \xff\xfe", Format::Yaml),
        Err(DefinitionError::NotUtf8)
    );
}

/// A small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Reads `text` both ways and, when it parses, validates and compiles it:
/// whatever happens must be an `Err`, never a panic.
fn exercise(text: &str, registry: &Registry) {
    for format in [Format::Json, Format::Yaml] {
        if let Ok(d) = WorkflowDefinition::parse(text, format) {
            let _ = d.validate(registry);
            if let Ok((plan, _)) = d.compile(&BTreeMap::new()) {
                let _ = plan.validate(registry);
                let stored = serde_json::to_string(&d).unwrap();
                assert_eq!(WorkflowDefinition::from_json(&stored).unwrap(), d);
            }
        }
    }
}

#[test]
fn random_bytes_give_errors_not_panics() {
    let registry = registry();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for _ in 0..300 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        for format in [Format::Json, Format::Yaml] {
            let _ = WorkflowDefinition::parse_bytes(&bytes, format);
        }
        exercise(&String::from_utf8_lossy(&bytes), &registry);
    }
}

#[test]
fn random_edits_of_valid_documents_give_errors_not_panics() {
    let registry = registry();
    let mut rng = Rng(0x0dd5_eed4_2042);
    let example = documented_example();
    for source in [YAML, JSON, example.as_str(), BROKEN] {
        let chars: Vec<char> = source.chars().collect();
        let alphabet: Vec<char> = "{}[]:,-\"'\n #&*!|>$0123456789.eE+ab".chars().collect();
        for _ in 0..150 {
            let mut edited = chars.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(edited.len());
                match rng.below(3) {
                    0 => {
                        edited.remove(at);
                    }
                    1 => edited.insert(at, alphabet[rng.below(alphabet.len())]),
                    _ => edited[at] = alphabet[rng.below(alphabet.len())],
                }
            }
            exercise(&edited.into_iter().collect::<String>(), &registry);
        }
    }
}

#[test]
fn deep_nesting_gives_errors_not_panics() {
    let registry = registry();
    let deep = 100_000;
    for text in [
        "[".repeat(deep),
        format!("{}{}", "[".repeat(deep), "]".repeat(deep)),
        "{\"a\":".repeat(deep),
        "- ".repeat(deep),
        format!("a: {}", "{a: ".repeat(deep)),
        format!(
            "name: w\nstages:\n  - name: s\n    jobs:\n      - name: j\n        kind: shell\n        spec: {}1{}\n",
            "[".repeat(deep),
            "]".repeat(deep)
        ),
    ] {
        for format in [Format::Json, Format::Yaml] {
            assert!(WorkflowDefinition::parse(&text, format).is_err());
        }
    }

    // Nesting just under the parsers' limits still parses and validates.
    let spec = format!("{}\"x\"{}", "[".repeat(100), "]".repeat(100));
    let text = format!(
        r#"{{"name":"w","stages":[{{"name":"s","jobs":[{{"name":"j","kind":"shell","spec":{{"steps":{spec}}}}}]}}]}}"#
    );
    let d = WorkflowDefinition::from_json(&text).unwrap();
    assert!(d.validate(&registry).is_err());
}

#[test]
fn huge_numbers_give_errors_not_panics() {
    let registry = registry();
    let huge = [
        r#"{"name":"w","concurrency_limit":1e400,"stages":[]}"#,
        r#"{"name":"w","concurrency_limit":99999999999999999999999999,"stages":[]}"#,
        r#"{"name":"w","concurrency_limit":-9223372036854775809,"stages":[]}"#,
        r#"{"name":"w","stages":[{"name":"s","jobs":[{"name":"j","kind":"shell","timeout":1e300}]}]}"#,
        r#"{"name":"w","stages":[{"name":"s","jobs":[{"name":"j","kind":"shell","timeout":18446744073709551615}]}]}"#,
        r#"{"name":"w","stages":[{"name":"s","jobs":[{"name":"j","kind":"shell","timeout":"18446744073709551615d"}]}]}"#,
        r#"{"name":"w","stages":[{"name":"s","jobs":[{"name":"j","kind":"shell","retries":1e30}]}]}"#,
        r#"{"name":"w","stages":[{"name":"s","approval":{"needed":4294967296},"jobs":[]}]}"#,
    ];
    for text in huge {
        assert!(WorkflowDefinition::from_json(text).is_err(), "{text}");
        assert!(WorkflowDefinition::from_yaml(text).is_err(), "{text}");
    }
    assert!(
        WorkflowDefinition::from_yaml(
            "name: w\nconcurrency_limit: 123456789012345678901234567890\nstages: []\n"
        )
        .is_err()
    );
    assert!(
        WorkflowDefinition::from_yaml("name: w\nconcurrency_limit: .inf\nstages: []\n").is_err()
    );
    // A huge number in a param default or an input is a problem, not a panic.
    let d = WorkflowDefinition::from_json(
        r#"{"name":"w","params":[{"name":"n","type":"number","default":1e300}],
            "stages":[{"name":"s","jobs":[{"name":"j","kind":"shell","spec":{"steps":[{"script":"x"}]}}]}]}"#,
    )
    .unwrap();
    assert!(d.validate(&registry).is_ok());
    assert_eq!(d.check_inputs(&BTreeMap::new()).unwrap()["n"], "1e+300");
}

#[test]
fn alias_bombs_give_errors_not_panics() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = (b'a' + i - 1) as char;
        let name = (b'a' + i) as char;
        bomb.push_str(&format!(
            "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    assert!(WorkflowDefinition::from_yaml(&bomb).is_err());
}

#[test]
fn what_could_never_run_is_refused_at_save_time_with_its_path() {
    use slipway_domain::limits::{MAX_NAME_CHARS, MAX_VALUE_BYTES};
    let long = "j".repeat(250);
    let def = json!({
        "name": "w\u{0}",
        "env": {"WIDE": "x".repeat(MAX_VALUE_BYTES + 1), "OK": "multi\nline"},
        "stages": [{
            "name": "s".repeat(MAX_NAME_CHARS + 1),
            "jobs": [
                {"name": long, "kind": "shell", "spec": {"steps": [{"script": "true"}]}},
                {"name": "nul\u{0}name", "kind": "shell", "spec": {"steps": [{"script": "true"}]}},
                {"name": "env", "kind": "shell",
                 "env": {"TOKEN": "a\u{0}b"},
                 "spec": {"steps": [{"script": "echo a\u{0}b"}]}},
                {"name": "é".repeat(MAX_NAME_CHARS), "kind": "shell", "spec": {"steps": [{"script": "true"}]}}
            ]
        }]
    });
    let d = WorkflowDefinition::from_json(&def.to_string()).unwrap();
    let problems = d.validate(&registry()).unwrap_err();
    let got = pairs(&problems);
    let nul_value =
        "must not contain a NUL character (no process environment or argument can hold one)";
    let controls = "must not contain control characters (NUL, line breaks, tabs)";
    let expected = [
        (
            "env.WIDE".to_owned(),
            format!("at most 65536 bytes (this one has {})", MAX_VALUE_BYTES + 1),
        ),
        ("name".to_owned(), controls.to_owned()),
        (
            "stages[0].name".to_owned(),
            "at most 100 characters (this one has 101)".to_owned(),
        ),
        (
            "stages[0].jobs[0].name".to_owned(),
            "at most 100 characters (this one has 250)".to_owned(),
        ),
        ("stages[0].jobs[1].name".to_owned(), controls.to_owned()),
        (
            "stages[0].jobs[2].env.TOKEN".to_owned(),
            nul_value.to_owned(),
        ),
        (
            "stages[0].jobs[2].spec.steps[0].script".to_owned(),
            "must not contain a NUL character (no process argument can hold one)".to_owned(),
        ),
    ];
    for e in &expected {
        assert!(got.contains(e), "missing {e:?} in {got:#?}");
    }
    // Nothing else: 100 characters (of any width) and a line break in a
    // value are fine.
    assert_eq!(got.len(), expected.len(), "{got:#?}");
}

#[test]
fn param_values_that_no_environment_can_hold_are_refused() {
    let d = WorkflowDefinition::from_json(
        r#"{"name":"w","params":[{"name":"note","type":"text"},{"name":"tag","type":"string","default":"v\u0000"}],
            "stages":[{"name":"s","jobs":[{"name":"j","kind":"shell","spec":{"steps":[{"script":"true"}]}}]}]}"#,
    )
    .unwrap();
    let problems = d.validate(&registry()).unwrap_err();
    assert_eq!(paths(&problems), ["params[1].default"]);
    let problems = d
        .check_inputs(&inputs(json!({"note": "a\u{0}b", "tag": "v1"})))
        .unwrap_err();
    assert_eq!(
        pairs(&problems),
        [(
            "params.note".to_owned(),
            "must not contain a NUL character (no process environment or argument can hold one)"
                .to_owned()
        )]
    );
    let big = "n".repeat(slipway_domain::limits::MAX_VALUE_BYTES + 1);
    let problems = d
        .check_inputs(&inputs(json!({"note": big, "tag": "v1"})))
        .unwrap_err();
    assert_eq!(paths(&problems), ["params.note"]);
}
