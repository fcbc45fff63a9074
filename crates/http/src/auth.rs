//! Bearer-token authentication of the native API: the [`Authed`]
//! extractor.
//!
//! Every `/api/v1` route but the health checks, the webhook route and the
//! API's own document takes an [`Authed`] argument; extracting it reads
//! `Authorization: Bearer <token>` (the native dialect's header,
//! [`bearer`]) and asks the domain, through the dialect seam
//! ([`crate::dialect::authenticate`]), who it is.
//! Missing, unknown and revoked tokens get 401. The caller found is also
//! left in the request's extensions (by `dialect::authenticate`), where
//! the audit trail's middleware finds it once the request was answered
//! ([`crate::audit`]).

use crate::error::ApiError;
use crate::state::State;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use slipway_domain::DomainError;

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

/// The secret of an `Authorization: Bearer` header.
pub fn bearer(req: &HttpRequest) -> Result<String, DomainError> {
    let unauthorized = |m: &str| DomainError::Unauthorized(m.to_owned());
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing `Authorization: Bearer <token>` header"))?;
    let value = value
        .to_str()
        .map_err(|_| unauthorized("unreadable Authorization header"))?;
    let (scheme, secret) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || secret.trim().is_empty() {
        return Err(unauthorized(
            "the Authorization header must be `Bearer <token>`",
        ));
    }
    Ok(secret.trim().to_owned())
}

impl FromRequest for Authed {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<State>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let st = state.ok_or_else(|| ApiError::internal("no state"))?;
            let caller = crate::dialect::authenticate(&crate::native::DIALECT, st.app(), &req)
                .await
                .map_err(ApiError::from)?;
            Ok(Authed { caller, st })
        })
    }
}
