//! Compiling a flow: node ids resolved to indices, every condition and `<? ?>` template parsed
//! once. The result serves both the linter (which walks [`CompiledFlow::sites`]) and the engine;
//! [`load`] is the pipeline both use to read a file.

pub(crate) mod free;
pub(crate) mod graph;
pub mod load;

use crate::diagnostic::{declare_rule, Diagnostic, Location};
use crate::error::Error;
use crate::expr::Span;
use crate::expr::{
    compile_regex, find_open, Dialect, Evaluator, Expr, ExprKind, ParseCache, SyntaxError, Template,
};
use crate::model::{Flow, InputType};
use crate::source::json::push_segment;
use rustc_hash::FxHashMap;
use serde_json::{Map, Value as Json};
use std::sync::Arc;

declare_rule! {
    /// ## What it does
    /// Reports a condition or a `<? … ?>` segment that does not parse: unbalanced parentheses,
    /// a single `=`, an unterminated string or segment, an empty `<? ?>`, nesting deeper than
    /// 64 brackets or 128 operators.
    ///
    /// ## Why it matters
    /// The builder evaluates a broken condition as false and a broken template as an error at
    /// run time, in front of the user.
    ///
    /// ## Example
    /// ```text
    /// input_text='1001'
    /// ```
    /// A single `=` is an assignment: write `input.text == '1001'`.
    pub struct ExpressionSyntax => "expression-syntax", Error;
}

declare_rule! {
    /// ## What it does
    /// Reports a regex (a `/…/` literal, or the pattern string given to `matches`) that the
    /// linear-time regex engine cannot run: backreferences, look-around, unknown flags.
    ///
    /// ## Why it matters
    /// fluxo never runs a pattern that can take exponential time on hostile input; such a
    /// pattern fails at run time instead of hanging the conversation.
    ///
    /// ## Example
    /// ```text
    /// /(\d)\1/.test(input.text)
    /// ```
    pub struct UnsupportedRegex => "unsupported-regex", Error;
}

declare_rule! {
    /// ## What it does
    /// Reports `<? … ?>` delimiters inside an entry condition, a `next` condition or a
    /// conditional response's condition.
    ///
    /// ## Why it matters
    /// Conditions are written bare; the builder does not strip the delimiters, so the
    /// condition never holds. fluxo reads what is inside so the rest of the flow can be checked.
    ///
    /// ## Example
    /// ```json
    /// { "condition": "<? $vip ?>", "goto": "vip" }
    /// ```
    /// Write `"condition": "$vip"`.
    pub struct TemplateInCondition => "template-in-condition", Error;
}

/// The finding for an expression that does not parse, at `pointer`.
pub fn syntax_diagnostic(pointer: &str, e: SyntaxError) -> Diagnostic {
    let mut d = Diagnostic::new::<ExpressionSyntax>(
        Location::InString(pointer.to_owned(), e.span),
        e.message,
    );
    if let Some(h) = e.help {
        d = d.help(h);
    }
    d
}

/// The regex findings of one expression.
pub fn regex_diagnostics(place: Place<'_>, e: &Expr, out: &mut Vec<Diagnostic>) {
    e.walk(&mut |x| {
        let bad = match &x.kind {
            ExprKind::Regex(r) if r.compiled.is_none() => Some(
                compile_regex(&r.pattern, &r.flags)
                    .err()
                    .unwrap_or_default(),
            ),
            ExprKind::Method { name, args, .. }
                if matches!(name.as_str(), "matches" | "find" | "extract" | "getMatch") =>
            {
                match args.first() {
                    Some(Expr {
                        kind: ExprKind::Str(p),
                        ..
                    }) => compile_regex(p, "").err(),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(why) = bad {
            out.push(
                Diagnostic::new::<UnsupportedRegex>(
                    place.at(&x.span),
                    format!("this pattern cannot run on fluxo's linear-time regex engine: {why}"),
                )
                .help("rewrite it without backreferences or look-around"),
            );
        }
    });
}

/// A JSON value with its templates compiled; literal subtrees are kept as they are.
#[derive(Debug, Clone, PartialEq)]
pub enum CValue {
    /// No template inside.
    Lit(Lit),
    /// A string with `<? ?>` segments.
    Tpl(Template),
    /// An array with templates somewhere inside.
    Arr(Vec<CValue>),
    /// An object with templates somewhere inside.
    Obj(Vec<(String, CValue)>),
}

impl CValue {
    /// Renders the value.
    pub fn render(&self, ev: &mut Evaluator<'_>) -> Result<Json, Error> {
        Ok(match self {
            CValue::Lit(l) => l.value(),
            CValue::Tpl(t) => ev.render(t)?,
            CValue::Arr(items) => Json::Array(
                items
                    .iter()
                    .map(|i| i.render(ev))
                    .collect::<Result<_, _>>()?,
            ),
            CValue::Obj(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, v) in fields {
                    m.insert(k.clone(), v.render(ev)?);
                }
                Json::Object(m)
            }
        })
    }

    /// The literal value, when there is no template inside.
    pub fn literal(&self) -> Option<Json> {
        match self {
            CValue::Lit(l) => Some(l.value()),
            _ => None,
        }
    }
}

/// A literal JSON value, held compactly: scalars as they are, arrays and objects as their
/// minified JSON text, read back when used. Flows are full of small literal objects (messages,
/// payloads); as `serde_json` maps (an index and a hash table each) they take about ten times
/// the memory of their text, and a flow is compiled once but renders only the few nodes a
/// conversation visits.
#[derive(Debug, Clone, PartialEq)]
pub struct Lit(LitRepr);

#[derive(Debug, Clone, PartialEq)]
enum LitRepr {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Box<str>),
    /// An array or an object, as minified JSON, and the value read back from it the first
    /// time a turn renders it (only the literals a conversation reaches are ever read back).
    Text(Box<str>, ReadBack),
    /// An array or an object nested too deep for the JSON reader to read back.
    Deep(Box<Json>),
}

/// Nesting the text of a literal may have and still be read back (`serde_json` refuses more
/// than 128 levels).
const LIT_TEXT_DEPTH: usize = 100;

impl Lit {
    /// The literal of `v` (moved, not copied, when it is a scalar).
    pub fn new(v: Json) -> Lit {
        Lit(match v {
            Json::Null => LitRepr::Null,
            Json::Bool(b) => LitRepr::Bool(b),
            Json::Number(n) => LitRepr::Number(n),
            Json::String(s) => LitRepr::String(s.into_boxed_str()),
            v if depth_over(&v, LIT_TEXT_DEPTH) => LitRepr::Deep(Box::new(v)),
            v => match serde_json::to_string(&v) {
                Ok(t) => LitRepr::Text(t.into_boxed_str(), ReadBack::default()),
                Err(_) => LitRepr::Deep(Box::new(v)),
            },
        })
    }

    /// The literal of a value of the typed read: its text is the one [`Lit::new`] writes for
    /// the same value.
    pub(crate) fn from_free(v: free::Free) -> Lit {
        use free::Free;
        Lit(match v {
            Free::Null => LitRepr::Null,
            Free::Bool(b) => LitRepr::Bool(b),
            Free::Number(n) => LitRepr::Number(n),
            Free::String(s) => LitRepr::String(s.into_boxed_str()),
            v if v.depth_over(LIT_TEXT_DEPTH) => LitRepr::Deep(Box::new(v.into_json())),
            v => match serde_json::to_string(&v) {
                Ok(t) => LitRepr::Text(t.into_boxed_str(), ReadBack::default()),
                Err(_) => LitRepr::Deep(Box::new(v.into_json())),
            },
        })
    }

    /// The value.
    pub fn value(&self) -> Json {
        match &self.0 {
            LitRepr::Null => Json::Null,
            LitRepr::Bool(b) => Json::Bool(*b),
            LitRepr::Number(n) => Json::Number(n.clone()),
            LitRepr::String(s) => Json::String(s.to_string()),
            // The text was written from a value, within the reader's nesting limit.
            LitRepr::Text(t, back) => (**back
                .0
                .get_or_init(|| Box::new(serde_json::from_str(t).unwrap_or(Json::Null))))
            .clone(),
            LitRepr::Deep(v) => (**v).clone(),
        }
    }

    /// True when the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.0, LitRepr::Null)
    }
}

