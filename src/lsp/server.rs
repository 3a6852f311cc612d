//! The session: open documents, the message loop, debouncing, cancellation and dispatch.

use super::document::{Document, Encoding};
use super::features::{self, Failure, Snapshot, Workspace};
use super::files::{same_file, uri_to_path};
use super::index::Index;
use super::transport::{self, Incoming};
use super::OptionsFor;
use crate::lint::{lint_bytes, LintOptions, Located, Severity};
use lsp_server::{ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types as lt;
use serde_json::Value as Json;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Time from the last keystroke to the lint run, unless the client sets `debounceMs` in its
/// initialisation options.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// Largest file read from disk for navigation (a test beside a flow, an integrations file).
const MAX_READ: u64 = 64 << 20;

/// An open document and what is known of it.
struct Open {
    uri: lt::Uri,
    path: Option<PathBuf>,
    doc: Document,
    /// The last index that could be built (kept while the text is broken).
    index: Option<Index>,
    /// Findings of the last lint run, and the byte shift of their offsets (a BOM).
    findings: Vec<Located>,
    shift: usize,
    /// When set, the text changed and is analysed at this instant.
    due: Option<Instant>,
}

/// The language server's state.
pub(crate) struct Server<'o> {
    options: Box<OptionsFor>,
    out: &'o mut dyn Write,
    encoding: Encoding,
    debounce: Duration,
    docs: HashMap<String, Open>,
    initialized: bool,
    shutdown: bool,
    queue: VecDeque<Incoming>,
    /// Configuration errors already shown, so each is said once.
    said: HashSet<String>,
}

