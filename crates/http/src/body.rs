//! [`JsonBody`]: the one way a route reads a JSON body (under the size
//! limit, as JSON, with the path of whatever is wrong), instead of each
//! handler reading the payload and parsing it itself.

use crate::error::ApiError;
use crate::input;
use crate::state::State;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

/// A request body read as JSON into `T`: 413 above the configured limit,
/// 415 for a declared type that is not JSON, 400 naming the path of a
/// value that does not fit (an empty body reads as `{}`).
///
/// Extracting it never fails: the error is handed over by
/// [`JsonBody::into_inner`] in the handler, so that a request with a bad
/// token and a bad body is answered 401, not 400 (actix runs extractors
/// side by side and would answer whichever fails first).
#[derive(Debug)]
pub struct JsonBody<T>(Result<T, ApiError>);

impl<T> JsonBody<T> {
    /// The value, or the answer for a body that is not one.
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<State>>().cloned();
        let payload = web::Payload::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let read = async {
                let state = state.ok_or_else(|| ApiError::internal("no state"))?;
                let payload = payload
                    .await
                    .map_err(|e| ApiError::malformed("", e.to_string()))?;
                let body = input::read_body(&req, payload, state.settings().body_limit).await?;
                input::json(&req, &body)
            };
            Ok(JsonBody(read.await))
        })
    }
}