/// The value of a literal's text, read once: a turn that renders a literal clones it instead of
/// parsing its text again (parsing was a sixth of a turn's time).
#[derive(Debug, Clone, Default)]
struct ReadBack(std::sync::OnceLock<Box<Json>>);

/// Whether a literal was read back yet says nothing of its value.
impl PartialEq for ReadBack {
    fn eq(&self, _: &ReadBack) -> bool {
        true
    }
}

/// True when `v` nests deeper than `max` arrays and objects.
fn depth_over(v: &Json, max: usize) -> bool {
    match v {
        Json::Array(a) => max == 0 || a.iter().any(|x| depth_over(x, max - 1)),
        Json::Object(m) => max == 0 || m.values().any(|x| depth_over(x, max - 1)),
        _ => false,
    }
}

/// A node's entry point.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// No entry condition: reached only through `next`.
    None,
    /// `start`.
    Start,
    /// `anything_else`.
    AnythingElse,
    /// An expression.
    Expr(Arc<Expr>),
}

impl Entry {
    /// True when the entry condition tests the NLU's intent (`#name`, `intent`, `intents`):
    /// such nodes are tried first when a turn carries an intent (SPEC §4.2, the builder's
    /// "an intent moves the conversation").
    pub fn tests_intent(&self) -> bool {
        let Entry::Expr(e) = self else { return false };
        let mut found = false;
        e.walk(&mut |x| {
            found |= match &x.kind {
                crate::expr::ExprKind::Intent(_) => true,
                crate::expr::ExprKind::Ident(n) => n == "intent" || n == "intents",
                _ => false,
            };
        });
        found
    }
}

impl CNode {
    /// How messages name the node: its id, and its `name` when it has one (`` `menu` (Menu) ``).
    pub fn label(&self) -> String {
        self.reference().to_string()
    }