impl<'o> Server<'o> {
    /// A server writing to `out`.
    pub(crate) fn new(options: Box<OptionsFor>, out: &'o mut dyn Write) -> Server<'o> {
        Server {
            options,
            out,
            encoding: Encoding::Utf16,
            debounce: DEBOUNCE,
            docs: HashMap::new(),
            initialized: false,
            shutdown: false,
            queue: VecDeque::new(),
            said: HashSet::new(),
        }
    }

    /// Handles messages until `exit` or the end of the input. As the protocol asks, ending
    /// without a `shutdown` request first is an error (the process exits with status 1).
    pub(crate) fn run(mut self, incoming: &Receiver<Incoming>) -> Result<(), String> {
        loop {
            if self.queue.is_empty() {
                let next = match self.next_due() {
                    Some(at) => {
                        match incoming.recv_timeout(at.saturating_duration_since(Instant::now())) {
                            Ok(m) => Some(m),
                            Err(RecvTimeoutError::Timeout) => None,
                            Err(RecvTimeoutError::Disconnected) => return self.end(),
                        }
                    }
                    None => match incoming.recv() {
                        Ok(m) => Some(m),
                        Err(_) => return self.end(),
                    },
                };
                self.queue.extend(next);
            }
            // Everything already read is queued, so a cancellation can reach a request that is
            // still waiting.
            while let Ok(m) = incoming.try_recv() {
                self.queue.push_back(m);
            }
            if let Some(m) = self.queue.pop_front() {
                if !self.handle(m).map_err(|e| format!("cannot write: {e}"))? {
                    return self.end();
                }
            }
            self.analyse_due(false)
                .map_err(|e| format!("cannot write: {e}"))?;
        }
    }

    fn end(&self) -> Result<(), String> {
        if self.shutdown {
            Ok(())
        } else {
            Err("the client ended the session without a `shutdown` request".into())
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.docs.values().filter_map(|d| d.due).min()
    }

    /// Handles one message; `false` after `exit`.
    fn handle(&mut self, m: Incoming) -> std::io::Result<bool> {
        let m = match m {
            Incoming::Message(m) => m,
            Incoming::Malformed { id, code, message } => {
                transport::write_error(self.out, id, code, &message)?;
                return Ok(true);
            }
        };
        match m {
            Message::Request(r) => self.request(r)?,
            Message::Notification(n) => return self.notification(n),
            // The server sends no requests, so a response answers nothing.
            Message::Response(_) => {}
        }
        Ok(true)
    }

    fn send(&mut self, m: Message) -> std::io::Result<()> {
        transport::write(self.out, &m)
    }

    fn reply(&mut self, id: RequestId, r: Result<Json, Failure>) -> std::io::Result<()> {
        let resp = match r {
            Ok(v) => Response {
                id,
                response_result: Ok(v),
            },
            Err(f) => Response::new_err(id, f.code as i32, f.message),
        };
        self.send(Message::Response(resp))
    }

    fn request(&mut self, r: Request) -> std::io::Result<()> {
        if r.method == "initialize" {
            let result = self.initialize(r.params);
            return self.reply(r.id, result);
        }
        if !self.initialized {
            let f = Failure {
                code: ErrorCode::ServerNotInitialized,
                message: "the first request must be `initialize`".into(),
            };
            return self.reply(r.id, Err(f));
        }
        if self.shutdown {
            let f = Failure {
                code: ErrorCode::InvalidRequest,
                message: "the server is shutting down".into(),
            };
            return self.reply(r.id, Err(f));
        }
        let result = match r.method.as_str() {
            "shutdown" => {
                self.shutdown = true;
                Ok(Json::Null)
            }
            "textDocument/definition" => self.on_position(r.params, features::definition),
            "textDocument/references" => self.with::<lt::ReferenceParams>(r.params, |s, p| {
                let uri = &p.text_document_position.text_document.uri;
                let snap = s.snapshot(uri)?;
                features::references(
                    &snap,
                    &s.workspace(),
                    p.text_document_position.position,
                    p.context.include_declaration,
                )
            }),
            "textDocument/prepareRename" => self.on_position(r.params, features::prepare_rename),
            "textDocument/rename" => self.with::<lt::RenameParams>(r.params, |s, p| {
                let uri = &p.text_document_position.text_document.uri;
                let snap = s.snapshot(uri)?;
                features::rename(
                    &snap,
                    &s.workspace(),
                    p.text_document_position.position,
                    &p.new_name,
                )
            }),
            "textDocument/completion" => self.with::<lt::CompletionParams>(r.params, |s, p| {
                let uri = &p.text_document_position.text_document.uri;
                let snap = s.snapshot(uri)?;
                features::completion(&snap, &s.workspace(), p.text_document_position.position)
            }),
            "textDocument/hover" => self.on_position(r.params, features::hover),
            "textDocument/codeAction" => self.with::<lt::CodeActionParams>(r.params, |s, p| {
                let snap = s.snapshot(&p.text_document.uri)?;
                features::code_actions(&snap, p.range)
            }),
            "textDocument/documentSymbol" => {
                self.with::<lt::DocumentSymbolParams>(r.params, |s, p| {
                    let snap = s.snapshot(&p.text_document.uri)?;
                    features::symbols(&snap)
                })
            }
            other => Err(Failure {
                code: ErrorCode::MethodNotFound,
                message: format!("fluxo lsp does not handle `{other}`"),
            }),
        };
        self.reply(r.id, result)
    }

    /// Runs a handler over its parsed parameters; a document the request names is analysed
    /// first when its text changed.
    fn with<P: serde::de::DeserializeOwned>(
        &mut self,
        params: Json,
        f: impl FnOnce(&Server<'o>, P) -> Result<Json, Failure>,
    ) -> Result<Json, Failure> {
        let p: P = serde_json::from_value(params.clone()).map_err(|e| Failure {
            code: ErrorCode::InvalidParams,
            message: format!("invalid parameters: {e}"),
        })?;
        if let Some(uri) = params
            .pointer("/textDocument/uri")
            .and_then(Json::as_str)
            .map(str::to_owned)
        {
            if self.docs.get(&uri).is_some_and(|d| d.due.is_some()) {
                self.analyse(&uri).map_err(|e| Failure {
                    code: ErrorCode::InternalError,
                    message: format!("cannot write: {e}"),
                })?;
            }
        }
        f(self, p)
    }

    fn on_position(
        &mut self,
        params: Json,
        f: fn(&Snapshot<'_>, &Workspace<'_>, lt::Position) -> Result<Json, Failure>,
    ) -> Result<Json, Failure> {
        self.with::<lt::TextDocumentPositionParams>(params, |s, p| {
            let snap = s.snapshot(&p.text_document.uri)?;
            f(&snap, &s.workspace(), p.position)
        })
    }

    fn snapshot(&self, uri: &lt::Uri) -> Result<Snapshot<'_>, Failure> {
        let open = self.docs.get(uri.as_str()).ok_or_else(|| Failure {
            code: ErrorCode::InvalidParams,
            message: format!("{} is not open", uri.as_str()),
        })?;
        Ok(Snapshot {
            uri: &open.uri,
            path: open.path.as_deref(),
            doc: &open.doc,
            index: open.index.as_ref(),
            findings: &open.findings,
            shift: open.shift,
            encoding: self.encoding,
        })
    }

    fn workspace(&self) -> Workspace<'_> {
        Workspace {
            read: Box::new(|path: &Path| self.text_of(path)),
        }
    }

    /// The text of a file: the open document's when it is open, else what is on disk.
    fn text_of(&self, path: &Path) -> Option<String> {
        if let Some(o) = self
            .docs
            .values()
            .find(|o| o.path.as_deref().is_some_and(|p| same_file(p, path)))
        {
            return Some(o.doc.text.clone());
        }
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() || meta.len() > MAX_READ {
            return None;
        }
        std::fs::read_to_string(path).ok()
    }

    fn initialize(&mut self, params: Json) -> Result<Json, Failure> {
        let p: lt::InitializeParams = serde_json::from_value(params).map_err(|e| Failure {
            code: ErrorCode::InvalidParams,
            message: format!("invalid parameters: {e}"),
        })?;
        let offered = p
            .capabilities
            .general
            .and_then(|g| g.position_encodings)
            .unwrap_or_default();
        // UTF-8 costs nothing to convert; UTF-32 is what `fluxo lint` counts; UTF-16 is the
        // protocol's default and what every client supports.
        let (encoding, kind) = if offered.contains(&lt::PositionEncodingKind::UTF8) {
            (Encoding::Utf8, lt::PositionEncodingKind::UTF8)
        } else if offered.contains(&lt::PositionEncodingKind::UTF32) {
            (Encoding::Utf32, lt::PositionEncodingKind::UTF32)
        } else {
            (Encoding::Utf16, lt::PositionEncodingKind::UTF16)
        };
        self.encoding = encoding;
        if let Some(ms) = p
            .initialization_options
            .as_ref()
            .and_then(|o| o.get("debounceMs"))
            .and_then(Json::as_u64)
        {
            self.debounce = Duration::from_millis(ms.min(10_000));
        }
        self.initialized = true;
        let capabilities = lt::ServerCapabilities {
            position_encoding: Some(kind),
            text_document_sync: Some(lt::TextDocumentSyncCapability::Options(
                lt::TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(lt::TextDocumentSyncKind::INCREMENTAL),
                    save: Some(lt::TextDocumentSyncSaveOptions::Supported(true)),
                    ..Default::default()
                },
            )),
            definition_provider: Some(lt::OneOf::Left(true)),
            references_provider: Some(lt::OneOf::Left(true)),
            rename_provider: Some(lt::OneOf::Right(lt::RenameOptions {
                prepare_provider: Some(true),
                work_done_progress_options: Default::default(),
            })),
            completion_provider: Some(lt::CompletionOptions {
                trigger_characters: Some([".", "\"", "$", "'", " "].map(str::to_owned).to_vec()),
                ..Default::default()
            }),
            hover_provider: Some(lt::HoverProviderCapability::Simple(true)),
            code_action_provider: Some(lt::CodeActionProviderCapability::Options(
                lt::CodeActionOptions {
                    code_action_kinds: Some(vec![lt::CodeActionKind::QUICKFIX]),
                    ..Default::default()
                },
            )),
            document_symbol_provider: Some(lt::OneOf::Left(true)),
            ..Default::default()
        };
        let result = lt::InitializeResult {
            capabilities,
            server_info: Some(lt::ServerInfo {
                name: "fluxo".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
        };
        serde_json::to_value(result).map_err(|e| Failure {
            code: ErrorCode::InternalError,
            message: e.to_string(),
        })
    }

    fn notification(&mut self, n: Notification) -> std::io::Result<bool> {
        if n.method == "exit" {
            return Ok(false);
        }
        if !self.initialized {
            return Ok(true);
        }
        // A notification's parameters that do not parse are ignored: there is nobody to answer.
        match n.method.as_str() {
            "textDocument/didOpen" => {
                if let Ok(p) = serde_json::from_value::<lt::DidOpenTextDocumentParams>(n.params) {
                    let d = p.text_document;
                    let key = d.uri.as_str().to_owned();
                    let path = uri_to_path(d.uri.as_str());
                    self.docs.insert(
                        key.clone(),
                        Open {
                            uri: d.uri,
                            path,
                            doc: Document::new(d.text, d.version),
                            index: None,
                            findings: Vec::new(),
                            shift: 0,
                            due: None,
                        },
                    );
                    self.analyse(&key)?;
                }
            }
            "textDocument/didChange" => {
                if let Ok(p) = serde_json::from_value::<lt::DidChangeTextDocumentParams>(n.params) {
                    let due = Instant::now() + self.debounce;
                    let enc = self.encoding;
                    if let Some(o) = self.docs.get_mut(p.text_document.uri.as_str()) {
                        for c in p.content_changes {
                            o.doc.apply(c, enc);
                        }
                        o.doc.version = p.text_document.version;
                        o.due = Some(due);
                    }
                }
            }
            "textDocument/didClose" => {
                if let Ok(p) = serde_json::from_value::<lt::DidCloseTextDocumentParams>(n.params) {
                    if let Some(o) = self.docs.remove(p.text_document.uri.as_str()) {
                        self.publish(o.uri, Vec::new(), None)?;
                    }
                }
            }
            // A saved file may be the `fluxo.toml`, the integrations or a test other documents
            // depend on: every open document is linted again.
            "textDocument/didSave" | "workspace/didChangeWatchedFiles" => {
                let now = Instant::now();
                for o in self.docs.values_mut() {
                    o.due = Some(now);
                }
            }
            "$/cancelRequest" => {
                if let Ok(p) = serde_json::from_value::<lt::CancelParams>(n.params) {
                    let id: RequestId = match p.id {
                        lt::NumberOrString::Number(n) => n.into(),
                        lt::NumberOrString::String(s) => s.into(),
                    };
                    let waiting = self.queue.iter().position(
                        |m| matches!(m, Incoming::Message(Message::Request(r)) if r.id == id),
                    );
                    if let Some(i) = waiting {
                        self.queue.remove(i);
                        let f = Failure {
                            code: ErrorCode::RequestCanceled,
                            message: "cancelled".into(),
                        };
                        self.reply(id, Err(f))?;
                    }
                }
            }
            _ => {}
        }
        Ok(true)
    }

    /// Analyses every document whose debounce has run out (all pending ones when `all`).
    fn analyse_due(&mut self, all: bool) -> std::io::Result<()> {
        let now = Instant::now();
        let due: Vec<String> = self
            .docs
            .iter()
            .filter(|(_, o)| o.due.is_some_and(|d| all || d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in due {
            self.analyse(&k)?;
        }
        Ok(())
    }

    /// Lints and indexes one document, and publishes its diagnostics.
    fn analyse(&mut self, key: &str) -> std::io::Result<()> {
        let Some(o) = self.docs.get(key) else {
            return Ok(());
        };
        let shown = o
            .path
            .as_ref()
            .map_or_else(|| key.to_owned(), |p| p.display().to_string());
        let opts = match &o.path {
            Some(p) => match (self.options)(p) {
                Ok(opts) => opts,
                Err(e) => {
                    if self.said.insert(e.clone()) {
                        let params = lt::ShowMessageParams {
                            typ: lt::MessageType::ERROR,
                            message: e,
                        };
                        self.notify("window/showMessage", params)?;
                    }
                    LintOptions::default()
                }
            },
            None => LintOptions::default(),
        };
        let Some(o) = self.docs.get_mut(key) else {
            return Ok(());
        };
        let report = lint_bytes(&shown, o.doc.text.as_bytes(), &opts);
        // A file that is not a fluxo file gets no diagnostics, as in `fluxo lint DIR`.
        let foreign = report.kind.is_none() && report.findings.iter().all(|f| f.code == "schema");
        o.findings = if foreign { Vec::new() } else { report.findings };
        o.shift = if o.doc.text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        if let Some(index) = Index::build(&o.doc.text) {
            o.index = Some(index);
        }
        o.due = None;
        let enc = self.encoding;
        let diagnostics: Vec<lt::Diagnostic> = o
            .findings
            .iter()
            .map(|f| diagnostic(&o.doc, &o.uri, f, o.shift, enc))
            .collect();
        let (uri, version) = (o.uri.clone(), o.doc.version);
        self.publish(uri, diagnostics, Some(version))
    }

    fn publish(
        &mut self,
        uri: lt::Uri,
        diagnostics: Vec<lt::Diagnostic>,
        version: Option<i32>,
    ) -> std::io::Result<()> {
        let params = lt::PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        };
        self.notify("textDocument/publishDiagnostics", params)
    }

    fn notify(&mut self, method: &str, params: impl serde::Serialize) -> std::io::Result<()> {
        let params = serde_json::to_value(params).unwrap_or(Json::Null);
        self.send(Message::Notification(Notification {
            method: method.into(),
            params,
        }))
    }
}

/// A finding as an LSP diagnostic.
fn diagnostic(
    doc: &Document,
    uri: &lt::Uri,
    f: &Located,
    shift: usize,
    enc: Encoding,
) -> lt::Diagnostic {
    let at = |r: &std::ops::Range<usize>| doc.range(&(r.start + shift..r.end + shift), enc);
    let mut message = f.message.clone();
    if let Some(h) = &f.help {
        message.push_str("\nhelp: ");
        message.push_str(h);
    }
    let related: Vec<lt::DiagnosticRelatedInformation> = f
        .related
        .iter()
        .map(|l| lt::DiagnosticRelatedInformation {
            location: lt::Location::new(uri.clone(), at(&l.range)),
            message: l.message.clone().unwrap_or_default(),
        })
        .collect();
    lt::Diagnostic {
        range: at(&f.range),
        severity: Some(match f.severity {
            Severity::Error => lt::DiagnosticSeverity::ERROR,
            Severity::Warning => lt::DiagnosticSeverity::WARNING,
            Severity::Info => lt::DiagnosticSeverity::INFORMATION,
        }),
        code: Some(lt::NumberOrString::String(f.code.into())),
        source: Some("fluxo".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}
