//! The seam every API of the server plugs into: the native API and the
//! five dialects to come (`serverless_devs`, `daocloud`, `codearts`,
//! `zadig`, `deploy_api`), each a sibling module of [`crate::native`].
//!
//! A [`Dialect`] says, as plain functions:
//!
//! - (a) its routes, registered one by one **at the server root**. Not an
//!   actix scope: dialects share the prefixes `/v1/` and `/api/` with each
//!   other and with the native API, and a scope would swallow the others'
//!   paths;
//! - (b) how it reads its own auth header (if it has one) into a
//!   credential, a token or a session JWT, which [`authenticate`] turns
//!   into the same [`slipway_domain::Caller`] every API gets; without it,
//!   [`authenticate`] reads the `authtoken` session cookie and a trusted
//!   proxy's `Identity` header, the same for every API (see
//!   [`crate::auth`]);
//! - (c) how a [`DomainError`] looks in its own error body;
//! - (d) what it answers for an unknown path under its own prefixes;
//! - (e) its own OpenAPI document and the path it is served at (built once
//!   per process, never per worker);
//! - (f) its name, the key of its switch `dialects.<name>.enabled` in the
//!   server's configuration (all on by default; [`Switches`]), and the
//!   options it reads from the same table (`dialects.<name>.<option>`,
//!   each with its default; [`DialectOption`]).
//!
//! A dialect's handlers take [`Speaker<D>`] (the caller, authenticated
//! with `D`'s header) and answer `Result<_, Refusal<D>>`: every error,
//! from a bad body to a domain refusal, becomes `D`'s own error body.
//! The status of an error is decided once, where a [`DomainError`]
//! becomes an [`ApiError`] (`crate::error`); a dialect only shapes the
//! body.
//!
//! A dialect is written against [`slipway_domain::App`] and the domain's
//! view types alone: no handler calls the engine or a store, or decides a
//! permission (docs/architecture.md).

use crate::auth;
use crate::error::ApiError;
use crate::state::State;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};
use futures::future::LocalBoxFuture;
use slipway_domain::sessions::looks_like_jwt;
use slipway_domain::{App, Caller, DomainError};
use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;

/// The names of every API, the native one first: the keys of
/// `dialects.<name>.enabled`. Names of dialects not built yet are
/// accepted (turning one off changes nothing until it exists).
pub const NAMES: [&str; 6] = [
    "native",
    "serverless_devs",
    "daocloud",
    "codearts",
    "zadig",
    "deploy_api",
];

/// An API's OpenAPI document.
#[derive(Debug, Clone, Copy)]
pub struct OpenApiDoc {
    /// Where it is served (`GET`).
    pub path: &'static str,
    /// The document as JSON; made once per process by the dialect (a
    /// `OnceLock`), so that it costs nothing per worker or request.
    pub json: fn() -> Result<Bytes, String>,
}

/// One API of the server: how it plugs in. See the module docs for (a)
/// to (f).
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// (f) Its name, one of [`NAMES`].
    pub name: &'static str,
    /// (d) The path prefixes it owns for its fallback (`/api/v1/`); a
    /// request for an unknown path goes to the dialect with the longest
    /// matching prefix.
    pub prefixes: &'static [&'static str],
    /// (a) Registers its routes, one by one, at the server root.
    pub routes: fn(&mut web::ServiceConfig),
    /// (b) The credential its own auth header carries (an API token or a
    /// session JWT); `Ok(None)` without the header (the cookie and the
    /// `Identity` header are tried next), `Err` (an `Unauthorized` in its
    /// words) when it is malformed.
    pub credential: fn(&HttpRequest) -> Result<Option<String>, DomainError>,
    /// (b) Its own auth header, as messages name it
    /// (`` the `Authorization` header ``), and how it is written, for the
    /// 401 that lists what is accepted (`` `Authorization: Bearer <token>` ``);
    /// `None` when it has no header of its own.
    pub header: Option<(&'static str, &'static str)>,
    /// (c) An error as its answer: the status is the error's (the one
    /// mapping of domain errors to statuses), the body the dialect's.
    pub error: fn(ApiError) -> HttpResponse,
    /// (d) Its answer for an unknown path under its prefixes.
    pub fallback: fn(&HttpRequest) -> HttpResponse,
    /// (e) Its OpenAPI document, if it has one.
    pub openapi: Option<OpenApiDoc>,
    /// (f) The options it reads from `[dialects.<name>]`, beside
    /// `enabled`.
    pub options: &'static [DialectOption],
}

/// An option of a dialect, set as `dialects.<name>.<option> = "value"`.
#[derive(Debug, Clone, Copy)]
pub struct DialectOption {
    /// Its key.
    pub name: &'static str,
    /// Its value when the configuration does not set it.
    pub default: &'static str,
}

/// A dialect's marker type, naming the [`Dialect`] its handlers speak.
pub trait Speaks: 'static {
    /// The dialect.
    const DIALECT: &'static Dialect;
}

