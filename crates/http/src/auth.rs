//! Bearer-token authentication of the native API: the [`Caller`]
//! extractor.
//!
//! Every `/api/v1` route but the health checks and the API's own document
//! takes a [`Caller`] argument; extracting it reads `Authorization: Bearer
//! <token>` (the native dialect's header, [`bearer`]) and asks the domain,
//! through the dialect seam ([`crate::dialect::authenticate`]), who it is.
//! Missing, unknown and revoked tokens get 401.

use crate::error::ApiError;
use crate::state::State;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use slipway_domain::DomainError;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub slipway_domain::Caller);

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

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<State>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("no state"))?;
            crate::dialect::authenticate(&crate::native::DIALECT, state.app(), &req)
                .await
                .map(Caller)
                .map_err(ApiError::from)
        })
    }
}
