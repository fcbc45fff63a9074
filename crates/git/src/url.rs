//! Which repository URLs are accepted, and the safe forms of a URL: the
//! one shown in messages (never with credentials) and the one a mirror's
//! directory name is derived from.

use sha2::{Digest, Sha256};
use slipway_core::source::{Credentials, SourceError};

/// The transports Slipway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Smart HTTP over TLS.
    Https,
    /// Smart HTTP in clear.
    Http,
    /// The git daemon protocol.
    Git,
    /// A repository on this machine (`git upload-pack` runs locally).
    File,
}

/// A repository URL that passed the policy checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoUrl {
    /// What gix connects to; never contains user information.
    pub url: String,
    /// The transport.
    pub transport: Transport,
    /// Credentials that were written into the URL, moved out of it.
    pub embedded: Option<Credentials>,
    /// The normalised form mirrors are keyed by.
    pub key: String,
}

fn refused(url: &str, reason: impl Into<String>) -> SourceError {
    SourceError::UrlRefused {
        url: redact(url),
        reason: reason.into(),
    }
}

/// `url` with any `user:password@` removed, for messages.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            match authority.rfind('@') {
                Some(at) => format!("{scheme}://{}{path}", &authority[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => match url.find('@') {
            Some(at) if !url[..at].contains('/') => url[at + 1..].to_owned(),
            _ => url.to_owned(),
        },
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks `raw` against the policy: `https`, `http` and `git` always,
/// `file` (and absolute paths) only when `allow_local`; everything else
/// (ssh, scp-like `host:path`, `ext::`, `fd::` and other transport helpers,
/// relative paths) is refused.
pub fn parse(raw: &str, allow_local: bool) -> Result<RepoUrl, SourceError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(refused(raw, "the URL is empty"));
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refused(
            raw,
            "the URL contains spaces or control characters",
        ));
    }
    if raw.starts_with('-') {
        return Err(refused(raw, "the URL must not start with `-`"));
    }
    let (scheme, rest) = match raw.split_once("://") {
        Some((scheme, rest)) if !scheme.contains(['/', ':', '@']) => {
            (scheme.to_ascii_lowercase(), rest)
        }
        _ => {
            if let Some((helper, _)) = raw.split_once("::")
                && !helper.contains('/')
            {
                return Err(refused(
                    raw,
                    format!("the `{helper}::` transport helper is not allowed"),
                ));
            }
            if raw.starts_with('/') {
                if !allow_local {
                    return Err(refused(
                        raw,
                        "local repositories are disabled (the operator enables them with `allow_local`)",
                    ));
                }
                return local(raw, raw);
            }
            if raw.contains(':') {
                return Err(refused(
                    raw,
                    "scp-like `host:path` addresses are ssh, which is not supported; use https://",
                ));
            }
            return Err(refused(
                raw,
                "relative paths are not repository URLs; use https://, http:// or git://",
            ));
        }
    };
    match scheme.as_str() {
        "https" | "http" | "git" => {}
        "file" => {
            if !allow_local {
                return Err(refused(
                    raw,
                    "local repositories are disabled (the operator enables them with `allow_local`)",
                ));
            }
            let path = match rest.strip_prefix("localhost") {
                Some(p) => p,
                None => rest,
            };
            if !path.starts_with('/') {
                return Err(refused(raw, "a file:// URL needs an absolute path"));
            }
            return local(raw, path);
        }
        "ssh" | "git+ssh" | "ssh+git" => {
            return Err(refused(raw, "ssh is not supported; use https://"));
        }
        other => {
            return Err(refused(
                raw,
                format!("the `{other}` scheme is not supported; use https://, http:// or git://"),
            ));
        }
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if path.contains(['?', '#']) {
        return Err(refused(raw, "query strings and fragments are not allowed"));
    }
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    if hostport.is_empty() || hostport.starts_with(':') {
        return Err(refused(raw, "the URL has no host"));
    }
    if !hostport
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
    {
        return Err(refused(
            raw,
            "the host contains characters a host name cannot",
        ));
    }
    if path.split('/').any(|c| c == "..") {
        return Err(refused(raw, "the path must not contain `..`"));
    }
    let embedded = match userinfo {
        Some(_) if scheme == "git" => {
            return Err(refused(raw, "git:// does not carry credentials"));
        }
        Some(info) => {
            let (user, pass) = info.split_once(':').unwrap_or((info, ""));
            Some(Credentials::new(percent_decode(user), percent_decode(pass)))
        }
        None => None,
    };
    let transport = match scheme.as_str() {
        "https" => Transport::Https,
        "http" => Transport::Http,
        _ => Transport::Git,
    };
    let host = hostport.to_ascii_lowercase();
    let url = format!("{scheme}://{host}{path}");
    let trimmed = path.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
    let key = format!("{scheme}://{host}{trimmed}");
    gix::url::parse(gix::bstr::BStr::new(url.as_bytes()))
        .map_err(|e| refused(raw, format!("not a valid URL: {e}")))?;
    Ok(RepoUrl {
        url,
        transport,
        embedded,
        key,
    })
}

