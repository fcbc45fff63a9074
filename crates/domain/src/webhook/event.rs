//! The normalised webhook event and its parsing from each provider's
//! payload.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    GENERIC_DELIVERY_HEADER, GENERIC_EVENT_HEADER, GITEE_DELIVERY_HEADER, GITEE_EVENT_HEADER,
    GITHUB_DELIVERY_HEADER, GITHUB_EVENT_HEADER, GITLAB_EVENT_HEADER, GITLAB_EVENT_UUID_HEADER,
    Headers, Provider, WebhookError, form_decode, to_hex,
};

/// The content type of a form-encoded delivery.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// What a pull (merge) request event says happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PullRequestAction {
    /// Opened (GitHub `opened`, GitLab/Gitee `open`).
    Opened,
    /// New commits on the source branch (GitHub `synchronize`, GitLab/Gitee
    /// `update`).
    Updated,
    /// Reopened.
    Reopened,
    /// Closed without merging.
    Closed,
    /// Merged (GitHub `closed` with `merged: true`, GitLab/Gitee `merge`).
    Merged,
    /// Anything else, as the provider named it (`edited`, `labeled`, ...).
    Other(String),
}

impl PullRequestAction {
    /// Opened or updated: the actions that may start a run.
    pub fn is_opened_or_updated(&self) -> bool {
        matches!(self, Self::Opened | Self::Updated | Self::Reopened)
    }
}

/// The kind of a webhook event, normalised across providers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A push to a branch (including a branch created or deleted).
    Push,
    /// A tag pushed (or deleted).
    TagPush,
    /// A pull or merge request event.
    PullRequest {
        /// What happened to it.
        action: PullRequestAction,
    },
    /// A connectivity check (GitHub `ping`, generic `ping`): answer 200.
    Ping,
    /// Any other event, by the name the provider gave it.
    Other(String),
}

/// The repository an event is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryInfo {
    /// Short name (`api`).
    pub name: Option<String>,
    /// Owner and name (`acme/api`).
    pub full_name: Option<String>,
    /// HTTPS clone URL.
    pub clone_url: Option<String>,
    /// SSH clone URL.
    pub ssh_url: Option<String>,
    /// Web page.
    pub html_url: Option<String>,
}

/// Who wrote the commit (or, failing that, who pushed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// Display name.
    pub name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Account name on the provider.
    pub username: Option<String>,
}

/// A webhook delivery, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Who sent it.
    pub provider: Provider,
    /// What kind of event it is.
    pub kind: EventKind,
    /// The event name exactly as the provider's header gave it (`push`,
    /// `Tag Push Hook`, ...).
    pub name: String,
    /// The delivery id from the provider's header, or, when there is none,
    /// `sha256:` and the hex SHA-256 of the raw body.
    pub delivery_id: String,
    /// The full ref (`refs/heads/main`, `refs/tags/v1.2.0`); for a pull
    /// request, the source branch's ref.
    pub git_ref: Option<String>,
    /// The commit to build: the pushed commit (for an annotated tag, the
    /// commit it points to, not the tag object), or a pull request's head.
    /// `None` when the ref was deleted.
    pub commit: Option<String>,
    /// The ref's previous value, when the provider gives it.
    pub before: Option<String>,
    /// The branch name for a push (or a pull request's source branch).
    pub branch: Option<String>,
    /// The tag name for a tag push.
    pub tag: Option<String>,
    /// A pull request's target branch.
    pub target_branch: Option<String>,
    /// The push deleted the ref (`after` is all zeros).
    pub deleted: bool,
    /// The repository.
    pub repository: RepositoryInfo,
    /// The commit message of [`Event::commit`] (or a pull request's title).
    pub message: Option<String>,
    /// The commit's author, or the pusher.
    pub author: Option<Author>,
    /// The JSON body, for filter expressions. For Gitee the top-level
    /// `password` and `sign` fields (which carry the secret in password mode
    /// and the signature otherwise) are removed.
    pub body: Value,
}

