#![allow(clippy::unwrap_used)]
//! Secret values at rest: keys, sealing, the key file, names.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use slipway_domain::secrets::{self, SecretError, SecretKey, SecretName, SecretOwner};

const PLAINTEXT: &str = "hunter2-very-secret-value";
const AAD: &str = "project/p1/DB_PASSWORD";

fn key() -> SecretKey {
    SecretKey::generate().unwrap()
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Why opening `sealed` with `key` and `aad` fails (panics if it opens).
fn open_error(key: &SecretKey, sealed: &str, aad: &str) -> SecretError {
    secrets::open(key, sealed, aad).unwrap_err()
}

#[test]
fn round_trip() {
    let key = key();
    for value in [
        PLAINTEXT,
        "",
        "ünïcødé ✓\nmulti\nline",
        &"x".repeat(100_000),
    ] {
        let sealed = secrets::seal(&key, value, AAD).unwrap();
        assert!(sealed.starts_with("v1:"), "{sealed}");
        assert!(!sealed.contains(value) || value.is_empty());
        assert_eq!(secrets::open(&key, &sealed, AAD).unwrap(), value);
    }
}

#[test]
fn sealed_layout_is_nonce_ciphertext_tag() {
    let sealed = secrets::seal(&key(), "abc", AAD).unwrap();
    let raw = STANDARD
        .decode(sealed.strip_prefix("v1:").unwrap())
        .unwrap();
    assert_eq!(raw.len(), secrets::NONCE_LEN + 3 + secrets::TAG_LEN);
}

#[test]
fn two_seals_of_the_same_value_differ() {
    let key = key();
    let a = secrets::seal(&key, PLAINTEXT, AAD).unwrap();
    let b = secrets::seal(&key, PLAINTEXT, AAD).unwrap();
    assert_ne!(a, b);
    assert_eq!(secrets::open(&key, &a, AAD).unwrap(), PLAINTEXT);
    assert_eq!(secrets::open(&key, &b, AAD).unwrap(), PLAINTEXT);
}

#[test]
fn tampered_ciphertext_is_refused() {
    let key = key();
    let sealed = secrets::seal(&key, PLAINTEXT, AAD).unwrap();
    let raw = STANDARD
        .decode(sealed.strip_prefix("v1:").unwrap())
        .unwrap();
    // Flip one bit at every position: nonce, ciphertext and tag alike.
    for i in 0..raw.len() {
        let mut bad = raw.clone();
        bad[i] ^= 0x01;
        let text = format!("v1:{}", STANDARD.encode(&bad));
        assert!(matches!(open_error(&key, &text, AAD), SecretError::Open));
    }
    // Truncated and extended.
    let short = format!("v1:{}", STANDARD.encode(&raw[..raw.len() - 1]));
    assert!(matches!(open_error(&key, &short, AAD), SecretError::Open));
    let mut long = raw.clone();
    long.push(0);
    let long = format!("v1:{}", STANDARD.encode(&long));
    assert!(matches!(open_error(&key, &long, AAD), SecretError::Open));
}

#[test]
fn wrong_key_is_refused() {
    let sealed = secrets::seal(&key(), PLAINTEXT, AAD).unwrap();
    let err = secrets::open(&key(), &sealed, AAD).unwrap_err();
    assert!(matches!(err, SecretError::Open));
    assert!(err.to_string().contains("wrong key"));
}

#[test]
fn wrong_aad_is_refused() {
    let key = key();
    let name = SecretName::new("DB_PASSWORD").unwrap();
    let here = SecretOwner::Project("p1").aad(&name);
    assert_eq!(here, AAD);
    let sealed = secrets::seal(&key, PLAINTEXT, &here).unwrap();
    let elsewhere = [
        SecretOwner::Project("p2").aad(&name),
        SecretOwner::Application("p1").aad(&name),
        SecretOwner::Project("p1").aad(&SecretName::new("API_TOKEN").unwrap()),
        String::new(),
    ];
    for aad in &elsewhere {
        assert!(matches!(open_error(&key, &sealed, aad), SecretError::Open));
    }
}

#[test]
fn unknown_version_and_garbage_are_errors_not_panics() {
    let key = key();
    let sealed = secrets::seal(&key, PLAINTEXT, AAD).unwrap();
    let v2 = sealed.replacen("v1:", "v2:", 1);
    assert!(matches!(
        open_error(&key, &v2, AAD),
        SecretError::UnknownVersion
    ));
    assert!(matches!(
        open_error(&key, "V1:AAAA", AAD),
        SecretError::UnknownVersion
    ));
    for garbage in [
        "",
        ":",
        "v1",
        "v1:",
        "v1:!!!not base64!!!",
        "v1:AAAA",
        "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA====",
        "no colon at all",
        "\u{0}\u{1}\u{2}",
        "v1:ÿÿÿÿ",
    ] {
        let err = secrets::open(&key, garbage, AAD).unwrap_err();
        assert!(
            matches!(
                err,
                SecretError::Malformed | SecretError::UnknownVersion | SecretError::Open
            ),
            "{garbage:?}: {err:?}"
        );
    }
    // Base64 of a valid-length blob that is not ours.
    let blob = format!("v1:{}", STANDARD.encode([7u8; 64]));
    assert!(matches!(open_error(&key, &blob, AAD), SecretError::Open));
}

#[test]
fn debug_never_shows_key_or_plaintext() {
    let key = key();
    let text = key.to_text();
    let shown = format!("{key:?} {key:#?}");
    assert!(!shown.contains(text.as_str()), "{shown}");
    assert!(shown.contains("redacted"));

    let sealed = secrets::seal(&key, PLAINTEXT, AAD).unwrap();
    let mut errors = vec![
        secrets::open(&SecretKey::generate().unwrap(), &sealed, AAD).unwrap_err(),
        secrets::open(&key, &sealed, "other").unwrap_err(),
        secrets::open(&key, "garbage", AAD).unwrap_err(),
        SecretKey::from_text(&format!("{}x", text.as_str())).unwrap_err(),
        SecretKey::from_text(&text[..20]).unwrap_err(),
    ];
    errors
        .push(SecretKey::load_or_create(Path::new("/nonexistent"), Some(&text[4..])).unwrap_err());
    for err in &errors {
        let shown = format!("{err:?} {err}");
        assert!(!shown.contains(PLAINTEXT), "{shown}");
        assert!(!shown.contains(text.as_str()), "{shown}");
        assert!(!shown.contains(&text[..20]), "{shown}");
        assert!(!shown.contains(&text[4..]), "{shown}");
    }
}

#[test]
fn key_text_round_trip_and_errors() {
    let key = key();
    let text = key.to_text();
    assert_eq!(STANDARD.decode(text.as_str()).unwrap().len(), 32);
    assert_eq!(SecretKey::from_text(&text).unwrap(), key);
    assert_eq!(
        SecretKey::from_text(&format!("  {}\n", text.as_str())).unwrap(),
        key
    );
    assert_ne!(SecretKey::generate().unwrap(), key);

    assert!(matches!(
        SecretKey::from_text(""),
        Err(SecretError::KeyEmpty)
    ));
    assert!(matches!(
        SecretKey::from_text(" \n"),
        Err(SecretError::KeyEmpty)
    ));
    assert!(matches!(
        SecretKey::from_text("not*base64"),
        Err(SecretError::KeyNotBase64)
    ));
    // URL-safe alphabet is not the standard one.
    let url_safe = base64::engine::general_purpose::URL_SAFE.encode([0xfbu8; 32]);
    assert!(matches!(
        SecretKey::from_text(&url_safe),
        Err(SecretError::KeyNotBase64)
    ));
    let err = SecretKey::from_text(&STANDARD.encode([1u8; 16])).unwrap_err();
    assert!(matches!(err, SecretError::KeyLength { found: 16 }));
    assert!(err.to_string().contains("32 bytes"));
}

#[test]
fn load_or_create_generates_a_0600_file_and_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("secret.key");
    let first = SecretKey::load_or_create(&path, None).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    let on_disk = fs::read_to_string(&path).unwrap();
    assert_eq!(on_disk.trim(), first.to_text().as_str());
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("secret.key")]);

    let second = SecretKey::load_or_create(&path, None).unwrap();
    assert_eq!(first, second);
    let sealed = secrets::seal(&first, PLAINTEXT, AAD).unwrap();
    assert_eq!(secrets::open(&second, &sealed, AAD).unwrap(), PLAINTEXT);
}

