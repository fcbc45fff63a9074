//! Secret values at rest: the server's key, sealing and opening values, and
//! the rules for secret names.
//!
//! Every stored secret value is encrypted with XChaCha20-Poly1305 (the
//! RustCrypto `chacha20poly1305` crate) under one server-wide [`SecretKey`],
//! with a fresh random 24-byte nonce per value. [`seal`] turns a plaintext
//! into a versioned text form, `v1:<base64(nonce || ciphertext || tag)>`, and
//! [`open`] turns it back. Both take an *owner* string (see [`SecretOwner`])
//! that is authenticated with the value but not stored in it: a sealed value
//! copied onto another project's, application's or name's row fails to open.
//!
//! The key comes from configuration (or `SLIPWAY_SECRET_KEY`), else from a
//! key file in the data directory, else it is generated there on first
//! start (mode 0600); see [`SecretKey::load_or_create`] and
//! `docs/secrets.md`.
//!
//! The server's other key, [`SessionKey`] (what session JWTs are signed
//! with, see [`crate::app::sessions`]), is kept the same way with the same
//! code: configured (`session_key`), else the file `session.key` in the data
//! directory, else generated there with mode 0600.
//!
//! Nothing in this module ever formats a key or a plaintext: the keys'
//! `Debug` is redacted and no [`SecretError`] carries either.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead as _, Payload};
use chacha20poly1305::{KeyInit as _, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Length of a [`SecretKey`] in bytes.
pub const KEY_LEN: usize = 32;
/// Length of the random nonce stored in front of each sealed value.
pub const NONCE_LEN: usize = 24;
/// Length of the Poly1305 authentication tag at the end of each value.
pub const TAG_LEN: usize = 16;
/// The prefix of the current sealed format.
pub const SEALED_PREFIX_V1: &str = "v1:";
/// File name of the generated key inside the data directory.
pub const KEY_FILE_NAME: &str = "secret.key";
/// File name of the generated session key inside the data directory.
pub const SESSION_KEY_FILE_NAME: &str = "session.key";
/// Longest accepted secret name ([`crate::limits::MAX_SECRET_NAME_LEN`]).
pub const MAX_NAME_LEN: usize = crate::limits::MAX_SECRET_NAME_LEN;
/// Name prefixes reserved for the facts Slipway gives every job.
pub const RESERVED_PREFIXES: &[&str] = &["SLIPWAY_", "CI_"];
/// Names reserved outright (`CI=true` is set for every job).
pub const RESERVED_NAMES: &[&str] = &["CI"];

/// Domain separation put in front of every caller-given owner string, so a
/// value sealed here can never be confused with any other use of the key.
const AAD_CONTEXT_V1: &str = "slipway/secret/v1\n";

/// Why a key, a sealed value or a name was refused.
///
/// No variant carries a key, a plaintext, or the text a key was parsed
/// from; messages say what is wrong with them instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The key text was empty (or only whitespace).
    #[error("secret key is empty")]
    KeyEmpty,
    /// The key text is not standard base64.
    #[error("secret key is not valid standard base64 (A-Z a-z 0-9 + / with = padding)")]
    KeyNotBase64,
    /// The key text decoded to the wrong number of bytes.
    #[error("secret key must decode to {KEY_LEN} bytes, it decodes to {found}")]
    KeyLength {
        /// How many bytes it decoded to.
        found: usize,
    },
    /// The key given by configuration or `SLIPWAY_SECRET_KEY` is invalid.
    #[error("configured secret key (configuration or SLIPWAY_SECRET_KEY) is invalid: {0}")]
    ConfiguredKey(#[source] Box<SecretError>),
    /// The session key given by configuration or `SLIPWAY_SESSION_KEY` is
    /// invalid.
    #[error("configured session key (session_key or SLIPWAY_SESSION_KEY) is invalid: {0}")]
    ConfiguredSessionKey(#[source] Box<SecretError>),
    /// The key file exists but does not hold a key. It is left in place:
    /// replacing it would make every stored secret unreadable (or, for the
    /// session key, end every session).
    #[error(
        "key file {} is corrupt: {source}; it was left untouched \
         (restore it from a backup, or see docs/secrets.md)",
        path.display()
    )]
    CorruptKeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with its content.
        #[source]
        source: Box<SecretError>,
    },
    /// The key file is readable or writable by group or others.
    #[error(
        "key file {} has mode {mode:04o}, group or others may access it; \
         refusing to use it (run chmod 600 on it)",
        path.display()
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key path exists but is not a regular file.
    #[error("key path {} is not a regular file", path.display())]
    KeyFileNotRegular {
        /// The key path.
        path: PathBuf,
    },
    /// Reading or writing the key file failed.
    #[error("key file {}: could not {action}: {source}", path.display())]
    KeyFileIo {
        /// The file (or directory) concerned.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The operating system's random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    /// Encryption failed (only for values far beyond any sane size).
    #[error("secret value could not be encrypted")]
    Seal,
    /// The sealed text does not start with a known format version.
    #[error("sealed secret has an unknown format version (this server reads `v1:`)")]
    UnknownVersion,
    /// The sealed text is not well formed (bad base64, too short).
    #[error("sealed secret is malformed")]
    Malformed,
    /// Authentication failed: the key is not the one it was sealed with, it
    /// was sealed for another owner or name, or it was altered.
    #[error(
        "sealed secret could not be opened: wrong key, sealed for another owner \
         or name, or altered"
    )]
    Open,
    /// The opened value is not UTF-8 (it was not sealed by [`seal`]).
    #[error("opened secret value is not UTF-8")]
    NotUtf8,
    /// A secret name is empty.
    #[error("secret name is empty")]
    NameEmpty,
    /// A secret name is longer than [`MAX_NAME_LEN`].
    #[error("secret name is {len} characters long, at most {MAX_NAME_LEN} are allowed")]
    NameTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A secret name is not an environment variable name.
    #[error(
        "secret name `{name}` is not valid: use upper-case letters, digits and `_`, \
         not starting with a digit"
    )]
    NameInvalid {
        /// The refused name.
        name: String,
    },
    /// A secret name clashes with the facts Slipway gives every job.
    #[error("secret name `{name}` is reserved: `{reserved}` names are set by Slipway for jobs")]
    NameReserved {
        /// The refused name.
        name: String,
        /// The reserved name or prefix it matches.
        reserved: &'static str,
    },
}

