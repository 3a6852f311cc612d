//! Framing: `Content-Length` headers and JSON bodies, read on their own thread.
//!
//! lsp-server's own stdio transport ends the connection on the first malformed message; an
//! editor server must instead answer it with a JSON-RPC error and keep going, so the framing
//! is read here and only the message types come from lsp-server.

use lsp_server::Message;
use serde_json::Value as Json;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc::{channel, Receiver};

/// Largest message body read (bytes): a 256 MiB flow is also `fluxo lint`'s limit.
const MAX_BODY: usize = 256 << 20;

/// What the reader thread hands to the server.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A well-formed message.
    Message(Message),
    /// A body that is not JSON (`ParseError`) or not a JSON-RPC message (`InvalidRequest`),
    /// with the request id when one could be read.
    Malformed {
        /// The `id` of the body, when it had one.
        id: Option<Json>,
        /// The JSON-RPC error code.
        code: i32,
        /// What was wrong.
        message: String,
    },
}

/// Starts the thread that reads framed messages from `input`. The channel closes at the end of
/// the input or after a framing error that leaves nothing more to read.
pub(crate) fn spawn_reader(input: impl Read + Send + 'static) -> Receiver<Incoming> {
    let (tx, rx) = channel();
    let spawned = std::thread::Builder::new()
        .name("fluxo-lsp-reader".into())
        .spawn(move || {
            let mut input = BufReader::new(input);
            loop {
                let item = match read_frame(&mut input) {
                    Ok(Some(body)) => parse(&body),
                    Ok(None) => break,
                    Err(Frame::Skip(message)) => Incoming::Malformed {
                        id: None,
                        code: lsp_server::ErrorCode::ParseError as i32,
                        message,
                    },
                    Err(Frame::End) => break,
                };
                if tx.send(item).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("fluxo lsp: cannot start the reader thread: {e}");
    }
    rx
}

/// A framing problem.
enum Frame {
    /// The frame was consumed and is reported; reading goes on.
    Skip(String),
    /// The input ended or failed.
    End,
}

/// Reads one frame's body. `Ok(None)` at the end of the input.
fn read_frame(input: &mut impl BufRead) -> Result<Option<Vec<u8>>, Frame> {
    let mut length: Option<usize> = None;
    let mut bad_header = None;
    let mut saw_header = false;
    loop {
        let mut line = Vec::new();
        // Header lines are short; a longer one is garbage, read in bounded pieces.
        let n = input
            .by_ref()
            .take(8 << 10)
            .read_until(b'\n', &mut line)
            .map_err(|_| Frame::End)?;
        if n == 0 {
            return if saw_header {
                Err(Frame::End)
            } else {
                Ok(None)
            };
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if !saw_header {
                // Blank lines between messages are tolerated.
                continue;
            }
            break;
        }
        saw_header = true;
        match text.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                match value.trim().parse::<usize>() {
                    Ok(v) => length = Some(v),
                    Err(_) => bad_header = Some(format!("bad Content-Length: {:?}", value.trim())),
                }
            }
            Some(_) => {}
            None => bad_header = Some(format!("malformed header line: {text:?}")),
        }
    }
    if let Some(message) = bad_header {
        return Err(Frame::Skip(message));
    }
    let Some(length) = length else {
        return Err(Frame::Skip("a message without Content-Length".into()));
    };
    if length > MAX_BODY {
        // The body cannot be skipped safely without reading it; skip it in bounded pieces.
        let skipped = std::io::copy(
            &mut input.by_ref().take(length as u64),
            &mut std::io::sink(),
        )
        .map_err(|_| Frame::End)?;
        if skipped < length as u64 {
            return Err(Frame::End);
        }
        return Err(Frame::Skip(format!(
            "a message of {length} bytes is larger than the {} MiB limit",
            MAX_BODY >> 20
        )));
    }
    let mut body = Vec::new();
    input
        .by_ref()
        .take(length as u64)
        .read_to_end(&mut body)
        .map_err(|_| Frame::End)?;
    if body.len() < length {
        return Err(Frame::End);
    }
    Ok(Some(body))
}

/// A body to a message, or the error to answer it with.
fn parse(body: &[u8]) -> Incoming {
    let value: Json = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Incoming::Malformed {
                id: None,
                code: lsp_server::ErrorCode::ParseError as i32,
                message: format!("the message is not JSON: {e}"),
            }
        }
    };
    let id = value.get("id").cloned();
    match serde_json::from_value::<Message>(value) {
        Ok(m) => Incoming::Message(m),
        Err(e) => Incoming::Malformed {
            id,
            code: lsp_server::ErrorCode::InvalidRequest as i32,
            message: format!("not a JSON-RPC request, response or notification: {e}"),
        },
    }
}

/// Writes one message.
pub(crate) fn write(out: &mut dyn Write, message: &Message) -> std::io::Result<()> {
    let text = serde_json::to_string(&Wire {
        jsonrpc: "2.0",
        message,
    })?;
    write_raw(out, &text)
}

/// Writes the error answer to a malformed message (`id` is `null` when it had none).
pub(crate) fn write_error(
    out: &mut dyn Write,
    id: Option<Json>,
    code: i32,
    message: &str,
) -> std::io::Result<()> {
    // A request id is a number or a string; anything else is answered with `null`.
    let id = id
        .filter(|i| i.is_number() || i.is_string())
        .unwrap_or(Json::Null);
    let text = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code, "message": message },
    })
    .to_string();
    write_raw(out, &text)
}

#[derive(serde::Serialize)]
struct Wire<'a> {
    jsonrpc: &'static str,
    #[serde(flatten)]
    message: &'a Message,
}

fn write_raw(out: &mut dyn Write, text: &str) -> std::io::Result<()> {
    write!(out, "Content-Length: {}\r\n\r\n{text}", text.len())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &str) -> Vec<String> {
        let mut r = BufReader::new(input.as_bytes());
        let mut out = Vec::new();
        loop {
            match read_frame(&mut r) {
                Ok(Some(b)) => out.push(format!("ok {}", String::from_utf8_lossy(&b))),
                Ok(None) => break,
                Err(Frame::Skip(m)) => out.push(format!("skip {m}")),
                Err(Frame::End) => {
                    out.push("end".into());
                    break;
                }
            }
        }
        out
    }

    #[test]
    fn framing_survives_garbage_and_goes_on() {
        let input = "Content-Length: 2\r\n\r\n{}garbage line\r\n\r\nContent-Length: x\r\n\r\nContent-Length: 4\r\n\r\nnull";
        assert_eq!(
            frames(input),
            [
                "ok {}",
                "skip malformed header line: \"garbage line\"",
                "skip bad Content-Length: \"x\"",
                "ok null"
            ]
        );
    }

    #[test]
    fn a_truncated_body_ends_the_input() {
        assert_eq!(frames("Content-Length: 10\r\n\r\n{}"), ["end"]);
    }

    #[test]
    fn bodies_that_are_not_messages_are_answered() {
        assert!(matches!(
            parse(b"{"),
            Incoming::Malformed { code: -32700, .. }
        ));
        assert!(matches!(
            parse(br#"{"id": 3, "method": 5}"#),
            Incoming::Malformed {
                code: -32600,
                id: Some(_),
                ..
            }
        ));
    }
}
