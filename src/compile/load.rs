//! The loading pipeline, shared by the linter and the engine: bytes → text → JSON with ranges →
//! schema → typed model → compiled flow. [`load_flow`] runs the stages only (no semantic rule)
//! and keeps the findings that make a file impossible to run.

use super::{compile, Builder, CompileOptions, CompiledFlow, ExpressionSyntax};
use super::{free::FreeNode, NodeHead, NodeIn};
use crate::diagnostic::{Diagnostic, Located, Location, Rule, RuleMeta, Severity};
use crate::error::{Error, ErrorKind};
use crate::model::{FileKind, Flow, IntegrationsFile};
use crate::schema::{self, Schema, SchemaKind};
use crate::source::json::{self, DuplicateKey, JsonSyntax};
use crate::source::SourceFile;
use serde_json::Value as Json;

/// The rules whose findings (at error level) make a file impossible to run. All are stage
/// rules: no semantic rule ever blocks running.
pub fn blocking() -> [&'static RuleMeta; 4] {
    [
        JsonSyntax::meta(),
        DuplicateKey::meta(),
        Schema::meta(),
        ExpressionSyntax::meta(),
    ]
}

fn is_blocking(d: &Diagnostic) -> bool {
    d.severity == Severity::Error && blocking().iter().any(|r| std::ptr::eq(*r, d.rule))
}

/// A file read through the first stages: its text, value and kind.
pub struct Read {
    /// The file as read (after BOM removal).
    pub source: SourceFile,
    /// The text the value was read from, when repairs were applied (in place; same length as
    /// the file); `None` when it is the file's text.
    pub parsed_text: Option<String>,
    /// The value, when the text is JSON.
    pub value: Option<Json>,
    /// What kind of file it is, when recognised.
    pub kind: Option<FileKind>,
    /// Findings of the syntax stage.
    pub diagnostics: Vec<Diagnostic>,
}

/// Decodes and parses `bytes`.
pub fn read(path: &str, bytes: &[u8]) -> Read {
    let decoded = json::decode(bytes);
    let mut diagnostics = decoded.diagnostics;
    if !decoded.usable {
        return Read {
            source: SourceFile::new(path, decoded.text),
            parsed_text: None,
            value: None,
            kind: None,
            diagnostics,
        };
    }
    let loaded = json::load(&decoded.text);
    diagnostics.extend(loaded.diagnostics);
    let kind = loaded.value.as_ref().and_then(FileKind::of);
    Read {
        source: SourceFile::new(path, decoded.text),
        parsed_text: loaded.text,
        value: loaded.value,
        kind,
        diagnostics,
    }
}

impl Read {
    /// Resolves findings to positions in this file.
    pub fn locate(&self, diags: Vec<Diagnostic>) -> Vec<Located> {
        let parsed = self.parsed_text.as_deref().unwrap_or(&self.source.text);
        self.source.locate(parsed, diags)
    }
}

/// The typed model of a flow value the schema stage has seen (`schema` holds its findings):
/// the value is consumed, so strings and subtrees move into the model rather than being
/// copied. Nodes with schema findings are salvaged field by field; a node the schema accepts
/// but the model refuses becomes a finding.
pub(crate) fn flow_model(
    value: Json,
    schema: &[Diagnostic],
) -> Option<(Flow, Vec<usize>, Vec<Diagnostic>)> {
    let suspect: std::collections::HashSet<usize> = schema
        .iter()
        .filter_map(|d| {
            let rest = d.primary.location.pointer().strip_prefix("/nodes/")?;
            rest.split('/').next()?.parse().ok()
        })
        .collect();
    let (flow, positions, refused) = Flow::from_value_owned(value, |i| suspect.contains(&i))?;
    let findings = refused
        .into_iter()
        .map(|(i, why)| {
            Diagnostic::new::<Schema>(
                Location::Value(format!("/nodes/{i}")),
                format!("this node cannot be read: {why}"),
            )
        })
        .collect();
    Some((flow, positions, findings))
}

