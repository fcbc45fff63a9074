//! Bearer-token authentication: the [`Caller`] extractor.
//!
//! Every `/api/v1` route but the health checks and the API's own document
//! takes a [`Caller`] argument; extracting it reads `Authorization: Bearer
//! <token>` and asks the domain (which hashes the secret and compares in
//! constant time) who it is. Missing, unknown and revoked tokens get 401.

use crate::error::ApiError;
use crate::state::State;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub slipway_domain::Caller);

impl Caller {
    /// 403 unless the caller's token is an admin token.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.0.is_admin {
            Ok(())
        } else {
            Err(ApiError::forbidden("this route needs an admin token"))
        }
    }
}

/// The secret of an `Authorization: Bearer` header.
pub fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing `Authorization: Bearer <token>` header"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("unreadable Authorization header"))?;
    let (scheme, secret) = value.trim().split_once(' ').ok_or_else(|| {
        ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || secret.trim().is_empty() {
        return Err(ApiError::unauthorized(
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
        let secret = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("no state"))?;
            let secret = secret?;
            match state.app().authenticate(&secret).await? {
                Some(caller) => Ok(Caller(caller)),
                None => Err(ApiError::unauthorized("unknown or revoked token")),
            }
        })
    }
}
