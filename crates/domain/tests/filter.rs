#![allow(clippy::unwrap_used)]
//! Filter expressions for webhook trigger rules, evaluated against the
//! providers' payload fixtures in `fixtures/webhooks/`.

use std::collections::BTreeMap;

use slipway_domain::filter::{Filter, FilterError};

fn fixture(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/tests/fixtures/webhooks/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Headers as the caller hands them over: names lower-cased.
fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), (*value).to_owned()))
        .collect()
}

fn no_headers() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn eval(source: &str, fixture_name: &str) -> Result<bool, FilterError> {
    Filter::compile(source)
        .unwrap()
        .evaluate(&fixture(fixture_name), &no_headers())
}

const PUSHES: [&str; 4] = [
    "github_push",
    "gitlab_push",
    "gitee_push",
    "github_branch_delete",
];
const TAG_PUSHES: [&str; 3] = ["github_tag_push", "gitlab_tag_push", "gitee_tag_push"];

#[test]
fn branch_list_matches_pushes_to_main_only() {
    let filter = r#"body.ref in ["refs/heads/main"]"#;
    // github_push and gitlab_push are to main; gitee_push is to another branch.
    assert_eq!(eval(filter, "github_push"), Ok(true));
    assert_eq!(eval(filter, "gitlab_push"), Ok(true));
    assert_eq!(eval(filter, "gitee_push"), Ok(false));
    assert_eq!(eval(filter, "github_branch_delete"), Ok(false));
    for tag in TAG_PUSHES {
        assert_eq!(eval(filter, tag), Ok(false), "{tag}");
    }

    let several = r#"body.ref in ["refs/heads/release", "refs/heads/change_commitlint_config"]"#;
    assert_eq!(eval(several, "gitee_push"), Ok(true));
    assert_eq!(eval(several, "github_push"), Ok(false));
}

