//! Mocks: the answers a test gives to the host actions a flow asks for (`http_request`,
//! custom actions).
//!
//! `mocks` maps an action name to either
//! - a plain result, given to every call of that action (the original form), or
//! - one mock entry, or a list of them, each recognised by a `match` or `results` key:
//!   `{ "match": { "method": "POST", "url": "https://api.example.com/*", "body": { "cpf": "1" } },
//!   "result": … }` or `"results": [first, second, …]` for successive calls.
//!
//! Entries are tried in order; the first whose `match` holds answers (no `match`: every call).
//! `url` is a glob: `*` is any run of characters (`/` included), `?` one character, the rest
//! literal, and the whole URL must match. `method` is compared case-insensitively. `body` is a
//! subset of a JSON body (objects: every key given must match; arrays and scalars: equal), or
//! a substring of a text body. An entry with `results` answers its Nth matching call with the
//! Nth result; a call after the last result is a failure of the conversation, so a flow that
//! calls more often than the test foresaw does not pass unnoticed.

use serde_json::{Map, Value as Json};

/// Keys of a mock entry.
const ENTRY_KEYS: &[&str] = &["match", "result", "results"];
/// Keys of an entry's `match`.
const MATCH_KEYS: &[&str] = &["method", "url", "body"];

/// A conversation's mocks, with the count of calls each sequence has answered.
#[derive(Debug, Default)]
pub(crate) struct Mocks {
    by_action: Vec<(String, Mock)>,
}

#[derive(Debug)]
enum Mock {
    /// The original form: the same result for every call.
    Plain(Json),
    /// Entries tried in order.
    Entries(Vec<Entry>),
}

#[derive(Debug)]
struct Entry {
    method: Option<String>,
    url: Option<regex::Regex>,
    url_text: Option<String>,
    body: Option<Json>,
    results: Vec<Json>,
    /// `results` (a sequence) rather than `result` (every call).
    sequence: bool,
    calls: usize,
}

/// True when `v` is written as a mock entry (it has `match` or `results`).
fn looks_like_entry(v: &Json) -> bool {
    v.as_object()
        .is_some_and(|o| o.contains_key("match") || o.contains_key("results"))
}

/// `*` any run of characters, `?` one, the rest literal; anchored.
fn glob(pattern: &str) -> Result<regex::Regex, String> {
    let mut re = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| format!("`url` pattern `{pattern}`: {e}"))
}

impl Entry {
    fn read(v: &Json, at: &str) -> Result<Entry, String> {
        let o = v
            .as_object()
            .ok_or_else(|| format!("{at}: a mock entry is an object, found {v}"))?;
        if let Some(k) = o.keys().find(|k| !ENTRY_KEYS.contains(&k.as_str())) {
            return Err(format!(
                "{at}: unknown field `{k}` in a mock entry (fields: match, result, results)"
            ));
        }
        let (results, sequence) = match (o.get("result"), o.get("results")) {
            (Some(r), None) => (vec![r.clone()], false),
            (None, Some(Json::Array(rs))) if !rs.is_empty() => (rs.clone(), true),
            (None, Some(_)) => {
                return Err(format!("{at}: `results` must be a non-empty array"));
            }
            (Some(_), Some(_)) => {
                return Err(format!("{at}: give `result` or `results`, not both"));
            }
            (None, None) => return Err(format!("{at}: a mock entry needs `result` or `results`")),
        };
        let mut e = Entry {
            method: None,
            url: None,
            url_text: None,
            body: None,
            results,
            sequence,
            calls: 0,
        };
        if let Some(m) = o.get("match") {
            let m = m
                .as_object()
                .ok_or_else(|| format!("{at}: `match` must be an object"))?;
            if let Some(k) = m.keys().find(|k| !MATCH_KEYS.contains(&k.as_str())) {
                return Err(format!(
                    "{at}: unknown field `{k}` in `match` (fields: method, url, body)"
                ));
            }
            let text = |k: &str| -> Result<Option<String>, String> {
                match m.get(k) {
                    None => Ok(None),
                    Some(Json::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(format!("{at}: `match.{k}` must be a string")),
                }
            };
            e.method = text("method")?;
            e.url_text = text("url")?;
            e.url = e.url_text.as_deref().map(glob).transpose()?;
            e.body = m.get("body").cloned();
        }
        Ok(e)
    }

    fn matches(&self, req: &Request) -> bool {
        self.method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(&req.method))
            && self.url.as_ref().is_none_or(|u| u.is_match(&req.url))
            && self.body.as_ref().is_none_or(|b| body_matches(b, req.body))
    }
}

