#![allow(clippy::unwrap_used)]
//! Cron schedules: fire times checked against Python's croniter (the JSON
//! fixture written by `tests/fixtures/cron/generate.py`; this test never
//! runs Python), refused expressions, and the catch-up policy with an
//! injected clock.

use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use slipway_core::Clock;
use slipway_domain::{Schedule, ScheduleError};

const FIXTURE: &str = include_str!("fixtures/cron/expected.json");

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn fmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Cases where croniter and croner (Slipway) knowingly differ. For each:
/// the fire times Slipway produces, and why they are the right ones (see
/// docs/schedules.md, "Daylight saving time").
fn known_disagreement(name: &str) -> Option<(&'static [&'static str], &'static str)> {
    match name {
        // 01:30 local happens twice on 2024-11-03 (EDT 05:30Z, EST 06:30Z).
        // croniter runs it twice; Vixie cron runs a fixed-time job once in a
        // repeated hour, and so does croner (OCPS 1.4 DST rules).
        "new_york_fall_repeat" => Some((
            &[
                "2024-11-01T05:30:00Z",
                "2024-11-02T05:30:00Z",
                "2024-11-03T05:30:00Z",
                "2024-11-04T06:30:00Z",
                "2024-11-05T06:30:00Z",
                "2024-11-06T06:30:00Z",
                "2024-11-07T06:30:00Z",
                "2024-11-08T06:30:00Z",
                "2024-11-09T06:30:00Z",
                "2024-11-10T06:30:00Z",
            ],
            "a fixed-time job runs once in a repeated hour (Vixie), croniter runs it twice",
        )),
        _ => None,
    }
}

#[test]
fn fixture_has_enough_cases() {
    let doc: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 15, "only {} cases", cases.len());
}

