//! [`JsonBody`]: the one way a route reads a JSON body (under the size
//! limit, as JSON, with the path of whatever is wrong), instead of each
//! handler reading the payload and parsing it itself; [`DefinitionBody`]
//! the same for a workflow definition (JSON or YAML).

use crate::error::ApiError;
use crate::input;
use crate::state::State;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use slipway_domain::Format;

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
        let read = read_with(req, payload, input::json);
        Box::pin(async move { Ok(JsonBody(read.await)) })
    }
}

/// A workflow definition sent as the request body: its text and format.
/// `Content-Type` decides the format (JSON or YAML types); any other type,
/// or none, is sniffed. Like [`JsonBody`], extracting it never fails: the
/// error is handed over by [`DefinitionBody::into_inner`].
#[derive(Debug)]
pub struct DefinitionBody(Result<(String, Format), ApiError>);

impl DefinitionBody {
    /// The definition's text and format, or the answer for a body that is
    /// not one.
    pub fn into_inner(self) -> Result<(String, Format), ApiError> {
        self.0
    }
}

impl FromRequest for DefinitionBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read_with(req, payload, definition);
        Box::pin(async move { Ok(DefinitionBody(read.await)) })
    }
}

/// The definition text of a body and its format.
fn definition(req: &HttpRequest, body: &[u8]) -> Result<(String, Format), ApiError> {
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::malformed("", "the definition is not UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(ApiError::malformed(
            "",
            "empty body: send a workflow definition",
        ));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Format::from_content_type);
    let format = declared.unwrap_or_else(|| Format::sniff(&text));
    Ok((text, format))
}

/// Reads the request body under the configured limit, then makes a `T` of
/// it with `parse`.
fn read_with<T: 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    parse: fn(&HttpRequest, &[u8]) -> Result<T, ApiError>,
) -> LocalBoxFuture<'static, Result<T, ApiError>> {
    let state = req.app_data::<web::Data<State>>().cloned();
    let payload = web::Payload::from_request(req, payload);
    let req = req.clone();
    Box::pin(async move {
        let state = state.ok_or_else(|| ApiError::internal("no state"))?;
        let payload = payload
            .await
            .map_err(|e| ApiError::malformed("", e.to_string()))?;
        let body = input::read_body(&req, payload, state.settings().body_limit).await?;
        parse(&req, &body)
    })
}