#[test]
fn configured_key_wins_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.key");
    let from_file = SecretKey::load_or_create(&path, None).unwrap();
    let configured = SecretKey::generate().unwrap();
    let got = SecretKey::load_or_create(&path, Some(&configured.to_text())).unwrap();
    assert_eq!(got, configured);
    assert_ne!(got, from_file);

    // With a configured key, no file is created.
    let other = dir.path().join("unused.key");
    SecretKey::load_or_create(&other, Some(&configured.to_text())).unwrap();
    assert!(!other.exists());

    // A bad configured key is an error, not a fallback to the file.
    let err = SecretKey::load_or_create(&path, Some("short")).unwrap_err();
    assert!(matches!(err, SecretError::ConfiguredKey(_)), "{err:?}");
    assert!(err.to_string().contains("SLIPWAY_SECRET_KEY"));
}

#[test]
fn key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.key");
    SecretKey::load_or_create(&path, None).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let err = SecretKey::load_or_create(&path, None).unwrap_err();
        assert!(
            matches!(err, SecretError::KeyFilePermissions { mode: m, .. } if m == mode),
            "{err:?}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    SecretKey::load_or_create(&path, None).unwrap();
}

#[test]
fn corrupt_key_file_is_refused_and_left_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.key");
    for content in [&b"not a key\n"[..], b"", b"AAAA\n", &[0xff, 0xfe, 0x00]] {
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = SecretKey::load_or_create(&path, None).unwrap_err();
        assert!(matches!(err, SecretError::CorruptKeyFile { .. }), "{err:?}");
        assert!(err.to_string().contains("left untouched"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), content);
    }
}