/// Reads a verified delivery into an [`Event`].
///
/// Call [`super::verify`] first: this function trusts its input. The event
/// header is required for GitHub, GitLab and Gitee; the generic scheme's
/// `X-Slipway-Event` is optional (a push, or a tag push when the ref is
/// under `refs/tags/`).
pub fn parse_event(
    provider: Provider,
    headers: &Headers,
    raw_body: &[u8],
) -> Result<Event, WebhookError> {
    let json = event_json(headers, raw_body)?;
    let mut body: Value =
        serde_json::from_slice(&json).map_err(|e| WebhookError::InvalidBody(e.to_string()))?;
    let (event_header, delivery_header) = match provider {
        Provider::Github => (GITHUB_EVENT_HEADER, GITHUB_DELIVERY_HEADER),
        Provider::Gitlab => (GITLAB_EVENT_HEADER, GITLAB_EVENT_UUID_HEADER),
        Provider::Gitee => (GITEE_EVENT_HEADER, GITEE_DELIVERY_HEADER),
        Provider::Generic => (GENERIC_EVENT_HEADER, GENERIC_DELIVERY_HEADER),
    };
    let name = match headers.get(event_header) {
        Some(name) => name.trim().to_owned(),
        None if provider == Provider::Generic => "push".to_owned(),
        None => return Err(WebhookError::MissingHeader(event_header)),
    };
    let delivery_id = headers
        .get(delivery_header)
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map_or_else(
            || format!("sha256:{}", to_hex(Sha256::digest(raw_body).as_slice())),
            str::to_owned,
        );
    if provider == Provider::Gitee
        && let Value::Object(map) = &mut body
    {
        map.remove("password");
        map.remove("sign");
    }

    let kind = kind_of(provider, &name, &body);
    let mut event = Event {
        provider,
        kind,
        name,
        delivery_id,
        git_ref: None,
        commit: None,
        before: None,
        branch: None,
        tag: None,
        target_branch: None,
        deleted: false,
        repository: repository_of(provider, &body),
        message: None,
        author: None,
        body: Value::Null,
    };
    match &event.kind {
        EventKind::Push | EventKind::TagPush => fill_push(provider, &body, &mut event),
        EventKind::PullRequest { .. } => fill_pull_request(provider, &body, &mut event),
        EventKind::Ping | EventKind::Other(_) => {
            event.git_ref = text(&body, &["ref"]);
        }
    }
    event.body = body;
    Ok(event)
}

/// The JSON event of a delivery: the body itself, or, when the request says
/// `Content-Type: application/x-www-form-urlencoded` (what GitHub, Gitea and
/// Gogs send unless told otherwise), its `payload` field, decoded. The
/// signature was checked over the raw body before this.
fn event_json<'a>(headers: &Headers, raw_body: &'a [u8]) -> Result<Cow<'a, [u8]>, WebhookError> {
    let form = headers.get("content-type").is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(FORM_CONTENT_TYPE))
    });
    if !form {
        return Ok(Cow::Borrowed(raw_body));
    }
    for pair in raw_body.split(|b| *b == b'&') {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        if form_decode(key).as_deref() == Some(b"payload".as_slice()) {
            return form_decode(value).map(Cow::Owned).ok_or_else(|| {
                WebhookError::InvalidBody("the form field `payload` has a broken %-escape".into())
            });
        }
    }
    Err(WebhookError::InvalidBody(
        "a form-encoded delivery needs a `payload` field holding the JSON event".into(),
    ))
}

fn kind_of(provider: Provider, name: &str, body: &Value) -> EventKind {
    let is_tag_ref = text(body, &["ref"]).is_some_and(|r| r.starts_with("refs/tags/"));
    let push = || {
        if is_tag_ref {
            EventKind::TagPush
        } else {
            EventKind::Push
        }
    };
    match (provider, name.to_ascii_lowercase().as_str()) {
        (Provider::Github | Provider::Generic, "push") => push(),
        (Provider::Generic, "tag_push") => EventKind::TagPush,
        (Provider::Github | Provider::Generic, "ping") => EventKind::Ping,
        (Provider::Github | Provider::Generic, "pull_request") => EventKind::PullRequest {
            action: pr_action(provider, body),
        },
        (Provider::Gitlab | Provider::Gitee, "push hook") => push(),
        (Provider::Gitlab | Provider::Gitee, "tag push hook") => EventKind::TagPush,
        (Provider::Gitlab | Provider::Gitee, "merge request hook") => EventKind::PullRequest {
            action: pr_action(provider, body),
        },
        _ => EventKind::Other(name.to_owned()),
    }
}

fn pr_action(provider: Provider, body: &Value) -> PullRequestAction {
    let action = match provider {
        Provider::Gitlab => text(body, &["object_attributes", "action"]),
        _ => text(body, &["action"]),
    }
    .unwrap_or_default();
    let merged = body
        .pointer("/pull_request/merged")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match action.as_str() {
        "opened" | "open" => PullRequestAction::Opened,
        "synchronize" | "update" => PullRequestAction::Updated,
        "reopened" | "reopen" => PullRequestAction::Reopened,
        "closed" if merged => PullRequestAction::Merged,
        "closed" | "close" => PullRequestAction::Closed,
        "merge" | "merged" => PullRequestAction::Merged,
        _ => PullRequestAction::Other(action),
    }
}