/// 32 key bytes, zeroed in memory on drop, compared in constant time: what
/// [`SecretKey`] and [`SessionKey`] hold.
#[derive(Clone)]
struct KeyBytes([u8; KEY_LEN]);

impl Drop for KeyBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl PartialEq for KeyBytes {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for KeyBytes {}

impl KeyBytes {
    fn generate() -> Result<KeyBytes, SecretError> {
        let mut key = KeyBytes([0; KEY_LEN]);
        fill_random(&mut key.0)?;
        Ok(key)
    }

    fn from_text(text: &str) -> Result<KeyBytes, SecretError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SecretError::KeyEmpty);
        }
        let decoded = Zeroizing::new(
            STANDARD
                .decode(text)
                .map_err(|_| SecretError::KeyNotBase64)?,
        );
        let bytes: [u8; KEY_LEN] =
            decoded
                .as_slice()
                .try_into()
                .map_err(|_| SecretError::KeyLength {
                    found: decoded.len(),
                })?;
        Ok(KeyBytes(bytes))
    }

    fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0))
    }

    /// The configured key (`configured` wraps its error), else the key
    /// file at `path`, else a new key written there: see
    /// [`SecretKey::load_or_create`].
    fn load_or_create(
        path: &Path,
        from_config: Option<&str>,
        configured: fn(Box<SecretError>) -> SecretError,
    ) -> Result<KeyBytes, SecretError> {
        if let Some(text) = from_config {
            return KeyBytes::from_text(text).map_err(|e| configured(Box::new(e)));
        }
        match read_key_file(path)? {
            Some(key) => Ok(key),
            None => create_key_file(path),
        }
    }
}