    /// The node as a finding records it ([`Diagnostic::node`]).
    pub fn reference(&self) -> crate::diagnostic::NodeRef {
        crate::diagnostic::NodeRef {
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }
}

/// A compiled destination.
#[derive(Debug, Clone, PartialEq)]
pub struct CNext {
    /// Condition; `None` is `true`.
    pub condition: Option<Arc<Expr>>,
    /// Target node index; `None` when the id is unknown.
    pub target: Option<usize>,
    /// Target id as written.
    pub goto: String,
}

/// A compiled action.
#[derive(Debug, Clone, PartialEq)]
pub struct CAction {
    /// Action name.
    pub name: String,
    /// Parameters.
    pub parameters: Vec<(String, CValue)>,
    /// Result variable.
    pub result_variable: Option<String>,
}

impl CAction {
    /// A parameter by name.
    pub fn param(&self, name: &str) -> Option<&CValue> {
        self.parameters
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// A compiled conditional response.
#[derive(Debug, Clone, PartialEq)]
pub struct CResponse {
    /// Condition; `None` is `true`.
    pub condition: Option<Arc<Expr>>,
    /// Messages.
    pub output: Vec<CValue>,
}

/// A compiled open input (the `default` channel, or the only one).
#[derive(Debug, Clone, PartialEq)]
pub struct CInput {
    /// Widget type per channel key.
    pub channels: Vec<(String, InputType, CValue)>,
}

/// A compiled node.
#[derive(Debug, Clone, PartialEq)]
pub struct CNode {
    /// Node id.
    pub id: String,
    /// The node's `name`, as the builder's canvas shows it.
    pub name: Option<String>,
    /// JSON Pointer of the node in the file (`/nodes/3`).
    pub pointer: String,
    /// Entry point.
    pub entry: Entry,
    /// Context assignments.
    pub context: Vec<(String, CValue)>,
    /// Contact assignments.
    pub contact: Vec<(String, CValue)>,
    /// Actions.
    pub actions: Vec<CAction>,
    /// Analytics events.
    pub events: Vec<CValue>,
    /// Output items (each an object keyed by channel).
    pub output: Vec<CValue>,
    /// Conditional responses.
    pub responses: Vec<CResponse>,
    /// Open input.
    pub input: Option<CInput>,
    /// Destinations.
    pub next: Vec<CNext>,
}

/// Where an expression sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A node's entry condition.
    Entry,
    /// A `next[].condition`.
    Next,
    /// A `responses[].condition`.
    Response,
    /// A `<? ?>` segment in a value.
    Template,
}

/// One expression of the flow, for the linter.
///
/// Its string's JSON Pointer is not kept with it: that is the node's pointer followed by a
/// path shared with every site at the same place in another node
/// ([`CompiledFlow::place`] puts them together). A large flow has some hundred thousand sites,
/// but only some hundred distinct paths and some thousand distinct trees, so a site holds
/// indices only (16 bytes): the tree itself is [`CompiledFlow::expr`]. The indices are 32-bit;
/// a flow has fewer nodes, and a string fewer bytes, than a file the linter reads has bytes
/// (a count past `u32::MAX` is held as `u32::MAX`). The path's index shares its word with the
/// role: it has 30 bits (a flow has some hundred paths; an index past them is held as the
/// largest).
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    node: u32,
    /// The index of the rest of the string's JSON Pointer, after the node's, among the flow's
    /// paths (the low [`PATH_BITS`] bits), and the [`Role`] (the two high bits).
    path_role: u32,
    offset: u32,
    tree: u32,
}

/// The bits of [`Site`]'s path index.
const PATH_BITS: u32 = 30;

impl Site {
    /// Node index.
    pub fn node(&self) -> usize {
        self.node as usize
    }

    /// What the expression is for (entry condition, `next`, response, template).
    pub fn role(&self) -> Role {
        match self.path_role >> PATH_BITS {
            0 => Role::Entry,
            1 => Role::Next,
            2 => Role::Response,
            _ => Role::Template,
        }
    }

    /// The index of the site's path among the flow's paths.
    fn path(&self) -> usize {
        (self.path_role & ((1 << PATH_BITS) - 1)) as usize
    }

    /// Where the expression's source starts in its string.
    pub fn offset(&self) -> usize {
        self.offset as usize
    }

    /// The index of the site's expression among the flow's distinct trees, from 0, in the
    /// order of their first site: sites that share a tree share the index (rules that look
    /// only at the tree skip the sites of a tree already found clean).
    pub fn tree(&self) -> usize {
        self.tree as usize
    }
}

/// `n` as a site's index ([`Site`]).
fn index32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The indices of a flow's nodes sorted by id, for finding nodes by id without copying the ids
/// into a table (a flow compiled [`CompileOptions::lint_only`] has no [`CompiledFlow::by_id`]):
/// a stable sort, so the nodes of one id are in file order, the first one first.
pub(crate) struct IdOrder(Vec<u32>);

impl IdOrder {
    /// The order of `nodes`.
    pub(crate) fn of(nodes: &[CNode]) -> IdOrder {
        let mut sorted: Vec<u32> = (0..nodes.len()).map(index32).collect();
        sorted.sort_by(|&a, &b| id_at(nodes, a).cmp(id_at(nodes, b)));
        IdOrder(sorted)
    }

    /// The first node of `nodes` (those the order was made of) whose id is `id`.
    pub(crate) fn first(&self, nodes: &[CNode], id: &str) -> Option<usize> {
        let at = self.0.partition_point(|&j| id_at(nodes, j) < id);
        let j = self.0.get(at).copied().filter(|&j| id_at(nodes, j) == id)?;
        Some(j as usize)
    }

    /// The nodes of each id, in file order, one slice per id.
    pub(crate) fn groups<'a>(&'a self, nodes: &'a [CNode]) -> impl Iterator<Item = &'a [u32]> {
        self.0
            .chunk_by(move |&a, &b| id_at(nodes, a) == id_at(nodes, b))
    }
}

/// The id of node `j` of `nodes` (empty past the end).
fn id_at(nodes: &[CNode], j: u32) -> &str {
    nodes.get(j as usize).map_or("", |n| &n.id)
}

/// Where an expression's source is: a string in the file, and the offset of the source in it.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// JSON Pointer of the string, or its start when `rest` is not empty.
    pub pointer: &'a str,
    /// The rest of the string's JSON Pointer, after `pointer` (empty when `pointer` is whole).
    pub rest: &'a str,
    /// Where the expression's source starts in the string.
    pub offset: usize,
}

