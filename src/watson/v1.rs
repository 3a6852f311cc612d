//! The Watson Assistant v1 API around a turn, as IBM's SDKs read it: the request checks Watson
//! makes before a turn (`input` an object, `input.text` at most 2,048 characters without a
//! newline, carriage return or tab), the response fields the SDKs' typed models require
//! (`user_id`, a `code` on every log message, `alternate_intents` as sent,
//! `nodes_visited_details` when asked), errors in Watson's shape, and the `Workspace` and
//! `WorkspaceCollection` objects of `GET /v1/workspaces[/{id}]`.
//!
//! ```
//! use fluxo::watson::{v1, Workspace};
//! use serde_json::json;
//!
//! let ws = Workspace::from_value(&json!({ "name": "demo", "dialog_nodes": [
//!     { "dialog_node": "hi", "title": "Hello", "conditions": "welcome", "output": { "text": "Hi!" } } ] })).unwrap();
//! let request = json!({ "input": { "text": "" }, "user_id": "u-1" });
//! v1::check_request(&request).unwrap();
//! let r = v1::message(&ws, &request, "2026-01-05T12:00:00Z", true);
//! assert_eq!(r["user_id"], "u-1");
//! assert_eq!(r["output"]["nodes_visited_details"][0]["title"], "Hello");
//! let refused = v1::check_request(&json!({ "input": { "text": "a\nb" } })).unwrap_err();
//! assert_eq!(refused.body()["code"], 400);
//! ```

use super::Workspace;
use serde_json::{json, Map, Value as Json};

/// Watson's limit on `input.text`, in characters.
pub const MAX_INPUT_CHARS: usize = 2048;
/// Watson's limit on `user_id`, in characters.
pub const MAX_USER_ID_CHARS: usize = 256;

/// A refusal in Watson's shape: `{"error": "…", "code": N}`, with `errors` (each a `message`
/// and the `path` of the offending field) when a request body is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status, repeated as `code`.
    pub status: u16,
    /// The sentence of `error`.
    pub error: String,
    /// `(message, path)` of each invalid field.
    pub errors: Vec<(String, String)>,
}

impl Refusal {
    /// A refusal with a status and a sentence.
    pub fn new(status: u16, error: impl Into<String>) -> Refusal {
        Refusal {
            status,
            error: error.into(),
            errors: Vec::new(),
        }
    }