/// The server's 32-byte secret-encryption key.
///
/// Its `Debug` never shows the bytes, it is zeroed in memory on drop, and
/// equality is constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey {
    bytes: KeyBytes,
}

impl ZeroizeOnDrop for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// A new key from the operating system's random source.
    ///
    /// # Errors
    /// [`SecretError::Random`] when the random source fails.
    pub fn generate() -> Result<SecretKey, SecretError> {
        KeyBytes::generate().map(|bytes| SecretKey { bytes })
    }

    /// Parses the text form: standard base64 (with padding) of 32 bytes.
    /// Surrounding whitespace (a key file's trailing newline) is ignored.
    ///
    /// # Errors
    /// [`SecretError::KeyEmpty`], [`SecretError::KeyNotBase64`] or
    /// [`SecretError::KeyLength`]; none of them repeats the text.
    pub fn from_text(text: &str) -> Result<SecretKey, SecretError> {
        KeyBytes::from_text(text).map(|bytes| SecretKey { bytes })
    }

    /// The text form read by [`SecretKey::from_text`]: standard base64.
    ///
    /// The result is the key itself: write it only where the key belongs.
    pub fn to_text(&self) -> Zeroizing<String> {
        self.bytes.to_text()
    }

    /// The key to use, from (in this order):
    ///
    /// 1. `from_config`, the key given by configuration or
    ///    `SLIPWAY_SECRET_KEY` (the caller reads those); the file is then not
    ///    looked at;
    /// 2. the key file at `path`, which must be a regular file that neither
    ///    group nor others may access;
    /// 3. a new key, written to `path` with mode 0600 (created with that
    ///    mode under a temporary name in the same directory, then moved into
    ///    place without replacing any file that appeared meanwhile).
    ///
    /// A key file that is present but corrupt is an error and left in place:
    /// replacing it would make every stored secret unreadable.
    ///
    /// # Errors
    /// [`SecretError::ConfiguredKey`], [`SecretError::CorruptKeyFile`],
    /// [`SecretError::KeyFilePermissions`],
    /// [`SecretError::KeyFileNotRegular`], [`SecretError::KeyFileIo`] or
    /// [`SecretError::Random`].
    pub fn load_or_create(
        path: &Path,
        from_config: Option<&str>,
    ) -> Result<SecretKey, SecretError> {
        KeyBytes::load_or_create(path, from_config, SecretError::ConfiguredKey)
            .map(|bytes| SecretKey { bytes })
    }
}

/// The server's 32-byte key for signing session JWTs (HMAC-SHA-256), kept
/// like the [`SecretKey`] but separate from it: replacing it ends every
/// session and touches no stored secret.
///
/// Its `Debug` never shows the bytes, it is zeroed in memory on drop, and
/// equality is constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey {
    bytes: KeyBytes,
}

impl ZeroizeOnDrop for SessionKey {}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

impl SessionKey {
    /// A new key from the operating system's random source.
    ///
    /// # Errors
    /// [`SecretError::Random`] when the random source fails.
    pub fn generate() -> Result<SessionKey, SecretError> {
        KeyBytes::generate().map(|bytes| SessionKey { bytes })
    }

    /// Parses the text form: standard base64 (with padding) of 32 bytes,
    /// as for [`SecretKey::from_text`].
    ///
    /// # Errors
    /// As [`SecretKey::from_text`].
    pub fn from_text(text: &str) -> Result<SessionKey, SecretError> {
        KeyBytes::from_text(text).map(|bytes| SessionKey { bytes })
    }

    /// The text form read by [`SessionKey::from_text`]: standard base64.
    pub fn to_text(&self) -> Zeroizing<String> {
        self.bytes.to_text()
    }

    /// The key to use: `from_config` (`session_key` or
    /// `SLIPWAY_SESSION_KEY`), else the key file at `path`
    /// (`<data_dir>/session.key`), else a new key written there with mode
    /// 0600; the rules are [`SecretKey::load_or_create`]'s.
    ///
    /// # Errors
    /// [`SecretError::ConfiguredSessionKey`] and the file errors of
    /// [`SecretKey::load_or_create`].
    pub fn load_or_create(
        path: &Path,
        from_config: Option<&str>,
    ) -> Result<SessionKey, SecretError> {
        KeyBytes::load_or_create(path, from_config, SecretError::ConfiguredSessionKey)
            .map(|bytes| SessionKey { bytes })
    }

