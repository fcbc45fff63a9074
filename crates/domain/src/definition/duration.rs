//! Durations as people write them: `90s`, `30m`, `2h`, `1d`, `1h30m`, or a
//! whole number of seconds.

use std::time::Duration;

/// The longest duration a definition may hold (365 days). Anything longer
/// is almost certainly a mistake, and the bound keeps every later
/// conversion (to floating-point seconds and back) exact and panic-free.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3600), ('m', 60), ('s', 1)];

/// Parses a duration written as a whole number of seconds (`"90"`) or as
/// one or more `<number><unit>` parts with units `d`, `h`, `m`, `s`, each
/// unit at most once and from largest to smallest (`"1h30m"`). The result
/// must be positive and at most [`MAX_DURATION`]. The error is a sentence
/// that starts with `invalid duration "<text>"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "invalid duration \"{}\": write a number of seconds or parts with units d, h, m, s such as \"90s\", \"30m\", \"1h30m\"",
            text.escape_debug()
        )
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    if t.bytes().all(|b| b.is_ascii_digit()) {
        total = t.parse().map_err(|_| too_long(text))?;
    } else {
        let mut rest = t;
        // Index into UNITS of the next unit allowed (units go largest first).
        let mut next_unit = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(invalid());
            }
            let amount: u64 = rest[..digits].parse().map_err(|_| too_long(text))?;
            let mut chars = rest[digits..].chars();
            let unit = chars.next().ok_or_else(invalid)?;
            let pos = UNITS[next_unit..]
                .iter()
                .position(|(u, _)| *u == unit)
                .ok_or_else(invalid)?;
            let factor = UNITS[next_unit + pos].1;
            next_unit += pos + 1;
            total = amount
                .checked_mul(factor)
                .and_then(|x| x.checked_add(total))
                .ok_or_else(|| too_long(text))?;
            rest = chars.as_str();
        }
    }
    seconds(total).map_err(|why| format!("invalid duration \"{}\": {why}", text.escape_debug()))
}

fn too_long(text: &str) -> String {
    format!(
        "invalid duration \"{}\": {}",
        text.escape_debug(),
        LONGER_THAN_MAX
    )
}

const LONGER_THAN_MAX: &str = "must be at most 365d";

/// A duration of `secs` seconds, checked against the bounds.
pub(crate) fn seconds(secs: u64) -> Result<Duration, &'static str> {
    let d = Duration::from_secs(secs);
    if secs == 0 {
        Err("must be positive")
    } else if d > MAX_DURATION {
        Err(LONGER_THAN_MAX)
    } else {
        Ok(d)
    }
}

/// Writes `d` in the form [`parse_duration`] reads, largest units first
/// (`5400 s` is `"1h30m"`); sub-second parts are dropped. The canonical
/// stored form of every duration.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, factor) in UNITS {
        let n = secs / factor;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push(unit);
            secs -= n * factor;
        }
    }
    out
}

/// Serializes `Option<Duration>` as the canonical string, for serde.
pub(crate) mod opt_text {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format_duration(*d)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_seconds() {
        let s = Duration::from_secs;
        assert_eq!(parse_duration("90s"), Ok(s(90)));
        assert_eq!(parse_duration("30m"), Ok(s(1800)));
        assert_eq!(parse_duration("2h"), Ok(s(7200)));
        assert_eq!(parse_duration("1d"), Ok(s(86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(s(5400)));
        assert_eq!(parse_duration(" 1h2m3s "), Ok(s(3723)));
        assert_eq!(parse_duration("45"), Ok(s(45)));
        assert_eq!(parse_duration("365d"), Ok(MAX_DURATION));
    }

    #[test]
    fn refuses_bad_text() {
        for bad in [
            "",
            "5x",
            "m",
            "1.5h",
            "-3s",
            "30m1h",
            "1h1h",
            "1 h",
            "h1",
            "1hh",
            "0s",
            "0",
            "366d",
            "99999999999999999999999s",
            "18446744073709551615d",
            "１s",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.starts_with("invalid duration \""), "{bad}: {err}");
        }
        assert!(
            parse_duration("5x")
                .unwrap_err()
                .starts_with("invalid duration \"5x\"")
        );
        assert!(
            parse_duration("0s")
                .unwrap_err()
                .ends_with("must be positive")
        );
    }

    #[test]
    fn formats_what_it_parses() {
        for (secs, text) in [
            (90, "1m30s"),
            (5400, "1h30m"),
            (86_400, "1d"),
            (3723, "1h2m3s"),
        ] {
            assert_eq!(format_duration(Duration::from_secs(secs)), text);
            assert_eq!(parse_duration(text), Ok(Duration::from_secs(secs)));
        }
    }
}