#[test]
fn next_fire_times_match_croniter() {
    let doc: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
    let mut failures = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let expr = case["expr"].as_str().unwrap();
        let tz = case["timezone"].as_str();
        let start = at(case["start"].as_str().unwrap());
        let expected: Vec<&str> = case["croniter"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let schedule =
            Schedule::parse(expr, tz).unwrap_or_else(|e| panic!("{name}: `{expr}` refused: {e}"));

        let mut got = Vec::new();
        let mut t = start;
        for _ in 0..expected.len() {
            let next = schedule.next_after(t).unwrap();
            assert!(next > t, "{name}: next_after must be strictly after");
            got.push(fmt(next));
            t = next;
        }
        // fires_between agrees with repeated next_after.
        let last = at(got.last().unwrap());
        let between: Vec<String> = schedule.fires_between(start, last).map(fmt).collect();
        assert_eq!(between, got, "{name}: fires_between");

        match known_disagreement(name) {
            Some((ours, why)) => {
                assert_ne!(got, expected, "{name}: the documented disagreement is gone");
                assert_eq!(got, ours, "{name}: {why}");
            }
            None => {
                if got != expected {
                    failures.push(format!(
                        "{name} `{expr}` ({tz:?}) from {start}:\n  croniter {expected:?}\n  slipway  {got:?}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn latest_at_or_before_is_the_previous_fire_time() {
    let doc: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if known_disagreement(name).is_some() {
            continue;
        }
        let schedule =
            Schedule::parse(case["expr"].as_str().unwrap(), case["timezone"].as_str()).unwrap();
        let fires: Vec<DateTime<Utc>> = case["croniter"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| at(v.as_str().unwrap()))
            .collect();
        for pair in fires.windows(2) {
            assert_eq!(
                schedule.latest_at_or_before(pair[1]),
                Some(pair[1]),
                "{name}"
            );
            assert_eq!(
                schedule.latest_at_or_before(pair[1] - TimeDelta::milliseconds(1)),
                Some(pair[0]),
                "{name}"
            );
        }
    }
}

#[test]
fn vixie_or_when_both_day_fields_are_restricted() {
    // 2024-02-01 is a Thursday: fires on the 1st even though it is no Monday,
    // and on Mondays that are not the 1st.
    let s = Schedule::parse("0 0 1 * MON", None).unwrap();
    let fires: Vec<String> = s
        .fires_between(at("2024-01-28T00:00:00Z"), at("2024-02-13T00:00:00Z"))
        .map(fmt)
        .collect();
    assert_eq!(
        fires,
        [
            "2024-01-29T00:00:00Z",
            "2024-02-01T00:00:00Z",
            "2024-02-05T00:00:00Z",
            "2024-02-12T00:00:00Z"
        ]
    );
    // Only one day field restricted: that one alone decides.
    let s = Schedule::parse("0 0 * * MON", None).unwrap();
    assert_eq!(
        fmt(s.next_after(at("2024-01-31T00:00:00Z")).unwrap()),
        "2024-02-05T00:00:00Z"
    );
    let s = Schedule::parse("0 0 1 * *", None).unwrap();
    assert_eq!(
        fmt(s.next_after(at("2024-01-29T00:00:00Z")).unwrap()),
        "2024-02-01T00:00:00Z"
    );
    // `?` means `*` in a day field (as in Kubernetes).
    let s = Schedule::parse("0 0 ? * MON", None).unwrap();
    assert_eq!(
        fmt(s.next_after(at("2024-01-31T00:00:00Z")).unwrap()),
        "2024-02-05T00:00:00Z"
    );
}

#[test]
fn names_are_case_insensitive_and_seven_is_sunday() {
    let a = Schedule::parse("0 9 * jan-mar mon-fri", None).unwrap();
    let b = Schedule::parse("0 9 * 1-3 1-5", None).unwrap();
    let t = at("2024-03-29T10:00:00Z");
    assert_eq!(a.next_after(t), b.next_after(t));
    let sun7 = Schedule::parse("0 0 * * 7", None).unwrap();
    let sun0 = Schedule::parse("0 0 * * SUN", None).unwrap();
    assert_eq!(sun7.next_after(t), sun0.next_after(t));
}

#[test]
fn sub_second_start_is_still_strictly_before() {
    let s = Schedule::parse("* * * * * *", None).unwrap();
    let t = at("2024-01-01T00:00:00.500Z");
    assert_eq!(fmt(s.next_after(t).unwrap()), "2024-01-01T00:00:01Z");
    let s = Schedule::parse("* * * * *", None).unwrap();
    assert_eq!(fmt(s.next_after(t).unwrap()), "2024-01-01T00:01:00Z");
}

#[test]
fn accessors() {
    let s = Schedule::parse("  0 9 * * MON-FRI ", Some("Europe/Berlin")).unwrap();
    assert_eq!(s.expression(), "0 9 * * MON-FRI");
    assert_eq!(s.timezone(), "Europe/Berlin");
    assert!(!s.has_seconds());
    assert!(!s.describe().is_empty());
    assert_eq!(s.to_string(), "0 9 * * MON-FRI (Europe/Berlin)");
    let s = Schedule::parse("@hourly", None).unwrap();
    assert_eq!(s.timezone(), "UTC");
    assert!(Schedule::parse("0 0 * * * *", None).unwrap().has_seconds());
}

fn refused(expr: &str) -> ScheduleError {
    match Schedule::parse(expr, None) {
        Ok(s) => panic!("`{expr}` was accepted as {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn invalid_expressions_are_refused_with_the_field_and_the_reason() {
    // (expression, words the message must contain)
    let cases: &[(&str, &[&str])] = &[
        ("", &["empty"]),
        ("   ", &["empty"]),
        ("* * * *", &["4 field", "expected 5"]),
        ("* * * * * * *", &["7 field", "expected 5"]),
        ("60 * * * *", &["minute", "60", "0-59"]),
        ("* 24 * * *", &["hour", "24", "0-23"]),
        ("* * 0 * *", &["day-of-month", "0", "1-31"]),
        ("* * 32 * *", &["day-of-month", "32"]),
        ("* * * 13 *", &["month", "13", "1-12"]),
        ("* * * * 8", &["day-of-week", "8", "0-7"]),
        ("61 * * * * *", &["second", "61"]),
        ("* * * FOO *", &["month", "FOO", "JAN"]),
        ("* * * * MONDAY", &["day-of-week", "MONDAY"]),
        ("* * * MON *", &["month", "MON"]),
        ("* * * * JAN", &["day-of-week", "JAN"]),
        ("a * * * *", &["minute", "not a number"]),
        ("*/0 * * * *", &["minute", "step"]),
        ("*/x * * * *", &["minute", "step"]),
        ("*/61 * * * *", &["minute", "step 61"]),
        ("5/10 * * * *", &["minute", "needs a range"]),
        ("30-10 * * * *", &["minute", "backwards"]),
        ("1,,2 * * * *", &["minute", "empty list item"]),
        ("1- * * * *", &["minute", "missing"]),
        ("* * L * *", &["day-of-month", "`L`"]),
        ("* * * * 5#3", &["day-of-week"]),
        ("? * * * *", &["minute"]),
        ("@reboot", &["unknown shorthand", "@reboot"]),
        ("@every 5m", &["unknown shorthand"]),
        ("0 0 30 2 *", &["never fires"]),
        ("0 0 31 4,6,9,11 *", &["never fires"]),
    ];
    for (expr, words) in cases {
        let msg = refused(expr).to_string();
        for w in *words {
            assert!(msg.contains(w), "`{expr}`: message {msg:?} lacks {w:?}");
        }
    }
}

#[test]
fn invalid_timezones_are_refused_by_name() {
    for tz in ["Mars/Olympus_Mons", "", "EST5EDT6", "america/new york"] {
        let err = Schedule::parse("0 0 * * *", Some(tz)).unwrap_err();
        assert_eq!(err, ScheduleError::Timezone(tz.to_owned()));
        assert!(err.to_string().contains(&format!("`{tz}`")), "{err}");
    }
    assert!(Schedule::parse("0 0 * * *", Some("UTC")).is_ok());
}

/// A clock the test moves by hand.
#[derive(Debug)]
struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    fn set(&self, t: &str) {
        *self.0.lock().unwrap() = at(t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

#[test]
fn cron_fires_at_the_right_minute_with_an_injected_clock() {
    let s = Schedule::parse("30 14 * * *", Some("America/New_York")).unwrap();
    let clock = ManualClock(Mutex::new(at("2024-07-01T18:29:59Z")));
    // 14:30 EDT = 18:30Z; not yet.
    assert_eq!(s.due_at(None, &clock), None);
    // A scheduler polling every few seconds: due exactly once, in the minute.
    let mut last = None;
    let mut runs = Vec::new();
    let mut t = at("2024-07-01T18:29:00Z");
    while t < at("2024-07-01T18:33:00Z") {
        *clock.0.lock().unwrap() = t;
        if let Some(fire) = s.due_at(last, &clock) {
            runs.push(fmt(fire));
            last = Some(fire);
        }
        t += TimeDelta::seconds(7);
    }
    assert_eq!(runs, ["2024-07-01T18:30:00Z"]);
    // In winter the same local time is 19:30Z; after downtime since July the
    // one catch-up run is today's.
    clock.set("2024-12-02T19:30:20Z");
    assert_eq!(
        s.due_at(Some(at("2024-07-01T18:30:00Z")), &clock),
        Some(at("2024-12-02T19:30:00Z"))
    );
    clock.set("2024-12-02T19:29:59Z");
    assert_eq!(
        s.due_at(Some(at("2024-12-01T19:30:00Z")), &clock),
        None,
        "a minute early"
    );
}

#[test]
fn due_without_downtime_is_the_fire_time_of_the_current_minute() {
    let s = Schedule::parse("*/5 * * * *", None).unwrap();
    // Previous run at 10:00, now 10:05:42: exactly 10:05.
    let due = s.due(Some(at("2024-01-01T10:00:00Z")), at("2024-01-01T10:05:42Z"));
    assert_eq!(due, Some(at("2024-01-01T10:05:00Z")));
    // Already fired at 10:05: nothing until 10:10.
    let due = s.due(Some(at("2024-01-01T10:05:00Z")), at("2024-01-01T10:09:59Z"));
    assert_eq!(due, None);
    // Never fired: only a fire time in the current minute counts.
    assert_eq!(
        s.due(None, at("2024-01-01T10:05:59Z")),
        Some(at("2024-01-01T10:05:00Z"))
    );
    assert_eq!(s.due(None, at("2024-01-01T10:06:00Z")), None);
    // On the fire instant itself.
    assert_eq!(
        s.due(None, at("2024-01-01T10:10:00Z")),
        Some(at("2024-01-01T10:10:00Z"))
    );
    // 6 fields: the current second.
    let s = Schedule::parse("*/10 * * * * *", None).unwrap();
    assert_eq!(
        s.due(None, at("2024-01-01T10:00:20.900Z")),
        Some(at("2024-01-01T10:00:20Z"))
    );
    assert_eq!(s.due(None, at("2024-01-01T10:00:21Z")), None);
}

#[test]
fn after_downtime_at_most_one_catch_up_run_then_the_regular_schedule() {
    let s = Schedule::parse("0 * * * *", None).unwrap();
    let last = at("2024-01-01T03:00:00Z");
    // Down from 03:10 to 09:20: 04:00..09:00 were missed (6 fire times).
    let now = at("2024-01-01T09:20:00Z");
    assert_eq!(s.fires_between(last, now).count(), 6);
    let catch_up = s.due(Some(last), now);
    assert_eq!(
        catch_up,
        Some(at("2024-01-01T09:00:00Z")),
        "only the latest"
    );
    // Once it ran, nothing more is due before the next regular fire time.
    let last = catch_up.unwrap();
    for later in ["2024-01-01T09:20:01Z", "2024-01-01T09:59:59Z"] {
        assert_eq!(s.due(Some(last), at(later)), None);
    }
    assert_eq!(s.next_after(now), Some(at("2024-01-01T10:00:00Z")));
    assert_eq!(
        s.due(Some(last), at("2024-01-01T10:00:03Z")),
        Some(at("2024-01-01T10:00:00Z"))
    );
    // A long outage (weeks of a per-second schedule) is still one run.
    let s = Schedule::parse("* * * * * *", None).unwrap();
    assert_eq!(
        s.due(
            Some(at("2024-01-01T00:00:00Z")),
            at("2024-02-15T12:34:56.7Z")
        ),
        Some(at("2024-02-15T12:34:56Z"))
    );
}

#[test]
fn catch_up_across_a_dst_change_uses_local_time() {
    // 09:00 New York daily; the server was down over the spring change.
    let s = Schedule::parse("0 9 * * *", Some("America/New_York")).unwrap();
    let last = at("2024-03-08T14:00:00Z"); // Fri 09:00 EST
    let now = at("2024-03-11T15:00:00Z"); // Mon 11:00 EDT
    assert_eq!(s.due(Some(last), now), Some(at("2024-03-11T13:00:00Z")));
}
