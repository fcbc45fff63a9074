//! Reading requests: bodies under the size limit, JSON with the path of
//! whatever is wrong, and query parameters with checked types.

use crate::error::{ApiError, ApiResult};
use actix_web::http::header;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpMessage, HttpRequest};
use futures::StreamExt;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use slipway_core::Status;
use slipway_domain::{Order, PageRequest};

/// The sort words of the project list (the first is the default).
pub const PROJECT_SORTS: &[&str] = &["name", "created_at"];
/// The sort words of a project's workflow list.
pub const WORKFLOW_SORTS: &[&str] = &["name", "created_at"];
/// The sort words of the named repository lists.
pub const REPOSITORY_SORTS: &[&str] = &["name", "created_at"];
/// The sorts of the namespace and workload lists.
pub const NAMESPACE_SORTS: &[&str] = &["name", "created_at"];
/// The sort words of the application lists.
pub const APPLICATION_SORTS: &[&str] = &["name", "created_at", "last_run_at"];
/// The sort words of the user list.
pub const USER_SORTS: &[&str] = &["login", "created_at"];
/// The sort words of the run list.
pub const RUN_SORTS: &[&str] = &["created_at"];
/// The most lines `tail` may ask of a log stream.
pub const MAX_TAIL: i64 = 100_000;

/// Reads the whole body, refusing (413) anything above `limit` bytes, first
/// by its declared length, then while it arrives.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> ApiResult<Bytes> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ApiError::too_large(limit));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => ApiError::too_large(limit),
            other => ApiError::malformed("", format!("could not read the body: {other}")),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// True when the request declares a JSON body, or declares nothing.
fn is_json(req: &HttpRequest) -> bool {
    if req.headers().get(header::CONTENT_TYPE).is_none() {
        return true;
    }
    let ct = req.content_type().to_ascii_lowercase();
    ct == "application/json" || ct == "text/json" || ct.ends_with("+json")
}

/// Decodes a JSON body into `T`. An empty body reads as `{}`. Errors name
/// the path of the value at fault.
pub fn json<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> ApiResult<T> {
    if !is_json(req) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "this route takes application/json, not `{}`",
                req.content_type()
            ),
        ));
    }
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." || path == "?" {
            String::new()
        } else {
            path
        };
        describe(&path, &e.inner().to_string())
    })?;
    de.end()
        .map_err(|e| ApiError::malformed("", e.to_string()))?;
    Ok(value)
}

/// Turns a serde message into a problem, moving the field named in
/// "missing field `x`" / "unknown field `x`" into the path.
fn describe(path: &str, message: &str) -> ApiError {
    for (lead, what) in [
        ("missing field `", "required"),
        ("unknown field `", "unknown field"),
    ] {
        if let Some(rest) = message.strip_prefix(lead)
            && let Some(end) = rest.find('`')
        {
            let field = &rest[..end];
            // serde_path_to_error puts an unknown key in the path already.
            let full = if path.is_empty() {
                field.to_owned()
            } else if path == field || path.ends_with(&format!(".{field}")) {
                path.to_owned()
            } else {
                format!("{path}.{field}")
            };
            let tail = rest[end + 1..].trim_start_matches(',').trim();
            let msg = if tail.is_empty() || what == "required" {
                what.to_owned()
            } else {
                format!("{what}, {tail}")
            };
            return ApiError::malformed(&full, msg);
        }
    }
    ApiError::malformed(path, message)
}

/// For a field that may be absent, `null` or a value: with
/// `#[serde(default, deserialize_with = "present")]`, absent is `None`,
/// `null` is `Some(None)` and a value is `Some(Some(v))`.
pub fn present<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// A run status word given in query parameter `param`.
pub fn status_word(param: &str, word: &str) -> ApiResult<Status> {
    word.parse().map_err(|_| {
        let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::invalid(
            param,
            format!(
                "unknown status `{word}`, expected one of: {}",
                all.join(", ")
            ),
        )
    })
}

/// The query parameters of a request, read by name with checked types.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses the request's query string.
    pub fn of(req: &HttpRequest) -> ApiResult<Query> {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map_err(|e| ApiError::invalid("", format!("unreadable query string: {e}")))?
            .into_inner();
        Ok(Query { pairs })
    }

    /// Every value given for `name`.
    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.all(name).last()
    }

    /// An integer in `min..=max`, when given.
    pub fn int(&self, name: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::invalid(
                name,
                format!("must be an integer from {min} to {max}, not `{v}`"),
            )),
        }
    }

    /// One of `words`, when given.
    pub fn word<'a>(&self, name: &str, words: &[&'a str]) -> ApiResult<Option<&'a str>> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        words
            .iter()
            .find(|w| **w == v)
            .map(|w| Some(*w))
            .ok_or_else(|| {
                ApiError::invalid(
                    name,
                    format!("unknown value `{v}`, expected one of: {}", words.join(", ")),
                )
            })
    }

    /// `page`, `per_page` (1 to 100, default 20), `sort` (one of `sorts`,
    /// the first by default) and `order` (`asc` / `desc`, default `order`).
    pub fn page(&self, sorts: &[&str], order: Order) -> ApiResult<PageRequest> {
        let page = self.int("page", 1, i64::from(u32::MAX))?.unwrap_or(1);
        let max = i64::from(PageRequest::MAX_PER_PAGE);
        let per_page = self.int("per_page", 1, max)?.unwrap_or(20);
        let sort = match sorts.is_empty() {
            true => String::new(),
            false => self.word("sort", sorts)?.unwrap_or(sorts[0]).to_owned(),
        };
        let order = match self.word("order", &["asc", "desc"])? {
            Some("asc") => Order::Asc,
            Some(_) => Order::Desc,
            None => order,
        };
        Ok(PageRequest {
            page: u32::try_from(page).unwrap_or(u32::MAX),
            per_page: u32::try_from(per_page).unwrap_or(20),
            sort,
            order,
        })
    }
}
