//! Authentication of every API: what a request may present and the
//! [`Authed`] extractor of the native API.
//!
//! A request is authenticated by [`crate::dialect::authenticate`], the
//! one function every dialect's extractor calls, from the first of:
//!
//! 1. the dialect's own header (native: `Authorization: Bearer X`, read by
//!    [`bearer`]), where X is an API token (`slw_…`) or a session JWT
//!    (three dot-separated parts);
//! 2. the [`SESSION_COOKIE`] (`authtoken`) holding a session JWT. For a
//!    method other than GET, HEAD and OPTIONS it is refused (403) when the
//!    request comes from another site ([`refuse_cross_site`]): a browser
//!    sends a cookie by itself, never an `Authorization` header, so only the
//!    cookie needs this;
//! 3. the [`IDENTITY_HEADER`] (`Identity: <e-mail>`), only when the peer
//!    is one of the configured [`TrustedProxies`] ([`identity`]); from any
//!    other address it is ignored as if absent. It is checked for other
//!    sites like the cookie (a proxy that signs browsers in adds it to
//!    whatever the browser sends).
//!
//! Missing, unknown, revoked, expired and forged credentials get 401 with
//! the credential named; a refused cross-site request gets 403. No token
//! or JWT is ever logged or repeated in an answer. The caller found is
//! also left in the request's extensions (by `dialect::authenticate`),
//! where the audit trail's middleware finds it once the request was
//! answered ([`crate::audit`]).

use crate::error::ApiError;
use crate::state::{Settings, State};
use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use slipway_domain::DomainError;
use std::net::IpAddr;
use std::time::Duration;

/// The cookie that carries a session JWT.
pub const SESSION_COOKIE: &str = "authtoken";

/// The header a trusted proxy names the user with, by e-mail.
pub const IDENTITY_HEADER: &str = "Identity";

/// The authenticated caller of a request, with the server's state the
/// handler works with.
#[derive(Debug, Clone)]
pub struct Authed {
    /// Who sent the request.
    pub caller: slipway_domain::Caller,
    /// The server's state.
    pub st: web::Data<State>,
}

impl Authed {
    /// The use cases, which are all a handler calls.
    pub fn app(&self) -> &slipway_domain::App {
        self.st.app()
    }
}

/// The credential of an `Authorization: Bearer` header (an API token or a
/// session JWT); `None` without the header, an `Unauthorized` naming it
/// when it is not `Bearer <credential>`.
pub fn bearer(req: &HttpRequest) -> Result<Option<String>, DomainError> {
    let unauthorized = |m: &str| DomainError::Unauthorized(m.to_owned());
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| unauthorized("the `Authorization` header is not readable text"))?;
    let (scheme, secret) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| unauthorized("the `Authorization` header must be `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || secret.trim().is_empty() {
        return Err(unauthorized(
            "the `Authorization` header must be `Bearer <token>`",
        ));
    }
    Ok(Some(secret.trim().to_owned()))
}

/// The value of cookie `name`, if the request has it (and it is not
/// empty).
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value that hands a session to a browser: `HttpOnly`
/// (no script reads it), `SameSite=Strict` (no other site's request
/// carries it), for the whole server, lasting `ttl`, and `Secure` when the
/// server is behind TLS.
pub fn session_cookie(jwt: &str, ttl: Duration, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={jwt}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        ttl.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// `Forbidden` when a request that changes something (not GET, HEAD or
/// OPTIONS) and is authorized only by `what` (a cookie or a proxy's
/// `Identity`) comes from another site: `Sec-Fetch-Site` is `cross-site`
/// or `same-site`, or `Origin` is present and not the server's own
/// (`http(s)://<Host>`, `https` when the server is told it is behind TLS).
/// Clients other than browsers send neither header and pass.
pub fn refuse_cross_site(
    req: &HttpRequest,
    settings: &Settings,
    what: &str,
) -> Result<(), DomainError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let text = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("(unreadable)").trim().to_owned())
    };
    let refuse = |why: String| {
        DomainError::Forbidden(format!(
            "{what} does not authorize a {} from another site ({why}); \
             a client of another site sends `Authorization: Bearer <token>`",
            req.method()
        ))
    };
    if let Some(site) = text("sec-fetch-site")
        && (site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site"))
    {
        return Err(refuse(format!("`Sec-Fetch-Site: {site}`")));
    }
    if let Some(origin) = text("origin") {
        let own = own_origin(req, settings.behind_tls);
        if !own
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case(&origin))
        {
            return Err(refuse(format!(
                "`Origin: {origin}` is not this server's {}",
                own.as_deref().unwrap_or("(no Host header)")
            )));
        }
    }
    Ok(())
}

/// The request's own origin: `http://` (`https://` behind TLS) and the
/// `Host` header (or the request line's authority).
fn own_origin(req: &HttpRequest, behind_tls: bool) -> Option<String> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))?;
    let scheme = if behind_tls { "https" } else { "http" };
    Some(format!("{scheme}://{}", host.trim()))
}