    /// Watson's `Invalid Request Body` (400) for one field.
    pub fn invalid(path: &str, message: impl Into<String>) -> Refusal {
        Refusal {
            status: 400,
            error: "Invalid Request Body".into(),
            errors: vec![(message.into(), path.to_owned())],
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Json {
        let mut b = json!({ "error": self.error, "code": self.status });
        if !self.errors.is_empty() {
            b["errors"] = self
                .errors
                .iter()
                .map(|(m, p)| json!({ "message": m, "path": p }))
                .collect();
        }
        b
    }
}

/// Checks a `MessageRequest` as Watson does before running the turn: the body is an object;
/// `input`, `context` and `output` are objects; `input.text` is a string of at most
/// [`MAX_INPUT_CHARS`] characters without `\n`, `\r` or `\t`; `intents` and `entities` are
/// arrays; `alternate_intents` a boolean; `user_id` a string of at most
/// [`MAX_USER_ID_CHARS`] characters without `\n`, `\r` or `\t`.
pub fn check_request(request: &Json) -> Result<(), Refusal> {
    let Some(r) = request.as_object() else {
        return Err(Refusal::invalid(
            ".",
            "the request body must be a JSON object",
        ));
    };
    for key in ["input", "context", "output"] {
        match r.get(key) {
            None | Some(Json::Null | Json::Object(_)) => {}
            Some(_) => {
                return Err(Refusal::invalid(
                    &format!(".{key}"),
                    format!("`{key}` must be an object"),
                ))
            }
        }
    }
    match r.get("input").and_then(|i| i.get("text")) {
        None | Some(Json::Null) => {}
        Some(Json::String(t)) => {
            let n = t.chars().count();
            if n > MAX_INPUT_CHARS {
                return Err(Refusal::invalid(
                    ".input.text",
                    format!("Text cannot be longer than {MAX_INPUT_CHARS} characters (it has {n})"),
                ));
            }
            if t.contains(['\n', '\r', '\t']) {
                return Err(Refusal::invalid(
                    ".input.text",
                    "Text cannot contain newline, carriage return, or tab characters",
                ));
            }
        }
        Some(_) => return Err(Refusal::invalid(".input.text", "`text` must be a string")),
    }
    for key in ["intents", "entities"] {
        match r.get(key) {
            None | Some(Json::Null | Json::Array(_)) => {}
            Some(_) => {
                return Err(Refusal::invalid(
                    &format!(".{key}"),
                    format!("`{key}` must be an array"),
                ))
            }
        }
    }
    match r.get("alternate_intents") {
        None | Some(Json::Null | Json::Bool(_)) => {}
        Some(_) => {
            return Err(Refusal::invalid(
                ".alternate_intents",
                "`alternate_intents` must be a boolean",
            ))
        }
    }
    match r.get("user_id") {
        None | Some(Json::Null) => {}
        Some(Json::String(u)) => {
            if u.chars().count() > MAX_USER_ID_CHARS || u.contains(['\n', '\r', '\t']) {
                return Err(Refusal::invalid(
                    ".user_id",
                    format!("`user_id` is at most {MAX_USER_ID_CHARS} characters without newline, carriage return or tab"),
                ));
            }
        }
        Some(_) => return Err(Refusal::invalid(".user_id", "`user_id` must be a string")),
    }
    Ok(())
}

/// One turn answered as Watson's v1 `/message` answers it: [`Workspace::message`], then the
/// fields the v1 API adds around the dialog (see [`complete`]). `details` is the
/// `nodes_visited_details` query parameter.
pub fn message(ws: &Workspace, request: &Json, now: &str, details: bool) -> Json {
    let mut r = ws.message(request, now);
    complete(ws, request, &mut r, details);
    r
}

/// Adds to a turn's `MessageResponse` what Watson's v1 API returns around the dialog:
///
/// * `user_id`: the request's, else `context.metadata.user_id`, else
///   `context.conversation_id` (the v1 API's default);
/// * `alternate_intents` exactly as the request had it (absent when it was absent);
/// * a `code` on every log message that has none (see [`log_code`]);
/// * with `details`, `output.nodes_visited_details`: one `{dialog_node, title, conditions}`
///   per node of `nodes_visited`, `title` and `conditions` as the workspace writes them.
pub fn complete(ws: &Workspace, request: &Json, r: &mut Json, details: bool) {
    let user_id = request
        .get("user_id")
        .and_then(Json::as_str)
        .or_else(|| {
            request
                .pointer("/context/metadata/user_id")
                .and_then(Json::as_str)
        })
        .or_else(|| r.pointer("/context/conversation_id").and_then(Json::as_str))
        .map(str::to_owned);
    if let (Some(u), Some(o)) = (user_id, r.as_object_mut()) {
        o.insert("user_id".into(), json!(u));
    }
    if let Some(o) = r.as_object_mut() {
        match request.get("alternate_intents") {
            Some(a @ Json::Bool(_)) => {
                o.insert("alternate_intents".into(), a.clone());
            }
            _ => {
                o.remove("alternate_intents");
            }
        }
    }
    if let Some(logs) = r
        .pointer_mut("/output/log_messages")
        .and_then(Json::as_array_mut)
    {
        for log in logs.iter_mut().filter_map(Json::as_object_mut) {
            if !log.contains_key("code") {
                let msg = log.get("msg").and_then(Json::as_str).unwrap_or_default();
                let code = log_code(msg);
                log.insert("code".into(), json!(code));
            }
        }
    }
    if details {
        let visited: Vec<Json> = r
            .pointer("/output/nodes_visited")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .map(|id| visited_details(ws, id))
            .collect();
        if let Some(o) = r.get_mut("output").and_then(Json::as_object_mut) {
            o.insert("nodes_visited_details".into(), Json::Array(visited));
        }
    }
}

/// The `code` of a runtime log message, by what it reports: `dialog_loop` (a turn stopped
/// after [`super::MAX_NODES_PER_TURN`] nodes), `missing_jump_target`, `action_not_run` (a
/// server-side action not called offline), else `expression_error` (a condition or a
/// response that did not evaluate).
pub fn log_code(msg: &str) -> &'static str {
    if msg.contains("nodes in one turn") {
        "dialog_loop"
    } else if msg.contains("jumps to a node that does not exist") {
        "missing_jump_target"
    } else if msg.contains("is not called offline") {
        "action_not_run"
    } else {
        "expression_error"
    }
}

fn visited_details(ws: &Workspace, id: &str) -> Json {
    let raw = ws
        .find(id)
        .and_then(|i| ws.source.get("dialog_nodes")?.get(i));
    let mut d = Map::new();
    d.insert("dialog_node".into(), json!(id));
    for key in ["title", "conditions"] {
        if let Some(v) = raw.and_then(|n| n.get(key)).filter(|v| v.is_string()) {
            d.insert(key.into(), v.clone());
        }
    }
    Json::Object(d)
}

/// The parts of a workspace that only `export=true` returns.
const EXPORTED: [&str; 5] = [
    "intents",
    "entities",
    "dialog_nodes",
    "counterexamples",
    "webhooks",
];

/// The v1 `Workspace` object of `GET /v1/workspaces/{id}`: `workspace_id` is `id` (the name
/// fluxo serves it under), `name`, `language` (default `en`), `description`,
/// `learning_opt_out` (default `false`), `system_settings` and `metadata` as the file has them,
/// `status: "Available"`; with `export`, also `intents`, `entities`, `dialog_nodes`,
/// `counterexamples` and `webhooks` as written (entity values get the `type` older exports
/// omit).
pub fn workspace_object(ws: &Workspace, id: &str, export: bool) -> Json {
    let src = ws.source.as_object();
    let mut o = Map::new();
    o.insert("name".into(), json!(ws.name));
    if let Some(d) = src
        .and_then(|s| s.get("description"))
        .filter(|d| d.is_string())
    {
        o.insert("description".into(), d.clone());
    }
    o.insert("language".into(), json!(ws.language));
    o.insert("workspace_id".into(), json!(id));
    let opt_out = src
        .and_then(|s| s.get("learning_opt_out"))
        .and_then(Json::as_bool)
        .unwrap_or(false);
    o.insert("learning_opt_out".into(), json!(opt_out));
    for key in ["system_settings", "metadata"] {
        if let Some(v) = src.and_then(|s| s.get(key)).filter(|v| v.is_object()) {
            o.insert(key.into(), v.clone());
        }
    }
    o.insert("status".into(), json!("Available"));
    if export {
        for key in EXPORTED {
            let v = src
                .and_then(|s| s.get(key))
                .filter(|v| v.is_array())
                .cloned()
                .unwrap_or_else(|| json!([]));
            o.insert(
                key.into(),
                if key == "entities" {
                    typed_values(v)
                } else {
                    v
                },
            );
        }
    }
    Json::Object(o)
}

/// Entity values as Watson exports them: each with its `type` (`patterns` when it has
/// patterns, else `synonyms`), which the SDKs' `Value` model requires and older exports omit.
fn typed_values(mut entities: Json) -> Json {
    for e in entities.as_array_mut().into_iter().flatten() {
        let values = e.get_mut("values").and_then(Json::as_array_mut);
        for v in values.into_iter().flatten().filter_map(Json::as_object_mut) {
            if !v.get("type").is_some_and(Json::is_string) {
                let kind = if v.contains_key("patterns") {
                    "patterns"
                } else {
                    "synonyms"
                };
                v.insert("type".into(), json!(kind));
            }
        }
    }
    entities
}

/// Options of `GET /v1/workspaces`.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// `page_limit` (default and most: 100).
    pub page_limit: Option<usize>,
    /// `include_count`: add `pagination.total`.
    pub include_count: bool,
    /// `sort`: `name` or `-name` (other attributes keep the served order, by id).
    pub sort: Option<String>,
    /// `cursor`: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The v1 `WorkspaceCollection` of `GET /v1/workspaces`: `workspaces` (each as
/// [`workspace_object`] without export) and `pagination` (`refresh_url`, `next_url` and
/// `next_cursor` when there is a next page, `total` and `matched` with `include_count`).
/// A cursor is the offset of the page's first workspace; one that is not a number refuses 400.
pub fn list_workspaces<'a>(
    served: impl IntoIterator<Item = (&'a str, &'a Workspace)>,
    opts: &ListOptions,
) -> Result<Json, Refusal> {
    let mut all: Vec<(&str, &Workspace)> = served.into_iter().collect();
    match opts.sort.as_deref() {
        Some("name") => all.sort_by(|a, b| a.1.name.cmp(&b.1.name).then(a.0.cmp(b.0))),
        Some("-name") => all.sort_by(|a, b| b.1.name.cmp(&a.1.name).then(b.0.cmp(a.0))),
        _ => all.sort_by(|a, b| a.0.cmp(b.0)),
    }
    let limit = opts.page_limit.unwrap_or(100).clamp(1, 100);
    let start = match opts.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| Refusal::new(400, format!("Invalid cursor `{c}`")))?,
    };
    let page: Vec<Json> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|(id, ws)| workspace_object(ws, id, false))
        .collect();
    let mut query = String::new();
    if let Some(s) = &opts.sort {
        query.push_str(&format!("&sort={s}"));
    }
    if opts.page_limit.is_some() {
        query.push_str(&format!("&page_limit={limit}"));
    }
    let mut pagination = Map::new();
    pagination.insert(
        "refresh_url".into(),
        json!(format!("/v1/workspaces?{}", query.trim_start_matches('&'))
            .trim_end_matches('?')
            .to_owned()),
    );
    let next = start.saturating_add(limit);
    if next < all.len() {
        pagination.insert(
            "next_url".into(),
            json!(format!("/v1/workspaces?cursor={next}{query}")),
        );
        pagination.insert("next_cursor".into(), json!(next.to_string()));
    }
    if opts.include_count {
        pagination.insert("total".into(), json!(all.len()));
        pagination.insert("matched".into(), json!(all.len()));
    }
    Ok(json!({ "workspaces": page, "pagination": pagination }))
}