#[test]
fn key_path_that_is_a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.key");
    fs::create_dir(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
    let err = SecretKey::load_or_create(&path, None).unwrap_err();
    assert!(
        matches!(
            err,
            SecretError::KeyFileNotRegular { .. } | SecretError::KeyFileIo { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn secret_names() {
    for ok in ["A", "_", "DB_PASSWORD", "_X1", "TOKEN_2", "CIPHER", "MY_CI"] {
        assert_eq!(SecretName::new(ok).unwrap().as_str(), ok);
    }
    let long = "A".repeat(128);
    assert!(SecretName::new(long.as_str()).is_ok());

    assert!(matches!(SecretName::new(""), Err(SecretError::NameEmpty)));
    assert!(matches!(
        SecretName::new("A".repeat(129)),
        Err(SecretError::NameTooLong { len: 129 })
    ));
    for bad in ["1ABC", "db_password", "A-B", "A B", "É", "A.B", "a"] {
        let err = SecretName::new(bad).unwrap_err();
        assert!(matches!(err, SecretError::NameInvalid { .. }), "{bad}");
        assert!(err.to_string().contains("upper-case"), "{err}");
    }
    for reserved in ["SLIPWAY_COMMIT", "SLIPWAY_", "CI", "CI_JOB"] {
        let err = SecretName::new(reserved).unwrap_err();
        assert!(
            matches!(err, SecretError::NameReserved { .. }),
            "{reserved}"
        );
        assert!(err.to_string().contains("reserved"), "{err}");
    }
    assert!("OK_NAME".parse::<SecretName>().is_ok());
    let json: Result<SecretName, _> = serde_json::from_str("\"bad name\"");
    assert!(json.is_err());
    let json: SecretName = serde_json::from_str("\"GOOD\"").unwrap();
    assert_eq!(serde_json::to_string(&json).unwrap(), "\"GOOD\"");
}

#[test]
fn secret_values_that_no_job_environment_can_hold_are_refused() {
    use slipway_domain::limits::{MAX_VALUE_BYTES, check_secret_value};
    let refused = |value: &str| match check_secret_value(value) {
        Err(slipway_domain::DomainError::Invalid(problems)) => {
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].path, "value");
            problems[0].message.clone()
        }
        other => panic!("{other:?}"),
    };
    assert!(refused("pass\0word").contains("NUL"));
    assert_eq!(refused(""), "required");
    assert!(refused(&"v".repeat(MAX_VALUE_BYTES + 1)).starts_with("at most 65536 bytes"));
    assert!(check_secret_value(&"v".repeat(MAX_VALUE_BYTES)).is_ok());
    assert!(check_secret_value("-----BEGIN KEY-----\nabc\n-----END KEY-----").is_ok());
    // The same limit as the secret names' own.
    assert_eq!(
        slipway_domain::secrets::MAX_NAME_LEN,
        slipway_domain::limits::MAX_SECRET_NAME_LEN
    );
}

#[test]
fn the_session_key_is_kept_like_the_secret_key_but_apart_from_it() {
    use slipway_domain::SessionKey;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(secrets::SESSION_KEY_FILE_NAME);
    let made = SessionKey::load_or_create(&path, None).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(SessionKey::load_or_create(&path, None).unwrap(), made);
    assert_eq!(format!("{made:?}"), "SessionKey(<redacted>)");
    assert!(!dir.path().join(secrets::KEY_FILE_NAME).exists());

    // Configured wins; a bad configured key names the setting.
    let configured = SessionKey::generate().unwrap();
    let got = SessionKey::load_or_create(&path, Some(&configured.to_text())).unwrap();
    assert_eq!(got, configured);
    let err = SessionKey::load_or_create(&path, Some("short")).unwrap_err();
    assert!(
        matches!(err, SecretError::ConfiguredSessionKey(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("session_key"), "{err}");

    // The file rules are the secret key's.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let err = SessionKey::load_or_create(&path, None).unwrap_err();
    assert!(
        matches!(err, SecretError::KeyFilePermissions { .. }),
        "{err:?}"
    );
    fs::write(&path, "not a key\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let err = SessionKey::load_or_create(&path, None).unwrap_err();
    assert!(matches!(err, SecretError::CorruptKeyFile { .. }), "{err:?}");
    assert!(
        err.to_string().contains(secrets::SESSION_KEY_FILE_NAME),
        "{err}"
    );
}