impl<'a> Place<'a> {
    /// The place at `offset` in the string at the JSON Pointer `pointer`.
    pub fn new(pointer: &'a str, offset: usize) -> Place<'a> {
        Place {
            pointer,
            rest: "",
            offset,
        }
    }

    /// The location of `span` (a span of the expression) in the file.
    pub fn at(&self, span: &Span) -> Location {
        let mut pointer = String::with_capacity(self.pointer.len() + self.rest.len());
        pointer.push_str(self.pointer);
        pointer.push_str(self.rest);
        Location::InString(pointer, span.start + self.offset..span.end + self.offset)
    }
}

/// A flow ready to lint or run.
#[derive(Debug, Clone)]
pub struct CompiledFlow {
    /// The flow's `name`.
    pub name: Option<String>,
    /// Context variables the `start` event supplies.
    pub start_context: Vec<String>,
    /// Custom actions the host implements.
    pub custom_actions: Vec<String>,
    /// Nodes, in file order.
    pub nodes: Vec<CNode>,
    /// Node id → index (the first node with that id); empty in a flow compiled
    /// [`CompileOptions::lint_only`].
    pub by_id: FxHashMap<String, usize>,
    /// The start node (the *last* node whose condition is `start`).
    pub start: Option<usize>,
    /// The first `anything_else` node.
    pub fallback: Option<usize>,
    /// The nodes whose entry condition tests the intent ([`Entry::tests_intent`]), in file order.
    pub intent_entries: Vec<usize>,
    /// Every expression, with where it is.
    pub sites: Vec<Site>,
    /// The distinct trees of the sites, by [`Site::tree`].
    trees: Vec<Arc<Expr>>,
    /// The paths of the sites' strings under their nodes ([`Site`]).
    paths: Vec<Box<str>>,
    /// Findings of the compile stage (`expression-syntax`, `unsupported-regex`, `template-in-condition`).
    pub diagnostics: Vec<Diagnostic>,
}

/// Compiles the expressions and templates of one flow, node by node.
pub(crate) struct Compiler {
    cache: ParseCache,
    /// Each distinct tree met: its index (see [`Site::tree`]) and whether its regexes were
    /// found clean.
    trees: FxHashMap<*const Expr, (usize, bool)>,
    /// The distinct trees, by index, when the sites are kept.
    exprs: Vec<Arc<Expr>>,
    sites: Vec<Site>,
    /// The sites' paths ([`Site`]), each once, with its index.
    paths: FxHashMap<Box<str>, usize>,
    /// The length of the JSON Pointer of the node being compiled: a site's path follows it.
    node_pointer: usize,
    diagnostics: Vec<Diagnostic>,
    keep_sites: bool,
    /// [`CompileOptions::lint_only`].
    lint_only: bool,
}

impl Compiler {
    fn syntax(&mut self, pointer: &str, e: SyntaxError) {
        self.diagnostics.push(syntax_diagnostic(pointer, e));
    }

    fn site(&mut self, node: usize, pointer: &str, role: Role, offset: usize, expr: &Arc<Expr>) {
        // A tree shared by many sites has the same regexes everywhere: look once, unless it
        // has a bad one (then every site gets its finding).
        let next = self.trees.len();
        let (tree, clean) = self.trees.entry(Arc::as_ptr(expr)).or_insert((next, false));
        if *tree == next && self.keep_sites {
            self.exprs.push(Arc::clone(expr));
        }
        if !*clean {
            let before = self.diagnostics.len();
            regex_diagnostics(Place::new(pointer, offset), expr, &mut self.diagnostics);
            *clean = self.diagnostics.len() == before;
        }
        if self.keep_sites {
            let rest = pointer.get(self.node_pointer..).unwrap_or_default();
            let path = match self.paths.get(rest) {
                Some(&path) => path,
                None => {
                    let path = self.paths.len();
                    self.paths.insert(rest.into(), path);
                    path
                }
            };
            self.sites.push(Site {
                node: index32(node),
                path_role: index32(path).min((1 << PATH_BITS) - 1) | (role as u32) << PATH_BITS,
                offset: index32(offset),
                tree: index32(*tree),
            });
        }
    }

    /// A bare condition. `<? ?>` around it is reported and tolerated.
    fn condition(
        &mut self,
        node: usize,
        pointer: &str,
        role: Role,
        src: &str,
    ) -> Option<Arc<Expr>> {
        if src.chars().all(char::is_whitespace) {
            return None;
        }
        // The last `?>` is looked for only in a condition that has a `<?`: most have none.
        let (body, offset) = match find_open(src).and_then(|a| Some((a, src.rfind("?>")?))) {
            // `<?>` overlaps: the closing `?>` must start after the opening `<?` ends.
            Some((a, b)) if b >= a + 2 => {
                self.diagnostics.push(
                    Diagnostic::new::<TemplateInCondition>(
                        Location::InString(pointer.to_owned(), a..b + 2),
                        "conditions are written bare: `<? ?>` delimiters do not belong here",
                    )
                    .help("remove `<?` and `?>`"),
                );
                (&src[a + 2..b], a + 2)
            }
            _ => (src, 0),
        };
        match self.cache.expression(body) {
            Ok(e) => {
                self.site(node, pointer, role, offset, &e);
                Some(e)
            }
            Err(mut err) => {
                err.span = err.span.start + offset..err.span.end + offset;
                self.syntax(pointer, err);
                None
            }
        }
    }

    /// A string with `<?`: its template, or the string itself when no segment parsed.
    fn string(&mut self, node: usize, pointer: &str, s: String) -> CValue {
        let (t, errs) = self.cache.template(&s);
        for e in errs {
            self.syntax(pointer, e);
        }
        for (e, offset) in t.exprs() {
            self.site(node, pointer, Role::Template, offset, e);
        }
        if t.is_literal() {
            CValue::Lit(Lit::new(Json::String(s)))
        } else {
            CValue::Tpl(t)
        }
    }

    /// A value with its templates compiled; literal parts move into the result. Each subtree
    /// is searched for `<?` about once: a container is entered only when some child has one.
    fn value_owned(&mut self, node: usize, pointer: &mut String, v: Json) -> CValue {
        match v {
            Json::String(s) if find_open(&s).is_some() => self.string(node, pointer, s),
            Json::Array(items) if items.iter().any(has_template) => {
                collapse_array(self.items(pointer, items, |c, p, it| c.value_owned(node, p, it)))
            }
            Json::Object(map) if map.values().any(has_template) => {
                collapse_object(self.fields(node, pointer, map))
            }
            other => CValue::Lit(Lit::new(other)),
        }
    }

    /// [`Compiler::value_owned`] of a value of the typed read.
    fn free_value(&mut self, node: usize, pointer: &mut String, v: free::Free) -> CValue {
        use free::Free;
        match v {
            Free::String(s) if find_open(&s).is_some() => self.string(node, pointer, s),
            Free::Array(items) if items.iter().any(Free::has_template) => {
                collapse_array(self.items(pointer, items, |c, p, it| c.free_value(node, p, it)))
            }
            Free::Object(fields) if fields.iter().any(|(_, v)| v.has_template()) => {
                collapse_object(self.free_fields(node, pointer, fields))
            }
            other => CValue::Lit(Lit::from_free(other)),
        }
    }