fn fill_push(provider: Provider, body: &Value, event: &mut Event) {
    let git_ref = text(body, &["ref"]);
    let after = text(body, &["after"]);
    event.before = text(body, &["before"]);
    event.deleted = after.as_deref() == Some(ZERO_SHA)
        || body.get("deleted").and_then(Value::as_bool) == Some(true);
    if let Some(r) = &git_ref {
        if let Some(tag) = r.strip_prefix("refs/tags/") {
            event.tag = Some(tag.to_owned());
        } else if let Some(branch) = r.strip_prefix("refs/heads/") {
            event.branch = Some(branch.to_owned());
        }
    }
    event.git_ref = git_ref;

    // The commit: head_commit.id (GitHub, Gitee, generic) or checkout_sha
    // (GitLab) is the commit even for an annotated tag, whose `after` is the
    // tag object.
    let head = match provider {
        Provider::Gitlab => text(body, &["checkout_sha"]),
        _ => text(body, &["head_commit", "id"]),
    };
    event.commit = if event.deleted {
        None
    } else {
        head.or(after).filter(|c| c != ZERO_SHA)
    };

    let commit_json = match provider {
        Provider::Gitlab => gitlab_commit(body, event.commit.as_deref()),
        _ => body.get("head_commit").filter(|c| c.is_object()),
    };
    if let Some(c) = commit_json {
        event.message = text(c, &["message"]);
        event.author = Some(Author {
            name: text(c, &["author", "name"]),
            email: text(c, &["author", "email"]),
            username: text(c, &["author", "username"]),
        });
    }
    if event.author.is_none() {
        event.author = pusher(provider, body);
    }
}

/// GitLab lists the pushed commits; the built one is the `checkout_sha`.
fn gitlab_commit<'a>(body: &'a Value, commit: Option<&str>) -> Option<&'a Value> {
    let commits = body.get("commits")?.as_array()?;
    commits
        .iter()
        .find(|c| commit.is_some() && c.get("id").and_then(Value::as_str) == commit)
        .or_else(|| commits.last())
}

fn pusher(provider: Provider, body: &Value) -> Option<Author> {
    let author = match provider {
        Provider::Gitlab => Author {
            name: text(body, &["user_name"]),
            email: text(body, &["user_email"]),
            username: text(body, &["user_username"]),
        },
        _ => Author {
            name: text(body, &["pusher", "name"]),
            email: text(body, &["pusher", "email"]),
            username: text(body, &["sender", "login"]),
        },
    };
    (author != Author::default()).then_some(author)
}

fn fill_pull_request(provider: Provider, body: &Value, event: &mut Event) {
    let (source, target, head, title, user) = match provider {
        Provider::Gitlab => (
            text(body, &["object_attributes", "source_branch"]),
            text(body, &["object_attributes", "target_branch"]),
            text(body, &["object_attributes", "last_commit", "id"]),
            text(body, &["object_attributes", "title"]),
            Author {
                name: text(body, &["user", "name"]),
                email: text(body, &["user", "email"]),
                username: text(body, &["user", "username"]),
            },
        ),
        _ => (
            text(body, &["pull_request", "head", "ref"]),
            text(body, &["pull_request", "base", "ref"]),
            text(body, &["pull_request", "head", "sha"]),
            text(body, &["pull_request", "title"]),
            Author {
                name: text(body, &["pull_request", "user", "name"]),
                email: text(body, &["pull_request", "user", "email"]),
                username: text(body, &["pull_request", "user", "login"]),
            },
        ),
    };
    event.git_ref = source.as_ref().map(|b| format!("refs/heads/{b}"));
    event.branch = source;
    event.target_branch = target;
    event.commit = head;
    event.message = title;
    event.author = (user != Author::default()).then_some(user);
}

fn repository_of(provider: Provider, body: &Value) -> RepositoryInfo {
    match provider {
        Provider::Gitlab => RepositoryInfo {
            name: text(body, &["project", "name"]).or_else(|| text(body, &["repository", "name"])),
            full_name: text(body, &["project", "path_with_namespace"]),
            clone_url: text(body, &["project", "git_http_url"])
                .or_else(|| text(body, &["repository", "git_http_url"])),
            ssh_url: text(body, &["project", "git_ssh_url"])
                .or_else(|| text(body, &["repository", "git_ssh_url"])),
            html_url: text(body, &["project", "web_url"])
                .or_else(|| text(body, &["repository", "homepage"])),
        },
        _ => {
            // GitHub, Gitee and generic: `repository`; Gitee also sends the
            // same object as `project`, and pull requests under `pull_request.base.repo`.
            let repo = ["repository", "project"]
                .into_iter()
                .filter_map(|k| body.get(k))
                .chain(body.pointer("/pull_request/base/repo"))
                .find(|r| r.is_object());
            let Some(r) = repo else {
                return RepositoryInfo::default();
            };
            RepositoryInfo {
                name: text(r, &["name"]),
                full_name: text(r, &["full_name"]),
                clone_url: text(r, &["clone_url"]).or_else(|| text(r, &["git_http_url"])),
                ssh_url: text(r, &["ssh_url"]).or_else(|| text(r, &["git_ssh_url"])),
                html_url: text(r, &["html_url"]),
            }
        }
    }
}

/// The string at a path of object keys, if it is a string.
fn text(value: &Value, path: &[&str]) -> Option<String> {
    let mut v = value;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str().map(str::to_owned)
}