/// An error answered in dialect `D`'s shape: its status is the error's,
/// its body `D`'s ([`Dialect::error`]).
pub struct Refusal<D> {
    error: ApiError,
    speaks: PhantomData<D>,
}

impl<D> std::fmt::Debug for Refusal<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.error, f)
    }
}

impl<D> std::fmt::Display for Refusal<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.error, f)
    }
}

impl<D> From<ApiError> for Refusal<D> {
    fn from(error: ApiError) -> Self {
        Refusal {
            error,
            speaks: PhantomData,
        }
    }
}

impl<D> From<DomainError> for Refusal<D> {
    fn from(e: DomainError) -> Self {
        Refusal::from(ApiError::from(e))
    }
}

impl<D: Speaks> ResponseError for Refusal<D> {
    fn status_code(&self) -> StatusCode {
        self.error.status()
    }

    fn error_response(&self) -> HttpResponse {
        (D::DIALECT.error)(self.error.clone())
    }
}

/// The authenticated caller of a request to dialect `D` (from `D`'s own
/// header, the session cookie or a trusted proxy's `Identity`; see
/// [`authenticate`]), with the server's state. Refused in `D`'s shape.
pub struct Speaker<D> {
    /// Who sent the request.
    pub caller: Caller,
    /// The server's state.
    pub st: web::Data<State>,
    speaks: PhantomData<D>,
}

impl<D> std::fmt::Debug for Speaker<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("caller", &self.caller.name)
            .finish_non_exhaustive()
    }
}

impl<D> Speaker<D> {
    /// The use cases, which are all a handler calls.
    pub fn app(&self) -> &App {
        self.st.app()
    }
}

impl<D: Speaks> FromRequest for Speaker<D> {
    type Error = Refusal<D>;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<State>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let st = state.ok_or_else(|| ApiError::internal("no state"))?;
            let caller = authenticate(D::DIALECT, &st, &req).await?;
            Ok(Speaker {
                caller,
                st,
                speaks: PhantomData,
            })
        })
    }
}

impl Dialect {
    /// Whether `path` is under one of its prefixes; the length of the
    /// longest that matches.
    fn owns(&self, path: &str) -> Option<usize> {
        self.prefixes
            .iter()
            .filter(|p| path.starts_with(**p))
            .map(|p| p.len())
            .max()
    }
}

/// The caller a request stands for: the same [`Caller`] for the same
/// token, session or proxy identity whichever API it came through. Reads,
/// first found first: `dialect`'s own header (a token, or a session JWT
/// when it has three dot-separated parts), the `authtoken` cookie (a
/// session JWT; refused for a change from another site), the `Identity`
/// header of a trusted proxy (see [`crate::auth`]). Every refusal names
/// the credential and what is wrong with it. The dialect's extractor turns
/// an error into its answer with [`Dialect::error`]. The caller and the
/// dialect's name are also left in the request's extensions, where the
/// audit trail finds them once the request was answered
/// ([`crate::audit`]).
pub async fn authenticate(
    dialect: &Dialect,
    st: &State,
    req: &HttpRequest,
) -> Result<Caller, DomainError> {
    let caller = credentials(dialect, st, req).await?;
    crate::audit::remember(req, &caller, dialect.name);
    Ok(caller)
}

/// The caller of the first credential the request presents (see
/// [`authenticate`]).
async fn credentials(
    dialect: &Dialect,
    st: &State,
    req: &HttpRequest,
) -> Result<Caller, DomainError> {
    let app = st.app();
    let settings = st.settings();
    if let Some(credential) = (dialect.credential)(req)? {
        let what = dialect.header.map_or("the credential", |(name, _)| name);
        if looks_like_jwt(&credential) {
            return session(app, &credential, what).await;
        }
        return app
            .authenticate(&credential)
            .await?
            .ok_or_else(|| DomainError::Unauthorized(format!("{what}: unknown or revoked token")));
    }
    if let Some(jwt) = auth::cookie(req, auth::SESSION_COOKIE) {
        let what = "the `authtoken` cookie";
        auth::refuse_cross_site(req, settings, what)?;
        return session(app, &jwt, what).await;
    }
    if let Some(email) = auth::identity(req, settings)? {
        let what = "the `Identity` header";
        auth::refuse_cross_site(req, settings, what)?;
        return app.authenticate_email(&email).await?.ok_or_else(|| {
            DomainError::Unauthorized(format!("{what}: no enabled user has this e-mail"))
        });
    }
    let mut accepted: Vec<&str> = dialect.header.map(|(_, form)| form).into_iter().collect();
    accepted.push("the `authtoken` session cookie");
    if !settings.trusted_proxies.is_empty() {
        accepted.push("an `Identity` header from a trusted proxy");
    }
    Err(DomainError::Unauthorized(format!(
        "no credentials: send {}",
        accepted.join(" or ")
    )))
}