fn local(raw: &str, path: &str) -> Result<RepoUrl, SourceError> {
    if path.split('/').any(|c| c == "..") {
        return Err(refused(raw, "the path must not contain `..`"));
    }
    let trimmed = path.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let url = format!("file://{trimmed}");
    Ok(RepoUrl {
        key: url.clone(),
        url,
        transport: Transport::File,
        embedded: None,
    })
}

/// The directory name of a mirror: 16 hex digits of the SHA-256 of the
/// normalised URL, then a readable suffix made only of `[A-Za-z0-9._-]`.
pub fn dir_name(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let last = key
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let suffix: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if suffix.is_empty() {
        hex
    } else {
        format!("{hex}-{suffix}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn accepted_schemes_and_normalised_keys() {
        let u = parse("https://GitHub.com/acme/app.git/", false).unwrap();
        assert_eq!(u.transport, Transport::Https);
        assert_eq!(u.key, "https://github.com/acme/app");
        let v = parse("https://github.com/acme/app", false).unwrap();
        assert_eq!(u.key, v.key, "`.git` and a trailing slash share a mirror");
        assert_eq!(
            parse("git://127.0.0.1:9418/r", false).unwrap().transport,
            Transport::Git
        );
        assert_eq!(
            parse("file:///srv/repo", true).unwrap().transport,
            Transport::File
        );
        assert_eq!(parse("/srv/repo", true).unwrap().url, "file:///srv/repo");
    }

    #[test]
    fn credentials_move_out_of_the_url() {
        let u = parse("https://bot:s3cr%40t@example.com/r.git", false).unwrap();
        assert_eq!(u.url, "https://example.com/r.git");
        let c = u.embedded.unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("bot", "s3cr@t")
        );
        assert_eq!(
            redact("https://bot:pw@example.com/r"),
            "https://example.com/r"
        );
    }

    #[test]
    fn refused_forms_say_why_and_hide_secrets() {
        for (raw, word) in [
            ("ssh://git@example.com/r", "ssh"),
            ("git@example.com:acme/r.git", "ssh"),
            ("ext::sh -c touch% /tmp/x", "spaces"),
            ("ext::sh", "transport helper"),
            ("fd::17", "transport helper"),
            ("ftp://example.com/r", "ftp"),
            ("file:///srv/repo", "disabled"),
            ("/srv/repo", "disabled"),
            ("repo", "relative"),
            ("https://example.com/../etc", ".."),
            ("-uhttps://x", "`-`"),
            ("", "empty"),
        ] {
            let err = parse(raw, false).unwrap_err().to_string();
            assert!(err.contains(word), "{raw}: {err}");
        }
        let err = parse("ftp://u:hunter2@example.com/r", false)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn dir_names_are_safe() {
        let n = dir_name("https://example.com/../../etc/pass wd;rm");
        assert!(
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(dir_name("https://a/x"), dir_name("https://b/x"));
    }
}