    /// [`Compiler::fields`] of the fields of a value of the typed read.
    fn free_fields(
        &mut self,
        node: usize,
        pointer: &mut String,
        fields: Vec<(String, free::Free)>,
    ) -> Vec<(String, CValue)> {
        self.keyed(pointer, fields, |c, p, v| c.free_value(node, p, v))
    }

    fn fields(
        &mut self,
        node: usize,
        pointer: &mut String,
        map: Map<String, Json>,
    ) -> Vec<(String, CValue)> {
        self.keyed(pointer, map, |c, p, v| c.value_owned(node, p, v))
    }

    /// Each item compiled by `each` at its index under `pointer` (which ends as it began).
    fn items<T>(
        &mut self,
        pointer: &mut String,
        items: Vec<T>,
        mut each: impl FnMut(&mut Compiler, &mut String, T) -> CValue,
    ) -> Vec<CValue> {
        map_exact(items, |(i, it)| {
            let len = pointer.len();
            pointer.push('/');
            push_index(pointer, i);
            let c = each(self, pointer, it);
            pointer.truncate(len);
            c
        })
    }

    /// Each field compiled by `each` at its key under `pointer` (which ends as it began).
    fn keyed<T>(
        &mut self,
        pointer: &mut String,
        fields: impl IntoIterator<Item = (String, T)>,
        mut each: impl FnMut(&mut Compiler, &mut String, T) -> CValue,
    ) -> Vec<(String, CValue)> {
        fields
            .into_iter()
            .map(|(k, v)| {
                let len = pointer.len();
                push_segment(pointer, &k);
                let c = each(self, pointer, v);
                pointer.truncate(len);
                (k, c)
            })
            .collect()
    }
}

/// Options for [`compile`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CompileOptions {
    /// Keep a copy of every expression with its location (the linter needs it; the engine not).
    pub keep_sites: bool,
    /// Compile for the linter only: messages (`output`, `responses[].output`), analytics
    /// `events` and `contact` values are compiled (their expressions become sites, their
    /// errors findings) and then dropped: each message of `output` is replaced by `null`, so
    /// that how many there are is kept, and the responses' `output`, `events` and `contact`
    /// lists are left empty (the responses themselves are kept, with their conditions);
    /// `context` values are kept only as `null` or not (`true`); [`CompiledFlow::by_id`] is
    /// left empty (the `next` targets are resolved all the same). No rule reads more of them,
    /// and they are most of a compiled flow's memory (the 10,000-node bench flow's lint peaks
    /// 9.6 MiB lower). Such a flow cannot run a conversation.
    pub lint_only: bool,
}

/// Compiles a flow. `positions[i]` is the index in the file of `flow.nodes[i]` (they differ when
/// the lenient reader skipped a malformed node).
pub fn compile(flow: Flow, positions: &[usize], opts: CompileOptions) -> CompiledFlow {
    let Flow {
        name,
        start_context,
        custom_actions,
        nodes: model,
        ..
    } = flow;
    let mut b = Builder::new(opts);
    b.nodes.reserve_exact(model.len());
    for (i, n) in model.into_iter().enumerate() {
        b.push(n, positions.get(i).copied().unwrap_or(i));
    }
    b.finish(name, start_context, custom_actions)
}

/// Compiles a flow node by node, as its nodes are read: no node of the model outlives its
/// compilation (the typed read compiles while it parses, [`load::typed_compile`]).
pub(crate) struct Builder {
    c: Compiler,
    nodes: Vec<CNode>,
    start: Option<usize>,
    fallback: Option<usize>,
}

impl Builder {
    /// A compiler with no node yet.
    pub(crate) fn new(opts: CompileOptions) -> Builder {
        Builder {
            c: Compiler {
                cache: ParseCache::new(Dialect::Builder),
                trees: FxHashMap::default(),
                exprs: Vec::new(),
                sites: Vec::new(),
                // A flow's sites have some tens of distinct paths (a few hundred in a large
                // one): room for the usual number from the start.
                paths: if opts.keep_sites {
                    FxHashMap::with_capacity_and_hasher(64, Default::default())
                } else {
                    FxHashMap::default()
                },
                node_pointer: 0,
                diagnostics: Vec::new(),
                keep_sites: opts.keep_sites,
                lint_only: opts.lint_only,
            },
            nodes: Vec::new(),
            start: None,
            fallback: None,
        }
    }

    /// Reserves room for the nodes and sites of a flow file of `len` bytes, so that the
    /// tables of a large file are not moved as they grow (every move leaves the old table's
    /// memory behind, freed but still resident). Room that is not used is address space, not
    /// memory: the estimates err high (a node takes some hundreds of bytes of JSON, an
    /// expression site at least some tens: the minified 10,000-node bench flow has more sites
    /// than one per 96 bytes, the estimate before, so its table was moved once).
    pub(crate) fn reserve_for(&mut self, len: usize) {
        self.nodes.reserve_exact(len / 512);
        if self.c.keep_sites {
            self.c.sites.reserve_exact(len / 48);
        }
    }