/// The e-mail of the `Identity` header when the request comes from a
/// trusted proxy; `None` when there is no such header, or when the peer
/// is not trusted (the header is then ignored, with a debug line without
/// its value).
pub fn identity(req: &HttpRequest, settings: &Settings) -> Result<Option<String>, DomainError> {
    let Some(value) = req.headers().get(IDENTITY_HEADER) else {
        return Ok(None);
    };
    let peer = req.peer_addr().map(|a| a.ip());
    if !peer.is_some_and(|ip| settings.trusted_proxies.contains(ip)) {
        tracing::debug!(
            peer = ?peer,
            "ignored an `Identity` header from an address that is not a trusted proxy"
        );
        return Ok(None);
    }
    let email = value.to_str().map(str::trim).unwrap_or_default().to_owned();
    if email.is_empty() {
        return Err(DomainError::Unauthorized(
            "the `Identity` header must be an e-mail address".into(),
        ));
    }
    Ok(Some(email))
}

/// The addresses whose `Identity` header is believed: IP addresses and
/// CIDR networks (`127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`). Empty by
/// default: no `Identity` header is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses every entry.
    ///
    /// # Errors
    /// The first entry that is not an IP address or a network, named in
    /// the message.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut nets = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.as_ref().trim();
            let bad = |why: &str| format!("trusted proxy `{entry}`: {why}");
            let (addr, prefix) = match entry.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (entry, None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| bad("not an IP address or a network such as 10.0.0.0/8"))?;
            let bits = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => bits,
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= bits)
                    .ok_or_else(|| bad(&format!("the prefix length must be 0 to {bits}")))?,
            };
            nets.push((ip.to_canonical(), prefix));
        }
        Ok(TrustedProxies { nets })
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` is one of them (an IPv4 address written as IPv6,
    /// `::ffff:a.b.c.d`, counts as the IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|(net, prefix)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(*n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(*n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }
}

impl FromRequest for Authed {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<State>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let st = state.ok_or_else(|| ApiError::internal("no state"))?;
            let caller = crate::dialect::authenticate(&crate::native::DIALECT, &st, &req)
                .await
                .map_err(ApiError::from)?;
            Ok(Authed { caller, st })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(list).expect("valid entries")
    }

    #[test]
    fn trusted_proxies_match_addresses_and_networks() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8", "fd00::/8", "::1"]);
        for yes in ["127.0.0.1", "10.1.2.3", "::ffff:10.9.9.9", "fd12::1", "::1"] {
            assert!(p.contains(yes.parse().unwrap()), "{yes}");
        }
        for no in ["127.0.0.2", "11.0.0.1", "fe80::1", "::2"] {
            assert!(!p.contains(no.parse().unwrap()), "{no}");
        }
        assert!(proxies(&["0.0.0.0/0"]).contains("8.8.8.8".parse().unwrap()));
        assert!(!proxies(&[]).contains("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn a_bad_trusted_proxy_entry_is_named() {
        for bad in ["localhost", "10.0.0.0/33", "::1/129", "10.0.0.0/x", ""] {
            let err = TrustedProxies::parse(&["127.0.0.1", bad]).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn cookies_are_read_from_every_cookie_header() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "a=1; authtoken=x.y.z; b=2"))
            .to_http_request();
        assert_eq!(cookie(&req, "authtoken").as_deref(), Some("x.y.z"));
        assert_eq!(cookie(&req, "c"), None);
        let empty = TestRequest::default()
            .insert_header((header::COOKIE, "authtoken="))
            .to_http_request();
        assert_eq!(cookie(&empty, "authtoken"), None);
    }

    #[test]
    fn the_session_cookie_is_strict_http_only_and_secure_behind_tls() {
        let plain = session_cookie("a.b.c", Duration::from_secs(60), false);
        assert_eq!(
            plain,
            "authtoken=a.b.c; HttpOnly; SameSite=Strict; Path=/; Max-Age=60"
        );
        assert!(session_cookie("a.b.c", Duration::from_secs(60), true).ends_with("; Secure"));
        assert!(clear_session_cookie(false).contains("Max-Age=0"));
    }

    #[test]
    fn only_changes_from_other_sites_are_refused() {
        let settings = Settings::default();
        let check = |method: Method, headers: &[(&str, &str)]| {
            let mut req = TestRequest::default()
                .method(method)
                .insert_header((header::HOST, "ci.example:8080"));
            for (k, v) in headers {
                req = req.insert_header((*k, *v));
            }
            refuse_cross_site(&req.to_http_request(), &settings, "the `authtoken` cookie")
        };
        assert!(check(Method::POST, &[]).is_ok());
        assert!(check(Method::POST, &[("sec-fetch-site", "same-origin")]).is_ok());
        assert!(check(Method::POST, &[("origin", "http://ci.example:8080")]).is_ok());
        assert!(check(Method::GET, &[("sec-fetch-site", "cross-site")]).is_ok());
        for refused in [
            vec![("sec-fetch-site", "cross-site")],
            vec![("sec-fetch-site", "same-site")],
            vec![("origin", "https://evil.example")],
            vec![("origin", "https://ci.example:8080")],
            vec![("origin", "null")],
        ] {
            let err = check(Method::POST, &refused).unwrap_err();
            assert!(
                matches!(&err, DomainError::Forbidden(m) if m.contains("`authtoken` cookie")),
                "{refused:?}: {err:?}"
            );
        }
        let tls = Settings {
            behind_tls: true,
            ..Settings::default()
        };
        let req = TestRequest::default()
            .method(Method::DELETE)
            .insert_header((header::HOST, "ci.example"))
            .insert_header(("origin", "https://ci.example"))
            .to_http_request();
        assert!(refuse_cross_site(&req, &tls, "the cookie").is_ok());
    }
}