    /// The key's bytes, for signing and verifying (crate only).
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes.0
    }
}

/// Reads the key file, or `None` when there is none.
fn read_key_file(path: &Path) -> Result<Option<KeyBytes>, SecretError> {
    let io_err = |action: &'static str| {
        move |source: io::Error| SecretError::KeyFileIo {
            path: path.to_owned(),
            action,
            source,
        }
    };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open it")(e)),
    };
    // Checked on the opened file, so what is checked is what is read.
    let meta = file.metadata().map_err(io_err("read its metadata"))?;
    if !meta.is_file() {
        return Err(SecretError::KeyFileNotRegular {
            path: path.to_owned(),
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretError::KeyFilePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    let mut raw = Zeroizing::new(Vec::new());
    file.read_to_end(&mut raw).map_err(io_err("read it"))?;
    let corrupt = |source: SecretError| SecretError::CorruptKeyFile {
        path: path.to_owned(),
        source: Box::new(source),
    };
    let text = std::str::from_utf8(&raw).map_err(|_| corrupt(SecretError::KeyNotBase64))?;
    KeyBytes::from_text(text).map(Some).map_err(corrupt)
}

/// Generates a key and writes it to `path` with mode 0600, never replacing
/// a file that is already there (another process's key wins and is read).
fn create_key_file(path: &Path) -> Result<KeyBytes, SecretError> {
    let io_err = |at: &Path, action: &'static str| {
        let at = at.to_owned();
        move |source: io::Error| SecretError::KeyFileIo {
            path: at,
            action,
            source,
        }
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(io_err(&dir, "create its directory"))?;

    let key = KeyBytes::generate()?;
    let mut suffix = [0u8; 8];
    fill_random(&mut suffix)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| KEY_FILE_NAME.to_owned());
    let tmp = dir.join(format!(
        ".{file_name}.tmp-{}",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));

    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp, "create a temporary file"))?;
        let mut text = key.to_text();
        text.push('\n');
        file.write_all(text.as_bytes())
            .map_err(io_err(&tmp, "write a temporary file"))?;
        file.sync_all()
            .map_err(io_err(&tmp, "sync a temporary file"))?;
        Ok::<(), SecretError>(())
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }

    // A hard link puts the complete file in place atomically and fails
    // when the name is taken, unlike rename, which would replace it.
    let placed = match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        // A file system without hard links: fall back to rename.
        Err(_) => match fs::symlink_metadata(path) {
            Ok(_) => Ok(false),
            Err(_) => fs::rename(&tmp, path)
                .map(|()| true)
                .map_err(io_err(path, "move the new key file into place")),
        },
    };
    let _ = fs::remove_file(&tmp);
    if !placed? {
        return read_key_file(path)?.ok_or_else(|| SecretError::KeyFileIo {
            path: path.to_owned(),
            action: "read it",
            source: io::Error::from(io::ErrorKind::NotFound),
        });
    }
    // Make the new name durable; best effort, the file itself is synced.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(key)
}

fn fill_random(buf: &mut [u8]) -> Result<(), SecretError> {
    getrandom::fill(buf).map_err(|e| SecretError::Random(e.to_string()))
}

fn aad_v1(owner: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_CONTEXT_V1.len() + owner.len());
    aad.extend_from_slice(AAD_CONTEXT_V1.as_bytes());
    aad.extend_from_slice(owner.as_bytes());
    aad
}