    /// Compiles the next node, which is node `position` of the file.
    pub(crate) fn push(&mut self, n: impl NodeIn, position: usize) {
        let n = n.parts();
        let i = self.nodes.len();
        let c = &mut self.c;
        let mut base = String::from("/nodes/");
        push_index(&mut base, position);
        c.node_pointer = base.len();
        // One buffer for every pointer under the node, cut back to `base` before each.
        let mut p = String::with_capacity(base.len() + 40);
        let entry = match n.condition.as_deref().map(str::trim) {
            None | Some("") => Entry::None,
            Some("start") => {
                self.start = Some(i);
                Entry::Start
            }
            Some("anything_else") => {
                self.fallback.get_or_insert(i);
                Entry::AnythingElse
            }
            Some(_) => {
                let src = n.condition.as_deref().unwrap_or_default();
                under(&mut p, &base, "/condition");
                match c.condition(i, &p, Role::Entry, src) {
                    Some(e) => Entry::Expr(e),
                    None => Entry::None,
                }
            }
        };
        let sub = |c: &mut Compiler, p: &mut String, key: &str, m: Option<_>| match m {
            Some(m) => {
                under(p, &base, key);
                FieldsIn::compile(m, c, i, p)
            }
            None => Vec::new(),
        };
        let mut context = sub(&mut *c, &mut p, "/context", n.context);
        let mut contact = sub(&mut *c, &mut p, "/contact", n.contact);
        let actions = map_exact(n.actions, |(ai, a)| {
            under(&mut p, &base, "/actions/");
            push_index(&mut p, ai);
            p.push_str("/parameters");
            CAction {
                name: a.name,
                parameters: c.fields(i, &mut p, a.parameters),
                result_variable: a.result_variable,
            }
        });
        let mut events = map_exact(n.events, |(ei, e)| {
            under(&mut p, &base, "/events/");
            push_index(&mut p, ei);
            e.compile(c, i, &mut p)
        });
        under(&mut p, &base, "/output");
        let mut output = outputs(&mut *c, i, &mut p, n.output);
        let mut responses = map_exact(n.responses, |(ri, (condition, output))| {
            under(&mut p, &base, "/responses/");
            push_index(&mut p, ri);
            let len = p.len();
            p.push_str("/condition");
            let condition = condition
                .as_deref()
                .and_then(|s| c.condition(i, &p, Role::Response, s));
            p.truncate(len);
            p.push_str("/output");
            CResponse {
                condition,
                output: outputs(&mut *c, i, &mut p, output),
            }
        });
        let input = n.input.map(|m| CInput {
            channels: m
                .into_iter()
                .map(|(ch, inp)| {
                    under(&mut p, &base, "/input");
                    push_segment(&mut p, &ch);
                    p.push_str("/payload");
                    let payload = CValue::Obj(c.fields(i, &mut p, inp.payload));
                    (ch, inp.kind, payload)
                })
                .collect(),
        });
        if c.lint_only {
            // Dropped as soon as compiled: the next node's values reuse their memory.
            contact = Vec::new();
            events = Vec::new();
            for v in &mut output {
                *v = CValue::Lit(Lit(LitRepr::Null));
            }
            for r in &mut responses {
                r.output = Vec::new();
            }
            // An assignment of `null` unsets its variable; any other sets it.
            for (_, v) in &mut context {
                if !matches!(v, CValue::Lit(l) if l.is_null()) {
                    *v = CValue::Lit(Lit(LitRepr::Bool(true)));
                }
            }
        }
        let next = map_exact(n.next, |(ni, x)| CNext {
            condition: x.condition.as_deref().and_then(|s| {
                under(&mut p, &base, "/next/");
                push_index(&mut p, ni);
                p.push_str("/condition");
                c.condition(i, &p, Role::Next, s)
            }),
            // Resolved when every id is known ([`Builder::finish`]).
            target: None,
            goto: x.goto,
        });
        self.nodes.push(CNode {
            id: n.id,
            name: n.name,
            pointer: base,
            entry,
            context,
            contact,
            actions,
            events,
            output,
            responses,
            input,
            next,
        });
    }

    /// The compiled flow: `next` targets resolved, entry points listed.
    pub(crate) fn finish(
        self,
        name: Option<String>,
        start_context: Vec<String>,
        custom_actions: Vec<String>,
    ) -> CompiledFlow {
        let Builder {
            c,
            mut nodes,
            start,
            fallback,
        } = self;
        let mut by_id = FxHashMap::default();
        if c.lint_only {
            // The ids are looked up where the nodes hold them, not copied into a table kept.
            let order = IdOrder::of(&nodes);
            for i in 0..nodes.len() {
                for k in 0..nodes[i].next.len() {
                    let target = order.first(&nodes, &nodes[i].next[k].goto);
                    nodes[i].next[k].target = target;
                }
            }
        } else {
            by_id.reserve(nodes.len());
            for (i, n) in nodes.iter().enumerate() {
                by_id.entry(n.id.clone()).or_insert(i);
            }
            for x in nodes.iter_mut().flat_map(|n| &mut n.next) {
                x.target = by_id.get(&x.goto).copied();
            }
        }
        let intent_entries = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.entry.tests_intent())
            .map(|(i, _)| i)
            .collect();
        CompiledFlow {
            name,
            start_context,
            custom_actions,
            nodes,
            by_id,
            start,
            fallback,
            intent_entries,
            sites: c.sites,
            trees: c.exprs,
            paths: by_index(c.paths),
            diagnostics: c.diagnostics,
        }
    }
}

/// The sites' paths in the order of their indices.
fn by_index(paths: FxHashMap<Box<str>, usize>) -> Vec<Box<str>> {
    let mut out: Vec<Box<str>> = vec![Box::default(); paths.len()];
    for (path, i) in paths {
        if let Some(slot) = out.get_mut(i) {
            *slot = path;
        }
    }
    out
}

/// An analytics event as the JSON value it is sent as (moved, not copied).
fn event_value(e: crate::model::AnalyticsEvent) -> Json {
    let mut m = Map::new();
    m.insert("event_name".into(), Json::String(e.event_name));
    if let Some(d) = e.details {
        let mut details = Map::new();
        if let Some(v) = d.field1 {
            details.insert("field1".into(), v);
        }
        if let Some(v) = d.field2 {
            details.insert("field2".into(), v);
        }
        m.insert("details".into(), Json::Object(details));
    }
    if let Some(v) = e.extra1 {
        m.insert("extra1".into(), v);
    }
    if let Some(v) = e.extra2 {
        m.insert("extra2".into(), v);
    }
    Json::Object(m)
}

/// An array whose items all turned out literal (their `<?` did not parse) is one literal.
fn collapse_array(items: Vec<CValue>) -> CValue {
    if items.iter().all(|c| matches!(c, CValue::Lit(_))) {
        CValue::Lit(Lit::new(Json::Array(
            items
                .into_iter()
                .filter_map(|c| match c {
                    CValue::Lit(l) => Some(l.value()),
                    _ => None,
                })
                .collect(),
        )))
    } else {
        CValue::Arr(items)
    }
}