/// The caller of session JWT `jwt`, presented as `what`.
async fn session(app: &App, jwt: &str, what: &str) -> Result<Caller, DomainError> {
    app.authenticate_session(jwt)
        .await?
        .map_err(|refusal| DomainError::Unauthorized(format!("{what} {refusal}")))
}

/// The name of the API whose prefixes `path` is under (the longest
/// prefix wins, as for the fallback), if any.
pub fn owner_of(path: &str) -> Option<&'static str> {
    all()
        .iter()
        .filter_map(|d| d.owns(path).map(|n| (n, d.name)))
        .max_by_key(|(n, _)| *n)
        .map(|(_, name)| name)
}

/// Which APIs are turned off (all are on unless named here), and the
/// options set for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Switches {
    off: BTreeSet<String>,
    options: BTreeMap<(String, String), String>,
}

impl Switches {
    /// Every API on.
    pub fn all_on() -> Self {
        Switches::default()
    }

    /// Turns `name` on or off.
    ///
    /// # Errors
    /// `name` is not one of [`NAMES`] (the message lists them).
    pub fn set(&mut self, name: &str, enabled: bool) -> Result<(), String> {
        if !NAMES.contains(&name) {
            return Err(format!(
                "no dialect `{name}`; expected one of {}",
                NAMES.join(", ")
            ));
        }
        if enabled {
            self.off.remove(name);
        } else {
            self.off.insert(name.to_owned());
        }
        Ok(())
    }

    /// Whether `name` is on.
    pub fn enabled(&self, name: &str) -> bool {
        !self.off.contains(name)
    }

    /// Sets option `option` of dialect `name`.
    ///
    /// # Errors
    /// The dialect has no such option (the message lists those it has).
    pub fn set_option(&mut self, name: &str, option: &str, value: &str) -> Result<(), String> {
        let known: Vec<&str> = all()
            .iter()
            .filter(|d| d.name == name)
            .flat_map(|d| d.options.iter().map(|o| o.name))
            .collect();
        if !known.contains(&option) {
            return Err(format!(
                "`{option}` is not an option of dialect `{name}`; it has {}",
                if known.is_empty() {
                    "only `enabled`".to_owned()
                } else {
                    format!("`enabled`, `{}`", known.join("`, `"))
                }
            ));
        }
        self.options
            .insert((name.to_owned(), option.to_owned()), value.to_owned());
        Ok(())
    }

    /// The value of option `option` of dialect `name`: as configured, else
    /// its default (empty for an option the dialect does not declare).
    pub fn option(&self, name: &str, option: &str) -> &str {
        if let Some(v) = self.options.get(&(name.to_owned(), option.to_owned())) {
            return v;
        }
        all()
            .iter()
            .filter(|d| d.name == name)
            .flat_map(|d| d.options.iter())
            .find(|o| o.name == option)
            .map_or("", |o| o.default)
    }
}

/// Every API built so far, the native one first. A new dialect is one
/// line here.
pub fn all() -> &'static [Dialect] {
    static ALL: [Dialect; 2] = [crate::native::DIALECT, crate::serverless_devs::DIALECT];
    &ALL
}

/// The APIs `switches` leaves on.
pub fn enabled(switches: &Switches) -> Vec<&'static Dialect> {
    all().iter().filter(|d| switches.enabled(d.name)).collect()
}

/// Registers every enabled API's routes and documents at the root, and,
/// while the native API is on, the browsable documentation offering
/// every enabled API's document.
pub fn configure(dialects: &[&'static Dialect], cfg: &mut web::ServiceConfig) {
    if dialects
        .iter()
        .any(|d| d.name == crate::native::DIALECT.name)
    {
        let urls = dialects.iter().filter_map(|d| {
            d.openapi
                .map(|doc| utoipa_swagger_ui::Url::new(d.name, doc.path))
        });
        cfg.service(
            utoipa_swagger_ui::SwaggerUi::new(format!("{}{{_:.*}}", crate::DOCS_PATH))
                .config(utoipa_swagger_ui::Config::new(urls)),
        );
    }
    for d in dialects {
        (d.routes)(cfg);
        if let Some(doc) = d.openapi {
            let make = doc.json;
            cfg.route(
                doc.path,
                web::get().to(move || async move {
                    match make() {
                        Ok(json) => HttpResponse::Ok()
                            .content_type("application/json")
                            .body(json),
                        Err(e) => {
                            tracing::error!(error = %e, "building an OpenAPI document");
                            HttpResponse::InternalServerError().finish()
                        }
                    }
                }),
            );
        }
    }
}

/// The answer for a path no route matched: the fallback of the enabled
/// API with the longest prefix of the path, else `default`.
pub fn fallback(
    dialects: &[&'static Dialect],
    req: &HttpRequest,
    default: fn(&HttpRequest) -> HttpResponse,
) -> HttpResponse {
    let path = req.path();
    let owner = dialects
        .iter()
        .filter_map(|d| d.owns(path).map(|n| (n, d)))
        .max_by_key(|(n, _)| *n);
    match owner {
        Some((_, d)) => (d.fallback)(req),
        None => default(req),
    }
}
