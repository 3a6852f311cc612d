//! The fuzz targets, shared by the coverage-guided fuzzer (`fuzz/`, cargo-afl) and the bounded
//! generator run in `cargo test` (`tests/fuzz.rs`). Each takes arbitrary bytes and panics only
//! when an invariant breaks.

use fluxo::expr::{render, Dialect, Expression, Scope};
use fluxo::lint::{lint_bytes, LintOptions};
use fluxo::{Bot, CloseStatus, Event, Output, Speaker};
use serde_json::{json, Value};

/// Bytes as a file: lint never panics and every finding has a position.
pub fn loader(data: &[u8]) {
    let report = lint_bytes("fuzz.json", data, &LintOptions::default());
    for f in &report.findings {
        assert!(f.line >= 1 && f.column >= 1, "{f:?}");
    }
    let _ = Bot::from_bytes("fuzz.json", data, None);
}

/// Bytes as an expression in both dialects: parsing and evaluation return, never panic.
pub fn expression(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let context =
        json!({ "x": "abc", "n": 7, "lista": [1, "2", { "z": null }], "obj": { "a": 1 } });
    let input = json!({ "text": "Olá 123" });
    let intents = json!([{ "intent": "oi", "confidence": 0.9 }]);
    let entities = json!([{ "entity": "cor", "value": "azul", "location": [0, 3] }]);
    let system = json!({ "__now": "2026-01-05T12:00:00Z" });
    let scope = Scope {
        context: &context,
        input: &input,
        intents: &intents,
        entities: &entities,
        system: &system,
        ..Scope::empty()
    };
    for dialect in [Dialect::Builder, Dialect::Watson] {
        if let Ok(e) = Expression::parse(src, dialect) {
            let _ = e.evaluate(&scope);
            let _ = e.condition(&scope);
            // What is written back parses again, to the same tree. (One known exception: the
            // grammar reads `\'` inside a string as an escaped quote in both dialects, while
            // SpEL has no escapes, so a Watson string with a backslash before a quote cannot be
            // written back. No real workspace has one; docs/testing.md notes it.)
            let shown = e.display();
            if dialect == Dialect::Watson && shown.contains("\\'") {
                continue;
            }
            match Expression::parse(&shown, dialect) {
                Ok(again) => assert_eq!(
                    again.display(),
                    shown,
                    "{src:?} was written back as {shown:?}, which reads differently"
                ),
                Err(err) => {
                    panic!("{src:?} was written back as {shown:?}, which does not parse: {err}")
                }
            }
        }
    }
}

/// Bytes as a template: rendering returns, never panics, and a single segment of plain text
/// around no `<?` renders to itself.
pub fn template(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let context = json!({ "x": "<? $x ?>", "n": 2 });
    let scope = Scope {
        context: &context,
        ..Scope::empty()
    };
    for dialect in [Dialect::Builder, Dialect::Watson] {
        let r = render(src, dialect, &scope);
        if !src.contains("<?") {
            assert_eq!(r.ok(), Some(Value::String(src.to_owned())), "{src:?}");
        }
    }
}

/// The event a byte picks, with a second byte for its content.
fn event(kind: u8, arg: u8) -> Event {
    let text = ["oi", "2", "529.982.247-25", "1", "", "quero um atendente"][usize::from(arg % 6)];
    match kind % 12 {
        0 => Event::Start {
            channel: None,
            context: None,
            contact: None,
        },
        1..=3 => Event::User {
            text: text.into(),
            intent: None,
            entities: None,
            confidence: None,
        },
        4 => Event::AgentJoin {
            name: ["Carla", "Ana"][usize::from(arg % 2)].into(),
            avatar: None,
            representative_type: None,
        },
        5 => Event::AgentMessage {
            text: text.into(),
            content: None,
        },
        6 => Event::AgentClose { wrap_up: None },
        7 => Event::UserClose { reason: None },
        8 => Event::ProviderOpened {
            remote_id: format!("r{arg}"),
            result: None,
        },
        9 => Event::ProviderError {
            message: "HTTP 503".into(),
        },
        10 => Event::AgentTransfer { to: "fila".into() },
        _ => Event::Advance {
            seconds: u64::from(arg) * 10,
        },
    }
}

/// A flow (one of the shipped ones, picked by the first byte) and an event stream from the
/// rest: the engine keeps its invariants.
///
/// - a chat closes at most once, and only while it is open or requested (or, out of hours,
///   as it is refused);
/// - the bot says nothing while a chat is open;
/// - an event refused as unexpected changes nothing;
/// - a session saved and restored at any point continues exactly as the original.
pub fn engine(bots: &[Bot], data: &[u8]) {
    let Some((&pick, events)) = data.split_first() else {
        return;
    };
    let Some(bot) = bots.get(usize::from(pick) % bots.len().max(1)) else {
        return;
    };
    let mut s = bot.new_session("fuzz");
    let mut now = 1_795_453_200_000i64;
    for pair in events.chunks(2).take(64) {
        let (kind, arg) = (pair[0], pair.get(1).copied().unwrap_or(0));
        let e = event(kind, arg);
        now = e.clock_after(now);
        // A chat is open (or being opened) when the turn starts with one.
        let mut open = s.live_chat().is_some();
        let before = serde_json::to_string(&s).expect("a session serialises");
        let mut twin = bot.restore(&before).expect("a saved session restores");
        let out = bot.handle(&mut s, e.clone(), now);
        let twin_out = bot.handle(&mut twin, e, now);
        assert_eq!(out, twin_out, "a restored session answers the same");
        let refused = matches!(out.as_slice(), [Output::Error { code, .. }] if code.code() == "unexpected_event");
        if refused {
            let after = serde_json::to_string(&s).expect("serialises");
            assert_eq!(before, after, "a refused event changed the session");
        }
        for o in &out {
            match o {
                Output::HandoffRequested { .. } => open = true,
                // Out of hours the chat is refused before it opens: a close with no request.
                Output::LiveChatClosed {
                    status: CloseStatus::OutOfHours,
                    ..
                } => assert!(!open, "an open chat closed as out of hours: {out:?}"),
                Output::LiveChatClosed { .. } => {
                    assert!(
                        open,
                        "a chat closed that was not open (or closed twice): {out:?}"
                    );
                    open = false;
                }
                // A new `start` during a chat ends it on the provider's side, without a close
                // status (the conversation was restarted, not closed by anyone in it).
                Output::CloseProviderConversation { .. } => open = false,
                Output::Message {
                    from: Speaker::Bot, ..
                } if open => panic!("the bot spoke during a live chat: {out:?}"),
                _ => {}
            }
        }
    }
}

/// The shipped example flows, loaded once.
pub fn shipped_bots(root: &std::path::Path) -> Vec<Bot> {
    let integ = root.join("flows/integrations.json");
    [
        "simulator",
        "liveperson",
        "zendesk",
        "altu_connector",
        "omni",
        "webex_cc",
    ]
    .iter()
    .filter_map(|name| Bot::from_files(&root.join(format!("flows/{name}.json")), Some(&integ)).ok())
    .collect()
}