/// An object whose fields all turned out literal is one literal.
fn collapse_object(fields: Vec<(String, CValue)>) -> CValue {
    if fields.iter().all(|(_, c)| matches!(c, CValue::Lit(_))) {
        CValue::Lit(Lit::new(Json::Object(
            fields
                .into_iter()
                .filter_map(|(k, c)| match c {
                    CValue::Lit(l) => Some((k, l.value())),
                    _ => None,
                })
                .collect(),
        )))
    } else {
        CValue::Obj(fields)
    }
}

/// True when a `<?` occurs in some string of the value.
fn has_template(v: &Json) -> bool {
    match v {
        Json::String(s) => find_open(s).is_some(),
        Json::Array(a) => a.iter().any(has_template),
        Json::Object(m) => m.values().any(has_template),
        _ => false,
    }
}

/// The output items under `pointer` (which ends as it began).
fn outputs(
    c: &mut Compiler,
    node: usize,
    pointer: &mut String,
    items: Vec<impl ItemIn>,
) -> Vec<CValue> {
    let len = pointer.len();
    map_exact(items, |(oi, item)| {
        pointer.truncate(len);
        pointer.push('/');
        push_index(pointer, oi);
        let v = item.compile(c, node, pointer);
        pointer.truncate(len);
        v
    })
}

/// What the compiler takes of a node, from either read: the model's node
/// ([`crate::model::Node`], of the full path and of [`compile`]) or the typed read's
/// ([`free::FreeNode`]), whose free-form parts are read without `serde_json` maps.
pub(crate) struct Parts<F, O, E> {
    id: String,
    name: Option<String>,
    condition: Option<String>,
    context: Option<F>,
    contact: Option<F>,
    actions: Vec<crate::model::Action>,
    events: Vec<E>,
    output: Vec<O>,
    /// Each response's condition and output.
    responses: Vec<(Option<String>, Vec<O>)>,
    input: Option<std::collections::BTreeMap<String, crate::model::Input>>,
    next: Vec<crate::model::Next>,
}

/// What a read tells of a node before it is compiled (the linter records it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeHead<'a> {
    /// The node's id.
    pub(crate) id: &'a str,
    /// Its comment.
    pub(crate) comment: Option<&'a str>,
}

/// A node as a read gives it to [`Builder::push`].
pub(crate) trait NodeIn: serde::de::DeserializeOwned {
    /// Context and contact assignments.
    type Fields: FieldsIn;
    /// An output item.
    type Item: ItemIn;
    /// An analytics event.
    type Event: ItemIn;
    /// The node's id, name and comment.
    fn head(&self) -> NodeHead<'_>;
    /// The node taken apart.
    fn parts(self) -> Parts<Self::Fields, Self::Item, Self::Event>;
}

/// Free-form fields (context, contact) as a read gives them.
pub(crate) trait FieldsIn {
    /// The fields compiled, under `pointer` (which ends as it began).
    fn compile(self, c: &mut Compiler, node: usize, pointer: &mut String) -> Vec<(String, CValue)>;
}

/// An output item or an analytics event as a read gives it.
pub(crate) trait ItemIn {
    /// The item compiled, at `pointer` (which ends as it began).
    fn compile(self, c: &mut Compiler, node: usize, pointer: &mut String) -> CValue;
}

impl FieldsIn for Map<String, Json> {
    fn compile(self, c: &mut Compiler, node: usize, p: &mut String) -> Vec<(String, CValue)> {
        c.fields(node, p, self)
    }
}

impl FieldsIn for free::FreeMap {
    fn compile(self, c: &mut Compiler, node: usize, p: &mut String) -> Vec<(String, CValue)> {
        c.free_fields(node, p, self.0)
    }
}

impl ItemIn for crate::model::OutputItem {
    fn compile(self, c: &mut Compiler, node: usize, p: &mut String) -> CValue {
        c.value_owned(node, p, Json::Object(self.0))
    }
}

impl ItemIn for free::FreeItem {
    fn compile(self, c: &mut Compiler, node: usize, p: &mut String) -> CValue {
        c.free_value(node, p, free::Free::Object(self.0))
    }
}

impl ItemIn for crate::model::AnalyticsEvent {
    fn compile(self, c: &mut Compiler, node: usize, p: &mut String) -> CValue {
        c.value_owned(node, p, event_value(self))
    }
}

impl ItemIn for free::FreeEvent {
    fn compile(self, c: &mut Compiler, node: usize, p: &mut String) -> CValue {
        c.free_value(node, p, self.into_value())
    }
}

/// [`NodeIn`] for a node type of the model's fields (the two reads' nodes have the same).
macro_rules! node_in {
    ($node:ty, $fields:ty, $item:ty, $event:ty) => {
        impl NodeIn for $node {
            type Fields = $fields;
            type Item = $item;
            type Event = $event;
            fn head(&self) -> NodeHead<'_> {
                NodeHead {
                    id: &self.id,
                    comment: self.comment.as_deref(),
                }
            }
            fn parts(self) -> Parts<Self::Fields, Self::Item, Self::Event> {
                Parts {
                    id: self.id,
                    name: self.name,
                    condition: self.condition,
                    context: self.context,
                    contact: self.contact,
                    actions: self.actions,
                    events: self.events,
                    output: self.output,
                    responses: map_exact(self.responses, |(_, r)| (r.condition, r.output)),
                    input: self.input,
                    next: self.next,
                }
            }
        }
    };
}
node_in!(
    crate::model::Node,
    Map<String, Json>,
    crate::model::OutputItem,
    crate::model::AnalyticsEvent
);
node_in!(
    free::FreeNode,
    free::FreeMap,
    free::FreeItem,
    free::FreeEvent
);

/// Sets `p` to `base` followed by `tail`.
fn under(p: &mut String, base: &str, tail: &str) {
    p.clear();
    p.push_str(base);
    p.push_str(tail);
}