/// Encrypts `plaintext` for `aad`, the owner-and-name string it belongs to
/// (build it with [`SecretOwner::aad`]), with a fresh random nonce.
///
/// The result is `v1:` followed by standard base64 of
/// `nonce (24 bytes) || ciphertext || tag (16 bytes)`; sealing the same value
/// twice gives different texts.
///
/// # Errors
/// [`SecretError::Random`] when the random source fails;
/// [`SecretError::Seal`] for values beyond the cipher's limit (~256 GiB).
pub fn seal(key: &SecretKey, plaintext: &str, aad: &str) -> Result<String, SecretError> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let nonce = XNonce::from(nonce);
    let cipher = XChaCha20Poly1305::new(&key.bytes.0.into());
    let aad = aad_v1(aad);
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext.as_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| SecretError::Seal)?;
    let mut raw = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&ciphertext);
    Ok(format!("{SEALED_PREFIX_V1}{}", STANDARD.encode(raw)))
}

/// Decrypts a value made by [`seal`], checking it was sealed under `key` for
/// the same `aad`.
///
/// # Errors
/// [`SecretError::UnknownVersion`], [`SecretError::Malformed`],
/// [`SecretError::Open`] (wrong key, wrong owner or name, altered) or
/// [`SecretError::NotUtf8`]. It never panics on any input.
pub fn open(key: &SecretKey, sealed: &str, aad: &str) -> Result<String, SecretError> {
    let body = match sealed.split_once(':') {
        Some(("v1", body)) => body,
        Some(_) => return Err(SecretError::UnknownVersion),
        None => return Err(SecretError::Malformed),
    };
    let raw = STANDARD.decode(body).map_err(|_| SecretError::Malformed)?;
    if raw.len() < NONCE_LEN + TAG_LEN {
        return Err(SecretError::Malformed);
    }
    let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
    let nonce = XNonce::try_from(nonce).map_err(|_| SecretError::Malformed)?;
    let cipher = XChaCha20Poly1305::new(&key.bytes.0.into());
    let aad = aad_v1(aad);
    let plain = cipher
        .decrypt(
            &nonce,
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| SecretError::Open)?;
    String::from_utf8(plain).map_err(|e| {
        e.into_bytes().zeroize();
        SecretError::NotUtf8
    })
}

/// Who a secret belongs to; with its name it makes the AAD that binds a
/// sealed value to its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOwner<'a> {
    /// A project's secret, by project id.
    Project(&'a str),
    /// An application's secret, by application id.
    Application(&'a str),
}

impl SecretOwner<'_> {
    /// How the store keys this owner's secrets: `project/<id>` or
    /// `application/<id>`.
    pub fn key(&self) -> String {
        match self {
            SecretOwner::Project(id) => format!("project/{id}"),
            SecretOwner::Application(id) => format!("application/{id}"),
        }
    }

    /// The AAD for `name` under this owner: `project/<id>/<NAME>` or
    /// `application/<id>/<NAME>`.
    pub fn aad(&self, name: &SecretName) -> String {
        format!("{}/{name}", self.key())
    }
}

/// A checked secret name: an environment variable name
/// (`[A-Z_][A-Z0-9_]*`, at most [`MAX_NAME_LEN`] characters) that is not
/// `CI` and does not start with `SLIPWAY_` or `CI_`, which Slipway sets
/// for every job.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretName(String);

impl SecretName {
    /// Checks `name`.
    ///
    /// # Errors
    /// [`SecretError::NameEmpty`], [`SecretError::NameTooLong`],
    /// [`SecretError::NameInvalid`] or [`SecretError::NameReserved`].
    pub fn new(name: impl Into<String>) -> Result<SecretName, SecretError> {
        let name = name.into();
        if name.is_empty() {
            return Err(SecretError::NameEmpty);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(SecretError::NameTooLong { len: name.len() });
        }
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
            return Err(SecretError::NameInvalid { name });
        }
        if let Some(reserved) = RESERVED_NAMES.iter().find(|r| **r == name) {
            return Err(SecretError::NameReserved { name, reserved });
        }
        if let Some(reserved) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(**p)) {
            return Err(SecretError::NameReserved { name, reserved });
        }
        Ok(SecretName(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SecretName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretName {
    type Err = SecretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SecretName::new(s)
    }
}

impl TryFrom<String> for SecretName {
    type Error = SecretError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        SecretName::new(s)
    }
}

impl From<SecretName> for String {
    fn from(name: SecretName) -> String {
        name.0
    }
}