/// The typed read, compiled as it is read: a flow deserialised straight from its text, node by
/// node, each node compiled as soon as it is read, without the `serde_json::Value` tree and
/// without the schema pass. The model accepts exactly what the JSON stage (strict JSON, no
/// duplicate key) and the schema accept (tests check both), so a flow this returns has no
/// finding from those stages; `None` sends the file down the full path, which explains what is
/// wrong. `each(i, node, at)` sees node `i` of the file, which starts at byte `at`, before it
/// is compiled.
pub(crate) fn typed_compile(
    text: &[u8],
    opts: CompileOptions,
    each: impl FnMut(usize, NodeHead<'_>, usize),
) -> Option<CompiledFlow> {
    // A JSON text is UTF-8: a file that is not has no typed read.
    typed_compile_text(std::str::from_utf8(text).ok()?, opts, each)
}

/// [`typed_compile`] of a text known to be UTF-8: its strings are not checked again one by one.
pub(crate) fn typed_compile_text(
    text: &str,
    opts: CompileOptions,
    each: impl FnMut(usize, NodeHead<'_>, usize),
) -> Option<CompiledFlow> {
    typed_read::<FreeNode>(&mut Reader::of_slice(text), Builder::new(opts), each)
}

/// [`typed_compile`] of a regular file of `len` bytes (as its caller found it) read a window at
/// a time ([`load_flow_streamed`], and the linter's read of a large file): the file is never
/// whole in memory beside its compiled flow, whose tables are reserved from `len`. `each` sees
/// each node's offset in the file. `None` when the typed read refuses the file (or a read
/// fails): the caller reads the file whole for the full path.
pub(crate) fn typed_compile_file(
    file: &mut std::fs::File,
    len: u64,
    opts: CompileOptions,
    each: impl FnMut(usize, NodeHead<'_>, usize),
) -> Option<CompiledFlow> {
    let mut b = Builder::new(opts);
    b.reserve_for(usize::try_from(len).unwrap_or(0));
    typed_read::<FreeNode>(&mut Reader::of_file(file), b, each)
}

/// [`typed_compile`] over a [`Reader`]: the top level and the list of nodes are walked here,
/// each value in them read by `serde_json` from where it starts, so that a file can be read a
/// window at a time. The refusals are those of the model's own `Deserialize`: an unknown or
/// repeated field, `nodes` missing, anything after the closing brace. One difference, which
/// only a file nested more than a hundred levels deep can see: `serde_json`'s depth limit (128)
/// counts from each node instead of from the file's top.
fn typed_read<N: NodeIn>(
    r: &mut Reader<'_>,
    mut b: Builder,
    mut each: impl FnMut(usize, NodeHead<'_>, usize),
) -> Option<CompiledFlow> {
    #[derive(Clone, Copy, serde::Deserialize)]
    #[serde(field_identifier, rename_all = "snake_case")]
    enum Field {
        #[serde(rename = "$schema")]
        Schema,
        Name,
        Description,
        StartContext,
        CustomActions,
        Nodes,
    }
    let (mut name, mut start_context, mut custom_actions) = (None, Vec::new(), Vec::new());
    let mut seen = [false; 6];
    r.expect(b'{')?;
    if !r.eat(b'}') {
        loop {
            let field: Field = r.value()?;
            r.expect(b':')?;
            let slot = field as usize;
            if std::mem::replace(&mut seen[slot], true) {
                return None;
            }
            match field {
                Field::Schema | Field::Description => {
                    r.value::<Option<String>>()?;
                }
                Field::Name => name = r.value()?,
                Field::StartContext => start_context = r.value()?,
                Field::CustomActions => custom_actions = r.value()?,
                Field::Nodes => {
                    r.expect(b'[')?;
                    if !r.eat(b']') {
                        let mut i = 0;
                        loop {
                            r.skip_space();
                            let at = r.base + r.at;
                            let node: N = r.value()?;
                            each(i, node.head(), at);
                            b.push(node, i);
                            i += 1;
                            if !r.eat(b',') {
                                r.expect(b']')?;
                                break;
                            }
                        }
                    }
                }
            }
            if !r.eat(b',') {
                r.expect(b'}')?;
                break;
            }
        }
    }
    r.skip_space();
    if !seen[Field::Nodes as usize] || r.at != r.buf.len() || r.broken {
        return None;
    }
    // The file's window is not kept while the flow is finished.
    r.buf = std::borrow::Cow::Borrowed("");
    r.at = 0;
    Some(b.finish(name, start_context, custom_actions))
}

/// A position in a JSON text, for [`typed_read`]: the text is a slice, or a window on a file
/// that moves on as the text is read. The text is UTF-8, checked once (a window's bytes as they
/// are read), so `serde_json` reads it as a `str` and does not check each string again.
struct Reader<'a> {
    /// The text, or the window of the file from where it was last moved on.
    buf: std::borrow::Cow<'a, str>,
    /// The position in `buf`.
    at: usize,
    /// The offset in the file of `buf`'s first byte (what the window has moved past).
    base: usize,
    /// The file the window reads, until its end (or a read error, which the full path, reading
    /// the file again, then reports).
    file: Option<&'a mut std::fs::File>,
    /// The bytes read from the file and not yet in the window: the start of a character the
    /// last read cut.
    pending: Vec<u8>,
    /// The file is not UTF-8 (or ends inside a character): the typed read refuses it, and the
    /// full path says where.
    broken: bool,
}

/// How much of a file a window reads at least at a time (less in tests, whose files then span
/// many windows while staying small).
pub(crate) const WINDOW: usize = if cfg!(test) { 1 << 16 } else { 1 << 18 };

impl<'a> Reader<'a> {
    fn of_slice(text: &'a str) -> Reader<'a> {
        Reader {
            buf: std::borrow::Cow::Borrowed(text),
            at: 0,
            base: 0,
            file: None,
            pending: Vec::new(),
            broken: false,
        }
    }

    fn of_file(file: &'a mut std::fs::File) -> Reader<'a> {
        Reader {
            buf: std::borrow::Cow::Owned(String::new()),
            at: 0,
            base: 0,
            file: Some(file),
            pending: Vec::new(),
            broken: false,
        }
    }

    /// Reads more of the file into the window, dropping what is behind the position; false at
    /// the end of the file (or of a slice). The window reads at least as much again as it holds
    /// ahead of the position, so a value larger than the window is read again only a
    /// logarithmic number of times.
    fn more(&mut self) -> bool {
        use std::io::Read as _;
        let Some(file) = self.file.as_deref_mut() else {
            return false;
        };
        let buf = self.buf.to_mut();
        // The position is always just past ASCII (whitespace, punctuation or the end of a
        // value), so on a character boundary.
        if !buf.is_char_boundary(self.at) {
            self.broken = true;
            self.file = None;
            return false;
        }
        buf.drain(..self.at);
        self.base += self.at;
        self.at = 0;
        let mut bytes = std::mem::take(&mut self.pending);
        let carried = bytes.len();
        bytes.resize(carried + buf.len().max(WINDOW), 0);
        let read = loop {
            match file.read(&mut bytes[carried..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                r => break r.unwrap_or(0),
            }
        };
        bytes.truncate(carried + read);
        if read == 0 {
            self.file = None;
            // The file ends inside a character.
            self.broken |= !bytes.is_empty();
            return false;
        }
        self.pending = bytes.split_off(cut_character(&bytes));
        match std::str::from_utf8(&bytes) {
            Ok(text) => {
                buf.push_str(text);
                true
            }
            Err(_) => {
                self.broken = true;
                self.file = None;
                false
            }
        }
    }

    /// Moves past JSON whitespace.
    fn skip_space(&mut self) {
        loop {
            while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.buf.as_bytes().get(self.at) {
                self.at += 1;
            }
            if self.at < self.buf.len() || !self.more() {
                return;
            }
        }
    }

    /// Moves past `byte` (after whitespace) when it is next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.buf.as_bytes().get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// Reads the value that starts here (after whitespace). A value that the window cuts, or
    /// that ends where the window ends (a number could go on), is read again from a larger one.
    fn value<T: serde::de::DeserializeOwned>(&mut self) -> Option<T> {
        loop {
            let rest = self.buf.get(self.at..)?;
            let mut values = serde_json::Deserializer::from_str(rest).into_iter::<T>();
            let complete = match values.next() {
                Some(Ok(v)) if values.byte_offset() < rest.len() || self.file.is_none() => {
                    self.at += values.byte_offset();
                    return Some(v);
                }
                Some(Ok(_)) => true,
                Some(Err(e)) if !e.is_eof() => return None,
                Some(Err(_)) | None => false,
            };
            // At the end of the file, a complete value is taken on the next turn.
            if !self.more() && !complete {
                return None;
            }
        }
    }
}

/// Where a character that `bytes` cuts at its end starts (`bytes.len()` when none is cut).
fn cut_character(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let at = bytes.len() - back;
        let b = bytes[at];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: the character starts further back
        }
        let length = match b {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if length > back { at } else { bytes.len() };
    }
    bytes.len()
}

/// Whether the typed read accepts `text` (the tests compare it with the full path).
#[cfg(test)]
pub(crate) fn typed_accepts(text: &[u8]) -> bool {
    typed_compile(text, CompileOptions::default(), |_, _, _| {}).is_some()
}

/// Reads a flow to run it: syntax, schema, model, compile — without the semantic rules, parsing
/// and compiling once. The findings that make the flow impossible to run come back located, in
/// an [`ErrorKind::InvalidFlow`] error.
pub fn load_flow(path: &str, bytes: &[u8]) -> Result<CompiledFlow, Error> {
    // The fast path: a file the typed read accepts has no finding from the JSON and schema
    // stages (a byte-order mark is not JSON, so such a file is not accepted), and only the
    // compiler can still block it. A blocked file takes the full path, which locates why.
    if let Some(c) = typed_compile(bytes, CompileOptions::default(), |_, _, _| {}) {
        if !c.diagnostics.iter().any(is_blocking) {
            return Ok(c);
        }
    }
    load_flow_full(path, bytes)
}

/// Loads a flow file the way [`load_flow`] loads bytes, reading the file a window at a time:
/// each node is compiled from the window and the window moves on, so the file is never whole in
/// memory beside its compiled flow. `Ok(None)` when the typed read refuses the file or the
/// compiler blocks it, and for a file that is not a regular file (a pipe can be read only
/// once): the caller reads the file whole, for the full path, which explains why.
pub(crate) fn load_flow_streamed(path: &std::path::Path) -> Result<Option<CompiledFlow>, Error> {
    let mut file = std::fs::File::open(path).map_err(|e| {
        Error::new(ErrorKind::Io, format!("{}: {e}", path.display())).with_source(e)
    })?;
    // A pipe (`fluxo run <(…)`, `/dev/stdin`) can be read only once: it is read whole.
    let len = match file.metadata() {
        Ok(m) if m.is_file() => m.len(),
        _ => return Ok(None),
    };
    let compiled = typed_compile_file(&mut file, len, CompileOptions::default(), |_, _, _| {});
    Ok(compiled.filter(|c| !c.diagnostics.iter().any(is_blocking)))
}

/// The full path of [`load_flow`]: every stage on the JSON tree, with the findings located.
pub(crate) fn load_flow_full(path: &str, bytes: &[u8]) -> Result<CompiledFlow, Error> {
    let mut r = read(path, bytes);
    let mut diags: Vec<Diagnostic> = r
        .diagnostics
        .iter()
        .filter(|d| is_blocking(d))
        .cloned()
        .collect();
    let mut compiled = None;
    match (r.value.take(), r.kind) {
        (Some(value), Some(FileKind::Flow)) => {
            let found = schema::validate(SchemaKind::Flow, &value);
            let model = flow_model(value, &found);
            diags.extend(found);
            if let Some((flow, positions, refused)) = model {
                diags.extend(refused);
                let c = compile(flow, &positions, CompileOptions::default());
                diags.extend(c.diagnostics.iter().filter(|d| is_blocking(d)).cloned());
                compiled = Some(c);
            }
        }
        (Some(_), kind) => diags.push(Diagnostic::new::<Schema>(
            Location::Raw(0..0),
            match kind {
                Some(FileKind::Watson) => "this is a Watson Assistant workspace, not a flow: run it with the Watson runtime".to_string(),
                Some(other) => format!("this is {}, not a flow: expected an object with `nodes`", other.describe()),
                None => "not a flow: expected an object with `nodes`".to_string(),
            },
        )),
        (None, _) => {}
    }
    diags.retain(is_blocking);
    match compiled {
        Some(c) if diags.is_empty() => Ok(c),
        _ => Err(Error::new(
            ErrorKind::InvalidFlow,
            format!("the flow {path} cannot run"),
        )
        .with_findings(r.locate(diags))),
    }
}

/// Reads an integrations file to run a flow with it: syntax and schema only (the linter's own
/// rules, such as `inline-secret`, never stop a flow from running).
pub fn load_integrations(path: &str, bytes: &[u8]) -> Result<IntegrationsFile, Error> {
    let r = read(path, bytes);
    let mut diags: Vec<Diagnostic> = r
        .diagnostics
        .iter()
        .filter(|d| is_blocking(d))
        .cloned()
        .collect();
    match (&r.value, r.kind) {
        (Some(value), Some(FileKind::Integrations)) => {
            diags.extend(schema::validate(SchemaKind::Integrations, value));
        }
        (Some(_), _) => diags.push(Diagnostic::new::<Schema>(
            Location::Raw(0..0),
            "not an integrations file: expected an object with `integrations`",
        )),
        (None, _) => {}
    }
    diags.retain(is_blocking);
    let parsed = r
        .value
        .as_ref()
        .filter(|_| diags.is_empty())
        .and_then(|v| serde_json::from_value::<IntegrationsFile>(v.clone()).ok());
    match parsed {
        Some(f) => Ok(f),
        None => Err(Error::new(
            ErrorKind::InvalidIntegrations,
            format!("the integrations file {path} cannot be used"),
        )
        .with_findings(r.locate(diags))),
    }
}

#[cfg(test)]
mod free_read {
    use super::{typed_read, Builder, CompileOptions, FreeNode, Reader};
    use crate::model::Node;
    use std::path::Path;

    /// The compiled flow of `text` read with nodes of type `N`, as text.
    fn read<N: super::NodeIn>(text: &str) -> Option<String> {
        let b = Builder::new(CompileOptions {
            keep_sites: true,
            lint_only: false,
        });
        typed_read::<N>(&mut Reader::of_slice(text), b, |_, _, _| {}).map(|c| format!("{c:?}"))
    }

    /// The typed read, which reads context, contact, output messages and events without
    /// `serde_json` maps, accepts and refuses what a read of the model's nodes does, and
    /// compiles to the same flow (literal texts, templates, sites, findings): on every flow of
    /// the project and its tests, and on nodes made to differ in each free-form part.
    #[test]
    fn free_form_parts_compile_as_the_models_do() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut inputs: Vec<(String, String)> = ["flows", "tests"]
            .iter()
            .flat_map(|d| crate::source::json_files_under(&root.join(d)))
            .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(&p).ok()?)))
            .collect();
        let deep = format!("{}1{}", "[".repeat(105), "]".repeat(105));
        let wide = (0..30)
            .map(|i| format!("\"k{i}\": {i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let nodes = [
            r#"{"id": "a", "condition": "start", "context": {"b": 1, "a": [1.5, -0.0, 1e300, 18446744073709551615, -9223372036854775808], "s": "\u00e9\/", "o": {"x": null, "y": true}}}"#.to_owned(),
            r#"{"id": "a", "context": {"t": "<? $x ?>", "l": ["a", {"k": "<? $y + 1 ?>", "n": 1}], "bad": "<? $x +", "lit": {"k": "<? ?>"}}}"#.to_owned(),
            r#"{"id": "a", "contact": {"name": "<? $n ?>"}, "context": null, "output": []}"#.to_owned(),
            r#"{"id": "a", "output": [{"default": {"type": "text", "text": "oi <? $x ?>"}, "whatsapp": {"type": "image", "url": "u", "meta": {"a": [1, 2]}}}]}"#.to_owned(),
            r#"{"id": "a", "responses": [{"condition": "$x", "output": [{"default": {"type": "text", "text": "<? $x ?>"}}]}, {"output": []}]}"#.to_owned(),
            r#"{"id": "a", "events": [{"event_name": "e", "details": {"field1": "<? $x ?>", "field2": {"a": 1}}, "extra1": null, "extra2": [1, "<? $y ?>"]}, {"event_name": "f", "details": null}, {"event_name": "g", "details": {}}]}"#.to_owned(),
            format!(r#"{{"id": "a", "context": {{"deep": {deep}, "t": "<? $x ?>"}}, "output": [{{"d": {{"type": "t", "v": {deep}}}}}]}}"#),
            format!(r#"{{"id": "a", "context": {{{wide}}}}}"#),
            // Refused by both: a key twice (small and large objects, at any depth), a message
            // that is not an object with a string `type`, an unknown field, an array for an
            // object.
            r#"{"id": "a", "context": {"a": 1, "a": 2}}"#.to_owned(),
            r#"{"id": "a", "context": {"o": [{"x": 1, "y": 2, "x": 3}]}}"#.to_owned(),
            format!(r#"{{"id": "a", "context": {{{wide}, "k29": 0}}}}"#),
            r#"{"id": "a", "output": [{"default": {"text": "oi"}}]}"#.to_owned(),
            r#"{"id": "a", "output": [{"default": {"type": 1}}]}"#.to_owned(),
            r#"{"id": "a", "output": [{"default": "oi"}]}"#.to_owned(),
            r#"{"id": "a", "output": [{"default": {"type": "text", "type": "text"}}]}"#.to_owned(),
            r#"{"id": "a", "events": [{"event_name": "e", "details": {"field3": 1}}]}"#.to_owned(),
            r#"{"id": "a", "events": [{"event_name": "e", "extra1": {"a": 1, "a": 1}}]}"#.to_owned(),
            r#"{"id": "a", "events": [["e"]]}"#.to_owned(),
            r#"{"id": "a", "responses": [{"output": [], "else": 1}]}"#.to_owned(),
            r#"{"id": "a", "context": ["a"]}"#.to_owned(),
            r#"["a", null, null, null, {"a": 1}]"#.to_owned(),
        ];
        for (i, node) in nodes.iter().enumerate() {
            inputs.push((format!("node {i}"), format!(r#"{{"nodes": [{node}]}}"#)));
        }
        let (mut read_by_both, mut refused_by_both) = (0, 0);
        for (name, text) in &inputs {
            let free = read::<FreeNode>(text);
            assert_eq!(free, read::<Node>(text), "{name}");
            match free {
                Some(_) => read_by_both += 1,
                None => refused_by_both += 1,
            }
        }
        assert!(
            read_by_both > 20 && refused_by_both > 20,
            "{read_by_both} read, {refused_by_both} refused"
        );
    }
}

#[cfg(test)]
mod streamed {
    use super::{load_flow_streamed, typed_compile, CompileOptions, WINDOW};
    use std::path::PathBuf;

    /// A directory of one test's own, removed when the test ends (the files are megabytes).
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(test: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("fluxo-streamed-{test}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        /// The file `flow.json` in the directory, holding `bytes` (each case overwrites it).
        fn file(&self, bytes: &[u8]) -> PathBuf {
            let path = self.0.join("flow.json");
            std::fs::write(&path, bytes).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The compiled flow of `bytes`, read whole.
    fn whole(bytes: &[u8]) -> Option<String> {
        typed_compile(bytes, CompileOptions::default(), |_, _, _| {}).map(|c| format!("{c:?}"))
    }

    /// A flow file read a window at a time compiles to exactly what the same bytes read whole
    /// compile to: the shipped flows (smaller than one window), a flow of several windows with
    /// nodes cut at every boundary, one value larger than two windows, and whitespace where the
    /// windows meet.
    #[test]
    fn a_file_read_a_window_at_a_time_compiles_as_when_read_whole() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("flows");
        let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&root)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p.to_string_lossy();
                name.ends_with(".json")
                    && !name.ends_with(".test.json")
                    && !name.ends_with("integrations.json")
            })
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        assert!(inputs.len() > 3);
        let node = |i: usize, text: &str| {
            format!(
                r#"{{"id": "n{i}", "condition": "{}", "output": [{{"default": {{"type": "text", "text": "{text} <? $x ?>"}}}}], "next": [{{"goto": "n{}"}}]}}"#,
                if i == 0 { "start" } else { "true" },
                i + 1
            )
        };
        let many: Vec<String> = (0..30_000).map(|i| node(i, "olá")).collect();
        let many = format!(
            r#"{{"name": "big", "nodes": [{}, {{"id": "n30000"}}]}}"#,
            many.join(",\n  ")
        );
        assert!(many.len() > 3 * WINDOW);
        inputs.push(("many".into(), many.into_bytes()));
        let huge = format!(
            r#"{{"nodes": [{}, {{"id": "n1"}}], "start_context": ["a"]}}"#,
            node(0, &"x".repeat(5 * WINDOW / 2))
        );
        inputs.push(("huge".into(), huge.into_bytes()));
        let spaced = format!(
            "{}{{\"nodes\": [{}{}]{}}}{}",
            " ".repeat(WINDOW - 1),
            node(0, "a"),
            " ".repeat(WINDOW),
            "\n".repeat(WINDOW + 3),
            "\t".repeat(WINDOW)
        );
        inputs.push(("spaced".into(), spaced.into_bytes()));
        let dir = Scratch::new("ok");
        for (name, bytes) in &inputs {
            let expected = whole(bytes);
            assert!(expected.is_some(), "{name}");
            let path = dir.file(bytes);
            let streamed = load_flow_streamed(&path).unwrap().map(|c| format!("{c:?}"));
            assert_eq!(streamed, expected, "{name}");
        }
    }

    /// A file the typed read refuses is refused read a window at a time too, wherever the fault
    /// is, so the caller reads it whole and reports it: cut short (inside a string, a number, a
    /// node, between nodes), followed by anything, empty, or not a flow.
    #[test]
    fn a_file_refused_whole_is_refused_a_window_at_a_time() {
        let nodes: Vec<String> = (0..20_000)
            .map(|i| format!(r#"{{"id": "n{i}", "condition": "true", "context": {{"n": {i}}}}}"#))
            .collect();
        let text = format!(r#"{{"nodes": [{}]}}"#, nodes.join(", "));
        assert!(text.len() > WINDOW);
        let mut cases: Vec<Vec<u8>> = [WINDOW - 7, WINDOW, WINDOW + 1, text.len() - 1, 1]
            .iter()
            .map(|&n| text.as_bytes()[..n].to_vec())
            .collect();
        cases.push(format!("{text} {{}}").into_bytes());
        cases.push(format!("{text}x").into_bytes());
        cases.push(Vec::new());
        cases.push(br#"{"nodes": [], "nodes": []}"#.to_vec());
        cases.push(br#"{"dialog_nodes": [], "intents": []}"#.to_vec());
        cases.push(text.replacen("\"n\": 5}", "\"n\": 5,}", 1).into_bytes());
        let dir = Scratch::new("refused");
        for (i, bytes) in cases.iter().enumerate() {
            assert_eq!(whole(bytes), None, "case {i}");
            let path = dir.file(bytes);
            assert!(load_flow_streamed(&path).unwrap().is_none(), "case {i}");
        }
        let missing = dir.0.join("no-such-file.json");
        assert!(load_flow_streamed(&missing).is_err());
    }

    /// Characters of two, three and four bytes cut by a window's end are read whole, and a file
    /// with bytes that are not UTF-8 in a later window, or ending inside a character, is
    /// refused as when read whole.
    #[test]
    fn characters_cut_by_a_window_are_read_whole() {
        let dir = Scratch::new("characters");
        for ch in ["é", "€", "😀"] {
            for shift in 0..4 {
                // The string's text starts so that `ch` straddles the window's end.
                let head = r#"{"nodes": [{"id": "a", "condition": "start", "context": {"k": ""#;
                let pad = WINDOW - head.len() - shift.min(ch.len() - 1) - 1;
                let text = format!(r#"{head}{}{ch}{ch}"}}}}]}}"#, "x".repeat(pad));
                let path = dir.file(text.as_bytes());
                let streamed = load_flow_streamed(&path).unwrap().map(|c| format!("{c:?}"));
                assert!(streamed.is_some(), "{ch} {shift}");
                assert_eq!(streamed, whole(text.as_bytes()), "{ch} {shift}");
            }
        }
        let text = format!(
            r#"{{"nodes": [{{"id": "a", "condition": "start", "context": {{"k": "{}"}}}}]}}"#,
            "x".repeat(2 * WINDOW)
        );
        let mut invalid = text.clone().into_bytes();
        invalid[WINDOW + 100] = 0xFF;
        let mut cut = format!("{text}é").into_bytes();
        cut.pop();
        for bytes in [invalid, cut] {
            assert_eq!(whole(&bytes), None);
            assert!(load_flow_streamed(&dir.file(&bytes)).unwrap().is_none());
        }
    }
}