/// Appends `n` in decimal (what `format!` would write, without its machinery: the compiler
/// writes a pointer for every value of a flow).
pub(crate) fn push_index(p: &mut String, n: usize) {
    p.push_str(itoa::Buffer::new().format(n));
}

/// `items` mapped, with their index, into a list of exactly their length. (Collecting
/// `items.into_iter().map(f)` would reuse the allocation of `items` in place: one sized for the
/// larger model items, and grown by the JSON reader — four slots for a list of one.)
fn map_exact<T, U>(items: Vec<T>, f: impl FnMut((usize, T)) -> U) -> Vec<U> {
    let mut out = Vec::with_capacity(items.len());
    out.extend(items.into_iter().enumerate().map(f));
    out
}

impl CompiledFlow {
    /// Destinations of node `i` through `next` (known targets only).
    pub fn successors(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.nodes
            .get(i)
            .into_iter()
            .flat_map(|n| n.next.iter().filter_map(|x| x.target))
    }

    /// True when node `i` waits for the user.
    pub fn waits(&self, i: usize) -> bool {
        self.nodes.get(i).is_some_and(|n| n.input.is_some())
    }

    /// Where the expression of `site` (one of this flow's sites) is.
    pub fn place(&self, site: &Site) -> Place<'_> {
        Place {
            pointer: self.nodes.get(site.node()).map_or("", |n| &n.pointer),
            rest: self.paths.get(site.path()).map_or("", |p| p),
            offset: site.offset(),
        }
    }

    /// The expression of `site` (spans relative to its own source; the tree is shared with
    /// every site of the same text). `None` only for a site of another flow with more trees.
    pub fn expr(&self, site: &Site) -> Option<&Arc<Expr>> {
        self.trees.get(site.tree())
    }

    /// How many distinct trees the sites have ([`Site::tree`] is below it).
    pub fn tree_count(&self) -> usize {
        self.trees.len()
    }
}

#[cfg(test)]
mod tests {
    use super::{push_index, Lit, LIT_TEXT_DEPTH};
    use serde_json::{json, Value as Json};

    /// A site's role and path share a word: each role comes back with its own place.
    #[test]
    fn sites_keep_their_role_and_place() {
        use super::{compile, CompileOptions, Role};
        let flow: crate::model::Flow = serde_json::from_value(json!({"nodes": [
            {"id": "a", "condition": "$x > 1",
             "responses": [{"condition": "$y",
                            "output": [{"default": {"type": "text", "text": "<? $z ?>"}}]}],
             "next": [{"condition": "$w", "goto": "a"}]}
        ]}))
        .expect("a flow");
        let opts = CompileOptions {
            keep_sites: true,
            lint_only: false,
        };
        let c = compile(flow, &[0], opts);
        let mut got: Vec<(Role, String)> = c
            .sites
            .iter()
            .map(|s| {
                let p = c.place(s);
                (s.role(), format!("{}{}", p.pointer, p.rest))
            })
            .collect();
        got.sort_by_key(|(_, p)| p.clone());
        let want = [
            (Role::Entry, "/nodes/0/condition"),
            (Role::Next, "/nodes/0/next/0/condition"),
            (Role::Response, "/nodes/0/responses/0/condition"),
            (Role::Template, "/nodes/0/responses/0/output/0/default/text"),
        ];
        let want: Vec<(Role, String)> = want.iter().map(|(r, p)| (*r, p.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn indices_are_written_in_decimal() {
        for n in [0, 7, 10, 99, 100, 12_345, usize::MAX] {
            let mut s = String::from("/nodes/");
            push_index(&mut s, n);
            assert_eq!(s, format!("/nodes/{n}"));
        }
    }

    /// A literal reads back as the value it was made of: every scalar, key order, numbers at
    /// their limits, and nesting deeper than the JSON reader's limit.
    #[test]
    fn literals_read_back_as_written() {
        let nest = |n: usize| (0..n).fold(json!(1), |v, _| json!([v]));
        let values = [
            json!(null),
            json!(false),
            json!(-3),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(0.1),
            json!(1e300),
            json!("olá <? não ?>"),
            json!({"b": 1, "a": [1, {"x": null, "\"": "\\"}], "": {}}),
            json!([]),
            nest(LIT_TEXT_DEPTH),
            nest(LIT_TEXT_DEPTH + 1),
            nest(300),
        ];
        for v in values {
            let back = Lit::new(v.clone()).value();
            assert_eq!(back, v);
            assert_eq!(back.to_string(), v.to_string());
        }
        assert!(Lit::new(Json::Null).is_null());
        assert!(!Lit::new(json!({})).is_null());
    }

    /// Sites of one text share a tree and its index; the indices count the distinct trees
    /// from 0 in the order of their first site.
    #[test]
    fn sites_of_one_text_share_a_tree_index() {
        let flow = br#"{"nodes": [
            {"id": "a", "condition": "$x > 1", "next": [{"condition": "$y", "goto": "b"}]},
            {"id": "b", "condition": "$x > 1", "output": [{"default": {"type": "text", "text": "<? $y ?>"}}]}
        ]}"#;
        let opts = super::CompileOptions {
            keep_sites: true,
            lint_only: false,
        };
        let c = super::load::typed_compile(flow, opts, |_, _, _| {}).expect("a valid flow");
        let pointers: Vec<String> = (c.sites.iter())
            .map(|s| c.place(s).at(&(0..0)).pointer().to_owned())
            .collect();
        let trees: Vec<(&str, usize)> = (pointers.iter().zip(&c.sites))
            .map(|(p, s)| (p.as_str(), s.tree()))
            .collect();
        assert_eq!(
            trees,
            [
                ("/nodes/0/condition", 0),
                ("/nodes/0/next/0/condition", 1),
                ("/nodes/1/condition", 0),
                // ` $y ` between the delimiters is another text than the condition's `$y`.
                ("/nodes/1/output/0/default/text", 2),
            ]
        );
    }
}