/// The request an `http_request` action describes (other actions: whatever of these their
/// parameters carry).
struct Request<'a> {
    method: String,
    url: String,
    body: Option<&'a Json>,
}

impl<'a> Request<'a> {
    fn of(parameters: &'a Json) -> Request<'a> {
        // The builder's form is `{ "config": { "url", "method", "data" } }`; a flat form is
        // read too.
        let get = |k: &str| {
            parameters
                .get("config")
                .and_then(|c| c.get(k))
                .or_else(|| parameters.get(k))
        };
        Request {
            method: get("method")
                .and_then(Json::as_str)
                .unwrap_or("GET")
                .to_uppercase(),
            url: get("url")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned(),
            body: get("data").or_else(|| get("body")),
        }
    }

    fn describe(&self) -> String {
        format!("{} {}", self.method, self.url)
    }
}

/// `want` is a subset of `got` (objects), equal to it (scalars, arrays), or — for a text
/// body — a substring of it. A text body holding JSON is read as JSON.
fn body_matches(want: &Json, got: Option<&Json>) -> bool {
    let Some(got) = got else { return false };
    match (want, got) {
        (Json::String(w), Json::String(g)) => {
            if g.contains(w.as_str()) {
                return true;
            }
            serde_json::from_str::<Json>(g).is_ok_and(|v| subset(want, &v))
        }
        (_, Json::String(g)) => serde_json::from_str::<Json>(g).is_ok_and(|v| subset(want, &v)),
        _ => subset(want, got),
    }
}

fn subset(want: &Json, got: &Json) -> bool {
    match (want, got) {
        (Json::Object(w), Json::Object(g)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| subset(v, gv))),
        _ => want == got,
    }
}

impl Mocks {
    /// Reads a conversation's `mocks`; an ill-formed entry is refused with where it is.
    pub(crate) fn read(mocks: &Map<String, Json>) -> Result<Mocks, String> {
        let mut by_action = Vec::new();
        for (name, v) in mocks {
            let at = format!("mocks.{name}");
            let mock = match v {
                Json::Array(items) if items.iter().any(looks_like_entry) => Mock::Entries(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, e)| Entry::read(e, &format!("{at}[{i}]")))
                        .collect::<Result<_, _>>()?,
                ),
                v if looks_like_entry(v) => Mock::Entries(vec![Entry::read(v, &at)?]),
                v => Mock::Plain(v.clone()),
            };
            by_action.push((name.clone(), mock));
        }
        Ok(Mocks { by_action })
    }

    /// The answer to a call of action `name` with `parameters`: `Ok(None)` when the test has
    /// no mock for that action, an error when it has some but none answers this call.
    pub(crate) fn answer(&mut self, name: &str, parameters: &Json) -> Result<Option<Json>, String> {
        let Some((_, mock)) = self.by_action.iter_mut().find(|(n, _)| n == name) else {
            return Ok(None);
        };
        let entries = match mock {
            Mock::Plain(v) => return Ok(Some(v.clone())),
            Mock::Entries(e) => e,
        };
        let req = Request::of(parameters);
        let Some(e) = entries.iter_mut().find(|e| e.matches(&req)) else {
            let tried: Vec<String> = entries
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e.method.as_deref().unwrap_or("*"),
                        e.url_text.as_deref().unwrap_or("*")
                    )
                })
                .collect();
            return Err(format!(
                "the flow asked the host to run `{name}` ({}), and no mock of `{name}` matches it (mocks for: {})",
                req.describe(),
                tried.join("; ")
            ));
        };
        e.calls += 1;
        if !e.sequence {
            return Ok(e.results.first().cloned());
        }
        match e.results.get(e.calls - 1) {
            Some(r) => Ok(Some(r.clone())),
            None => Err(format!(
                "the flow asked the host to run `{name}` ({}) for call {} of that mock, and its `results` has only {} (a call after the last result fails)",
                req.describe(),
                e.calls,
                e.results.len()
            )),
        }
    }
}

/// Checks `mocks` as [`Mocks::read`] does, for the model's validation of a test file.
pub(crate) fn check(mocks: &Map<String, Json>) -> Result<(), String> {
    Mocks::read(mocks).map(|_| ())
}