#[test]
fn tag_prefix_and_repository_name_on_each_provider() {
    for (fixture_name, repo) in [
        ("github_tag_push", "api"),
        ("gitlab_tag_push", "Example"),
        ("gitee_tag_push", "Gitee"),
    ] {
        let filter =
            format!(r#"body.ref.startsWith("refs/tags/v") && body.repository.name == "{repo}""#);
        assert_eq!(eval(&filter, fixture_name), Ok(true), "{fixture_name}");

        let other_repo = r#"body.ref.startsWith("refs/tags/v") && body.repository.name == "web""#;
        assert_eq!(eval(other_repo, fixture_name), Ok(false), "{fixture_name}");
    }
    // A branch push of the same repository is not a tag.
    let filter = r#"body.ref.startsWith("refs/tags/v") && body.repository.name == "api""#;
    assert_eq!(eval(filter, "github_push"), Ok(false));
    // Other string functions of the standard library.
    assert_eq!(
        eval(
            r#"body.ref.endsWith(".0") && body.ref.contains("v1")"#,
            "github_tag_push"
        ),
        Ok(true)
    );
    assert_eq!(
        eval(
            r#"body.ref.matches("^refs/tags/v[0-9]+\\.[0-9]+\\.[0-9]+$")"#,
            "gitee_tag_push"
        ),
        Ok(true)
    );
}

#[test]
fn has_tells_pushes_from_pings_and_pull_requests() {
    for push in PUSHES.iter().chain(TAG_PUSHES.iter()) {
        assert_eq!(eval("has(body.ref)", push), Ok(true), "{push}");
    }
    assert_eq!(eval("has(body.ref)", "github_ping"), Ok(false));
    assert_eq!(
        eval("has(body.ref)", "github_pull_request_opened"),
        Ok(false)
    );
    // Guarding a key that may be absent avoids the error.
    let guarded = r#"has(body.ref) && body.ref == "refs/heads/main""#;
    assert_eq!(eval(guarded, "github_ping"), Ok(false));
    assert_eq!(eval(guarded, "github_push"), Ok(true));
}

#[test]
fn commit_count() {
    let filter = "size(body.commits) > 0";
    assert_eq!(eval(filter, "github_push"), Ok(true));
    assert_eq!(eval(filter, "gitlab_push"), Ok(true));
    assert_eq!(eval(filter, "gitee_push"), Ok(true));
    assert_eq!(eval(filter, "github_tag_push"), Ok(false));
    assert_eq!(eval(filter, "github_branch_delete"), Ok(false));
    assert_eq!(eval("size(body.commits) == 2", "gitlab_push"), Ok(true));
    // Macros over the payload's lists.
    assert_eq!(
        eval(
            r#"body.commits.exists(c, "src/health.rs" in c.added)"#,
            "github_push"
        ),
        Ok(true)
    );
    assert_eq!(eval("!body.deleted", "github_push"), Ok(true));
    assert_eq!(eval("!body.deleted", "github_branch_delete"), Ok(false));
}

#[test]
fn headers_are_a_map_with_lower_case_keys() {
    let push = fixture("github_push");
    let github_push = headers(&[
        ("X-GitHub-Event", "push"),
        ("Content-Type", "application/json"),
    ]);
    let github_ping = headers(&[("X-GitHub-Event", "ping")]);

    let filter = Filter::compile(r#"headers["x-github-event"] == "push""#).unwrap();
    assert_eq!(filter.evaluate(&push, &github_push), Ok(true));
    assert_eq!(filter.evaluate(&push, &github_ping), Ok(false));
    // A header the request did not carry is a missing key: an error.
    assert!(matches!(
        filter.evaluate(&push, &no_headers()),
        Err(FilterError::Evaluate { .. })
    ));
    assert!(!filter.matches(&push, &no_headers()));

    // `in` on a map tests its keys: the way to ask for an optional header.
    let optional =
        Filter::compile(r#"!("x-github-event" in headers) || headers["x-github-event"] == "push""#)
            .unwrap();
    assert_eq!(optional.evaluate(&push, &no_headers()), Ok(true));
    assert_eq!(optional.evaluate(&push, &github_ping), Ok(false));

    // Keys are looked up exactly as written: the mixed-case spelling misses.
    let mixed_case = Filter::compile(r#"headers["X-GitHub-Event"] == "push""#).unwrap();
    assert!(matches!(
        mixed_case.evaluate(&push, &github_push),
        Err(FilterError::Evaluate { .. })
    ));

    // Names the caller forgot to lower-case are lower-cased all the same.
    let raw: BTreeMap<String, String> = [("X-GitHub-Event".to_owned(), "push".to_owned())].into();
    assert_eq!(filter.evaluate(&push, &raw), Ok(true));

    let gitlab = Filter::compile(
        r#"headers["x-gitlab-event"] == "Tag Push Hook" && body.object_kind == "tag_push""#,
    )
    .unwrap();
    let tag_hook = headers(&[("X-Gitlab-Event", "Tag Push Hook")]);
    assert_eq!(
        gitlab.evaluate(&fixture("gitlab_tag_push"), &tag_hook),
        Ok(true)
    );
}

#[test]
fn pull_request_fields_and_numbers() {
    let pr = fixture("github_pull_request_opened");
    let event = headers(&[("X-GitHub-Event", "pull_request")]);
    let filter = Filter::compile(
        r#"headers["x-github-event"] == "pull_request"
           && body.action in ["opened", "synchronize"]
           && body.pull_request.base.ref == "main"
           && !body.pull_request.draft"#,
    )
    .unwrap();
    assert_eq!(filter.evaluate(&pr, &event), Ok(true));

    // JSON integers are CEL ints: int literals and int arithmetic work.
    for source in [
        "body.number == 42",
        "body.number - 50 < 0",
        "type(body.number) == int",
        "body.pull_request.head.repo.id > 100",
    ] {
        let filter = Filter::compile(source).unwrap();
        assert_eq!(filter.evaluate(&pr, &event), Ok(true), "{source}");
    }
}

#[test]
fn syntax_errors_are_refused_at_compile_with_a_short_message() {
    for source in [
        r#"body.ref =="#,
        r#"body.ref in ["refs/heads/main""#,
        r#"body.ref == "main" &&& true"#,
        "'unterminated",
        "body.ref ==\n== 2",
    ] {
        let Err(FilterError::Compile { message }) = Filter::compile(source) else {
            panic!("{source:?} compiled");
        };
        assert!(message.contains("line "), "{source:?}: {message}");
        assert!(message.contains("column "), "{source:?}: {message}");
        assert!(!message.contains('\n'), "{source:?}: {message}");
        assert!(message.chars().count() <= 301, "{source:?}: {message}");
    }

    let error = Filter::compile(r#"body.ref in ["refs/heads/main""#).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("invalid filter expression: line 1, column "),
        "{error}"
    );
    let error = Filter::compile("body.ref ==\n== 2").unwrap_err();
    assert!(error.to_string().contains("line 2, column 1"), "{error}");
}

#[test]
fn a_missing_key_is_an_error_and_no_match() {
    let ping = fixture("github_ping");
    let filter = Filter::compile(r#"body.ref == "refs/heads/main""#).unwrap();
    let Err(FilterError::Evaluate { message }) = filter.evaluate(&ping, &no_headers()) else {
        panic!("a missing key evaluated");
    };
    assert!(message.contains("ref"), "{message}");
    assert!(!filter.matches(&ping, &no_headers()));

    let nested = Filter::compile(r#"body.repository.owner.nope == "x""#).unwrap();
    assert!(matches!(
        nested.evaluate(&fixture("github_push"), &no_headers()),
        Err(FilterError::Evaluate { .. })
    ));

    // An unknown variable compiles, and fails when evaluated.
    let unknown = Filter::compile(r#"ref == "refs/heads/main""#).unwrap();
    assert!(matches!(
        unknown.evaluate(&fixture("github_push"), &no_headers()),
        Err(FilterError::Evaluate { .. })
    ));

    // Long messages (CEL quotes whole values) are cut.
    let Err(FilterError::Evaluate { message }) = eval("body + 1", "github_push") else {
        panic!("a map plus an int evaluated");
    };
    assert!(message.chars().count() <= 301, "{message}");
}

#[test]
fn a_result_that_is_not_a_bool_is_an_error() {
    let push = fixture("github_push");
    for (source, found) in [
        ("body.ref", "string"),
        ("size(body.commits)", "int"),
        ("body.commits", "list"),
        ("body.repository", "map"),
        ("body.base_ref", "null"),
    ] {
        let filter = Filter::compile(source).unwrap();
        assert_eq!(
            filter.evaluate(&push, &no_headers()),
            Err(FilterError::NotBool {
                found: found.to_owned()
            }),
            "{source}"
        );
        assert!(!filter.matches(&push, &no_headers()), "{source}");
    }
}

#[test]
fn an_empty_source_matches_everything() {
    for source in ["", "   ", "\n\t "] {
        let filter = Filter::compile(source).unwrap();
        assert!(filter.is_empty());
        assert_eq!(filter.source(), source);
        for name in PUSHES.iter().chain(TAG_PUSHES.iter()) {
            assert_eq!(filter.evaluate(&fixture(name), &no_headers()), Ok(true));
        }
        assert!(filter.matches(&serde_json::Value::Null, &no_headers()));
        assert!(filter.matches(&fixture("github_ping"), &no_headers()));
    }
}

#[test]
fn a_filter_is_shared_across_threads_and_shows_its_source() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    assert_traits::<Filter>();

    let source = r#"body.ref in ["refs/heads/main"]"#;
    let filter = Filter::compile(source).unwrap();
    assert!(!filter.is_empty());
    assert_eq!(filter.source(), source);
    assert_eq!(format!("{filter:?}"), format!("Filter({source:?})"));

    let copy = filter.clone();
    let handle = std::thread::spawn(move || copy.matches(&fixture("github_push"), &no_headers()));
    assert!(handle.join().unwrap());
    assert!(!filter.matches(&fixture("github_tag_push"), &no_headers()));
}

/// Builds a source of one shape, `n` levels deep.
type MakeSource = fn(usize) -> String;

/// The deepest source of one shape that compiles: `make(n)` for growing `n`.
fn deepest_accepted(make: impl Fn(usize) -> String) -> (usize, Filter) {
    let mut accepted = None;
    for n in 1..200 {
        match Filter::compile(&make(n)) {
            Ok(filter) => accepted = Some((n, filter)),
            Err(FilterError::Compile { message }) => {
                assert!(message.contains("nested"), "{message}");
                return accepted.unwrap();
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    panic!("no depth limit");
}

// Run on the test harness's thread (2 MiB of stack): cel's parser and
// evaluator recurse, and a stack overflow aborts the whole process.
#[test]
fn deep_sources_are_refused_and_accepted_ones_evaluate() {
    let push = fixture("github_push");

    // Brackets: cel's parser has a limit of 96, but needs a big stack to
    // reach it; compile gives it one.
    let nested = |n: usize| format!("{}true{}", "(".repeat(n), ")".repeat(n));
    assert!(
        Filter::compile(&nested(90))
            .unwrap()
            .matches(&push, &no_headers())
    );
    let Err(FilterError::Compile { message }) = Filter::compile(&nested(200)) else {
        panic!("200 brackets compiled");
    };
    assert_eq!(message, "brackets nested too deeply");
    let lists = |n: usize| format!("{}1{} != []", "[".repeat(n), "]".repeat(n));
    assert!(Filter::compile(&lists(200)).is_err());

    // Chains make deep trees without brackets: the depth limit refuses
    // them, and what it lets through evaluates.
    let shapes: [(&str, MakeSource); 5] = [
        ("plus", |n| format!("1{} > 0", " + 1".repeat(n))),
        ("equal", |n| format!("true{}", " == true".repeat(n))),
        ("member", |n| format!("has(body{})", ".a".repeat(n))),
        ("index", |n| {
            format!("body.commits{}[0] == 0", "[0]".repeat(n))
        }),
        ("exists", |n| {
            let open = "body.commits.exists(c, ".repeat(n);
            format!("{open}true{}", ")".repeat(n))
        }),
    ];
    for (shape, make) in shapes {
        let (n, filter) = deepest_accepted(make);
        assert!(n >= 3, "{shape}: only {n} levels");
        // An evaluation error (`body.a` is missing, a commit is a map, not a
        // list) is fine; what matters is that evaluating does not crash.
        let result = filter.evaluate(&push, &no_headers());
        if matches!(shape, "plus" | "equal" | "exists") {
            assert_eq!(result, Ok(true), "{shape}");
        }
        assert!(Filter::compile(&make(3000)).is_err(), "{shape}");
    }

    let Err(FilterError::Compile { message }) =
        Filter::compile(&format!("true{}", " && true".repeat(1000)))
    else {
        panic!("a long source compiled");
    };
    assert_eq!(message, "longer than 4096 bytes");
}

#[test]
fn realistic_filters_are_well_within_the_depth_limit() {
    let source = r#"
        headers["x-github-event"] == "push"
        && body.ref in ["refs/heads/main", "refs/heads/release"]
        && body.repository.full_name == "acme/api"
        && !body.deleted
        && size(body.commits) > 0
        && body.commits.exists(c,
               c.added.exists(f, f.startsWith("src/") || f.endsWith(".rs"))
               || c.modified.exists(f, f.startsWith("src/")))
        && body.head_commit.author.username in ["ada", "grace"]
    "#;
    let filter = Filter::compile(source).unwrap();
    let event = headers(&[("X-GitHub-Event", "push")]);
    assert_eq!(filter.evaluate(&fixture("github_push"), &event), Ok(true));
}

/// A payload with a list of `n` numbers and a short string.
fn big_body(n: usize) -> serde_json::Value {
    serde_json::json!({ "xs": (0..n).collect::<Vec<_>>(), "s": "refs/heads/main" })
}

fn is_budget(result: &Result<bool, FilterError>) -> bool {
    matches!(result, Err(FilterError::Budget { .. }))
}

/// Loops nested three deep over 1,000 elements would take 10⁹ steps: the
/// evaluation stops at the iteration bound, soon, and counts as no match.
#[test]
fn nested_loops_over_a_large_list_stop_at_the_budget() {
    let body = big_body(1_000);
    let started = std::time::Instant::now();
    for source in [
        "body.xs.all(a, body.xs.all(b, body.xs.all(c, a + b + c >= 0)))",
        "body.xs.exists(a, body.xs.exists(b, body.xs.exists(c, a + b + c < 0)))",
        "size(body.xs.map(a, body.xs.map(b, body.xs.filter(c, c > a)))) > 0",
    ] {
        let filter = Filter::compile(source).unwrap();
        let result = filter.evaluate(&body, &no_headers());
        assert!(is_budget(&result), "{source}: {result:?}");
        assert!(!filter.matches(&body, &no_headers()), "{source}");
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    // One loop over the same list, or two nested over a short one, is fine.
    let one = Filter::compile("body.xs.all(a, a >= 0)").unwrap();
    assert_eq!(one.evaluate(&body, &no_headers()), Ok(true));
    let small = big_body(100);
    let two = Filter::compile("body.xs.exists(a, body.xs.exists(b, a + b == 198))").unwrap();
    assert_eq!(two.evaluate(&small, &no_headers()), Ok(true));
}

/// Multiplying a string (or a list) in a chain of `map`s grows
/// exponentially with the length of the source (8⁸ copies of a string here): stopped at the growth bound, before it
/// takes the memory.
#[test]
fn exponential_growth_stops_at_the_budget() {
    let body = big_body(10);
    let doubling = format!(
        "size([body.s]{}[0]) > 0",
        ".map(a, a + a + a + a + a + a + a + a)".repeat(8)
    );
    let filter = Filter::compile(&doubling).unwrap();
    let result = filter.evaluate(&body, &no_headers());
    assert!(is_budget(&result), "{result:?}");
    let lists = format!(
        "size([body.xs]{}[0]) > 0",
        ".map(a, a + a + a + a)".repeat(11)
    );
    let filter = Filter::compile(&lists).unwrap();
    assert!(is_budget(&filter.evaluate(&body, &no_headers())));
    // A few concatenations are fine.
    let fine = Filter::compile("size(body.s + body.s + \"x\") == 31").unwrap();
    assert_eq!(fine.evaluate(&body, &no_headers()), Ok(true));
}

/// `exists` forgives an error in one element once another is true; a loop
/// that went over the budget still makes the whole evaluation fail.
#[test]
fn a_swallowed_budget_error_still_fails_the_evaluation() {
    let body = big_body(1_000);
    let source = "[1, 2].exists(i, i == 2 || body.xs.all(a, body.xs.all(b, true)))";
    let filter = Filter::compile(source).unwrap();
    let result = filter.evaluate(&body, &no_headers());
    assert!(is_budget(&result), "{result:?}");
}
