//! Source files and positions: bytes to text, text to JSON with byte ranges, and byte offsets to
//! 1-based line and column.

pub mod json;
mod locate;

use crate::diagnostic::{Diagnostic, Located, LocatedLabel, Location};
use locate::Spans;
pub(crate) use locate::{array_index, node_index};
use std::ops::Range;
use std::sync::OnceLock;

/// A loaded file: its display path and its text (valid UTF-8, BOM removed), or only excerpts
/// of its text ([`SourceFile::from_excerpts`]: the report of a large file keeps the lines
/// around its findings). Positions are always the file's byte offsets, whichever it holds.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as given by the user (used in diagnostics).
    pub path: String,
    /// File text; empty when the source holds excerpts ([`SourceFile::is_whole`]).
    pub text: String,
    /// The excerpts held instead of the text, in file order (`None` when `text` is the file's).
    excerpts: Option<Vec<Excerpt>>,
    /// The line index: line feeds before each block of [`LINE_BLOCK`] bytes, built when
    /// counting line feeds for each position asked has cost more than building it would (a
    /// file with no finding, or with a few, never needs it). A line is then found by counting
    /// over at most one block. (An offset per line would take 4 MB for the half a million
    /// lines of a pretty-printed 12 MB export; this takes 24 KB.)
    feeds_before: OnceLock<Vec<usize>>,
    /// Bytes scanned so far to count the lines before a position without the index.
    counted: Counted,
    /// Characters before each block of [`BLOCK`] bytes, built on first use: a column is then
    /// counted over at most one block, so placing many findings on one long line (a minified
    /// export) stays linear.
    chars_before: OnceLock<Vec<usize>>,
    /// Characters outside the Basic Multilingual Plane (two UTF-16 code units each) before each
    /// block of [`BLOCK`] bytes, built on first use, so UTF-16 columns on a long minified line
    /// stay linear too.
    astral_before: OnceLock<Vec<usize>>,
}

/// Lines of a file held without the rest of its text.
#[derive(Debug, Clone)]
struct Excerpt {
    /// Where it starts in the file: a line's start.
    at: usize,
    /// The 0-based line it starts.
    line: usize,
    /// Its text, as a source of its own (its offsets are the file's less `at`).
    source: SourceFile,
    /// Set when the excerpt is a piece of one line, which it does not hold whole
    /// ([`SourceFile::from_pieces`]).
    head: Option<LineHead>,
}

/// What a piece of a line knows of the rest of its line.
#[derive(Debug, Clone)]
pub(crate) struct LineHead {
    /// Characters on the line before the piece.
    chars: usize,
    /// Of those, the characters of two UTF-16 code units.
    astral: usize,
    /// The line's byte range in the file, without its line terminator.
    line: Range<usize>,
}

/// A piece of a long line, read by [`read_pieces`] for [`SourceFile::from_pieces`].
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    /// Where it starts in the file.
    pub(crate) at: usize,
    /// The 0-based line it is on.
    line: usize,
    /// Where it is on its line.
    head: LineHead,
    /// Its text (no line feed in it).
    pub(crate) text: String,
}

/// Bytes per block of the character index.
const BLOCK: usize = 1024;

/// Bytes per block of the line index (less in tests, whose texts then span many blocks while
/// staying small).
const LINE_BLOCK: usize = if cfg!(test) { 64 } else { 4096 };

/// A 1-based line and column (columns count Unicode scalar values, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl SourceFile {
    /// Wraps a path and its text.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
            excerpts: None,
            feeds_before: OnceLock::new(),
            counted: Counted::default(),
            chars_before: OnceLock::new(),
            astral_before: OnceLock::new(),
        }
    }

    /// A source that holds only excerpts of the file at `path`: each `(at, line, text)` is the
    /// text from byte `at`, the start of the 0-based line `line`, to the end of a line (or of
    /// the file), in file order without overlaps. Positions inside an excerpt are placed as in
    /// the whole text; the others are not in the file this source holds (a position between
    /// two excerpts is taken to the end of the first).
    pub fn from_excerpts(
        path: impl Into<String>,
        excerpts: impl IntoIterator<Item = (usize, usize, String)>,
    ) -> Self {
        let mut s = SourceFile::new(path, String::new());
        s.excerpts = Some(
            excerpts
                .into_iter()
                .map(|(at, line, text)| Excerpt {
                    at,
                    line,
                    source: SourceFile::new(String::new(), text),
                    head: None,
                })
                .collect(),
        );
        s
    }

    /// A source that holds only pieces of long lines of the file at `path` ([`read_pieces`]),
    /// in file order without overlaps: positions inside a piece are placed as in the whole
    /// text, and the line of a piece is known by its range only (its text is not held, and
    /// [`SourceFile::slice`] of it is `None`).
    pub(crate) fn from_pieces(path: impl Into<String>, pieces: Vec<Piece>) -> Self {
        let mut s = SourceFile::new(path, String::new());
        s.excerpts = Some(
            pieces
                .into_iter()
                .map(|p| Excerpt {
                    at: p.at,
                    line: p.line,
                    source: SourceFile::new(String::new(), p.text),
                    head: Some(p.head),
                })
                .collect(),
        );
        s
    }

    /// Whether `text` is the whole file (not [`SourceFile::from_excerpts`]).
    pub fn is_whole(&self) -> bool {
        self.excerpts.is_none()
    }

    /// The text of the file's bytes `range`: `None` when the range is not on char boundaries
    /// or, in a source of excerpts, not inside one excerpt.
    pub fn slice(&self, range: Range<usize>) -> Option<&str> {
        if self.is_whole() {
            return self.text.get(range);
        }
        match self.excerpt_of(range.start) {
            None => None,
            Some(e) => e
                .source
                .text
                .get(range.start.checked_sub(e.at)?..range.end.checked_sub(e.at)?),
        }
    }

    /// The excerpt that holds `offset` (or the last one before it, or the first), in a source
    /// of excerpts.
    fn excerpt_of(&self, offset: usize) -> Option<&Excerpt> {
        let excerpts = self.excerpts.as_deref()?;
        let i = excerpts.partition_point(|e| e.at <= offset);
        excerpts.get(i.saturating_sub(1))
    }

    /// `offset` in the excerpt that holds it ([`SourceFile::excerpt_of`]): the excerpt and the
    /// offset in its text.
    fn local(&self, offset: usize) -> Option<(&Excerpt, usize)> {
        self.excerpt_of(offset)
            .map(|e| (e, offset.saturating_sub(e.at)))
    }

    /// The 0-based line index that holds `offset`.
    pub fn line_index(&self, offset: usize) -> usize {
        if let Some((e, o)) = self.local(offset) {
            return e.line + e.source.line_index(o);
        }
        let offset = offset.min(self.text.len());
        match self.index_if_due() {
            Some(feeds) => {
                let b = (offset / LINE_BLOCK).min(feeds.len().saturating_sub(1));
                let from = (b * LINE_BLOCK).min(offset);
                feeds.get(b).copied().unwrap_or(0)
                    + count_feeds(&self.text.as_bytes()[from..offset])
            }
            None => {
                self.counted.take(offset);
                count_feeds(&self.text.as_bytes()[..offset])
            }
        }
    }

    /// The line index once it is built, or once the bytes scanned to find lines without it
    /// have passed [`COUNT_BUDGET`] times the text (it is built then); `None` while scanning
    /// costs less. Line feeds are counted a few bytes an instruction and searched for faster
    /// still, and the index costs a dozen times more a byte: a file with a few findings never
    /// builds it, and one with many (a minified export with thousands, all on one line) builds
    /// it after scanning its text at most seventeen times.
    fn index_if_due(&self) -> Option<&[usize]> {
        match self.feeds_before.get() {
            Some(starts) => Some(starts),
            None if self.counted.get() > COUNT_BUDGET * self.text.len() => {
                Some(self.feeds_before())
            }
            None => None,
        }
    }

    /// Where the line that holds `offset` (clamped to the text) starts.
    fn line_start_at(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        match self.index_if_due() {
            Some(feeds) => self
                .indexed_start(feeds, self.line_index(offset))
                .unwrap_or(0),
            None => {
                let start =
                    memchr::memrchr(b'\n', &self.text.as_bytes()[..offset]).map_or(0, |i| i + 1);
                self.counted.take(offset - start);
                start
            }
        }
    }

    /// Byte range of the line that holds `offset`, without its line terminator: the
    /// [`SourceFile::line_range`] of its [`SourceFile::line_index`], found without the index
    /// while that costs less.
    pub fn line_range_at(&self, offset: usize) -> Range<usize> {
        if let Some((e, o)) = self.local(offset) {
            if let Some(h) = &e.head {
                return h.line.clone();
            }
            let r = e.source.line_range_at(o);
            return e.at + r.start..e.at + r.end;
        }
        let offset = offset.min(self.text.len());
        if self.index_if_due().is_some() {
            return self.line_range(self.line_index(offset));
        }
        let start = self.line_start_at(offset);
        let bytes = self.text.as_bytes();
        let mut end = memchr::memchr(b'\n', &bytes[offset..]).map_or(bytes.len(), |i| offset + i);
        self.counted.take(end - offset);
        if end > start && bytes.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        start..end.max(start)
    }

    /// Where the line `lines` lines below the one holding `offset` starts, or the text's end
    /// when there are not so many lines.
    pub fn line_start_below(&self, offset: usize, lines: usize) -> usize {
        if let Some((e, o)) = self.local(offset) {
            return e.at + e.source.line_start_below(o, lines);
        }
        let bytes = self.text.as_bytes();
        if let Some(feeds) = self.index_if_due() {
            return self
                .indexed_start(feeds, self.line_index(offset) + lines)
                .unwrap_or(bytes.len());
        }
        let start = self.line_start_at(offset);
        let mut at = start;
        for _ in 0..lines {
            match memchr::memchr(b'\n', &bytes[at..]) {
                Some(i) => at += i + 1,
                None => {
                    at = bytes.len();
                    break;
                }
            }
        }
        self.counted.take(at - start);
        at
    }

    /// Characters in `text[..offset]` (`offset` on a char boundary).
    fn char_offset(&self, offset: usize) -> usize {
        // Entry `i`: characters before the block boundary `floor_boundary(i * BLOCK)`.
        let index = self.chars_before.get_or_init(|| {
            let blocks = self.text.len() / BLOCK + 1;
            let mut v = Vec::with_capacity(blocks);
            let (mut total, mut prev) = (0usize, 0usize);
            for i in 0..blocks {
                let at = self.floor_boundary(i * BLOCK);
                total += self.text.get(prev..at).map_or(0, |s| s.chars().count());
                v.push(total);
                prev = at;
            }
            v
        });
        let i = (offset / BLOCK).min(index.len().saturating_sub(1));
        let at = self.floor_boundary(i * BLOCK);
        index.get(i).copied().unwrap_or(0)
            + self.text.get(at..offset).map_or(0, |s| s.chars().count())
    }

    /// Line and column of a byte offset (clamped to the text, snapped to a char boundary).
    pub fn line_col(&self, offset: usize) -> LineCol {
        if let Some((e, o)) = self.local(offset) {
            let at = e.source.line_col(o);
            return LineCol {
                line: e.line + at.line,
                column: at.column + e.head.as_ref().map_or(0, |h| h.chars),
            };
        }
        let offset = self.floor_boundary(offset);
        let line = self.line_index(offset);
        LineCol {
            line: line + 1,
            column: self.column_at(offset),
        }
    }

    /// [`SourceFile::line_col`] of `offset`, knowing `known`, the line and column of `from`:
    /// when `from` is at or before `offset` and the line index is not built, only the line
    /// feeds between the two are counted, not those before `from` again (a finding's end,
    /// after its start).
    pub(crate) fn line_col_after(&self, from: usize, known: LineCol, offset: usize) -> LineCol {
        if !self.is_whole() {
            return self.line_col(offset);
        }
        let from = self.floor_boundary(from);
        let offset = self.floor_boundary(offset);
        if offset < from || self.index_if_due().is_some() {
            return self.line_col(offset);
        }
        self.counted.take(offset - from);
        LineCol {
            line: known.line + count_feeds(&self.text.as_bytes()[from..offset]),
            column: self.column_at(offset),
        }
    }

    /// The 1-based column of `offset` (a char boundary) in its line.
    fn column_at(&self, offset: usize) -> usize {
        let start = self.line_start_at(offset);
        (if offset - start <= BLOCK {
            self.text
                .get(start..offset)
                .map_or(0, |s| s.chars().count())
        } else {
            self.char_offset(offset) - self.char_offset(start)
        }) + 1
    }

    /// The 1-based column of a byte offset counted in UTF-16 code units (what SARIF's
    /// `utf16CodeUnits` and GitHub code scanning expect): a character outside the Basic
    /// Multilingual Plane, such as an emoji, counts two.
    pub fn utf16_column(&self, offset: usize) -> usize {
        if let Some((e, o)) = self.local(offset) {
            return e.source.utf16_column(o) + e.head.as_ref().map_or(0, |h| h.chars + h.astral);
        }
        let offset = self.floor_boundary(offset);
        let start = self.line_start_at(offset);
        self.line_col(offset).column + self.astral_offset(offset)
            - self.astral_offset(start.min(offset))
    }

    /// Characters of four UTF-8 bytes (two UTF-16 units) in `text[..offset]`.
    fn astral_offset(&self, offset: usize) -> usize {
        let bytes = self.text.as_bytes();
        let index = self.astral_before.get_or_init(|| {
            (0..=bytes.len() / BLOCK)
                .scan(0usize, |total, i| {
                    let before = *total;
                    *total += bytes
                        .get(i * BLOCK..((i + 1) * BLOCK).min(bytes.len()))
                        .map_or(0, count_astral);
                    Some(before)
                })
                .collect()
        });
        let i = offset / BLOCK;
        index.get(i).copied().unwrap_or(0) + bytes.get(i * BLOCK..offset).map_or(0, count_astral)
    }

    /// Byte range of the 0-based line `line`, without its line terminator.
    pub fn line_range(&self, line: usize) -> Range<usize> {
        if let Some(excerpts) = &self.excerpts {
            let i = excerpts.partition_point(|e| e.line <= line);
            if let Some(e) = excerpts.get(i.saturating_sub(1)) {
                if let Some(h) = e.head.as_ref().filter(|_| e.line == line) {
                    return h.line.clone();
                }
                let r = e.source.line_range(line.saturating_sub(e.line));
                return e.at + r.start..e.at + r.end;
            }
        }
        let feeds = self.feeds_before();
        let start = self.indexed_start(feeds, line).unwrap_or(self.text.len());
        let mut end = self
            .indexed_start(feeds, line + 1)
            .map_or(self.text.len(), |e| e - 1);
        if end > start && self.text.as_bytes().get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        start..end.max(start)
    }

    /// The largest char boundary at or below `offset`.
    pub fn floor_boundary(&self, offset: usize) -> usize {
        if let Some((e, o)) = self.local(offset) {
            return e.at + e.source.floor_boundary(o);
        }
        let mut o = offset.min(self.text.len());
        while !self.text.is_char_boundary(o) {
            o -= 1;
        }
        o
    }

    /// Resolves findings to file positions, sorted by position. Pointers are looked up in
    /// `parsed_text` (the text the value was read from: the same length as the file's), in one
    /// pass whatever the number of findings.
    pub fn locate(&self, parsed_text: &str, diags: Vec<Diagnostic>) -> Vec<Located> {
        self.locate_at(parsed_text, diags, &[])
    }

    /// [`SourceFile::locate`], knowing where each node of a flow starts (byte offsets in
    /// `parsed_text`, from the typed read): a finding inside node `i` is placed by scanning
    /// that node only, not the nodes before it.
    pub(crate) fn locate_at(
        &self,
        parsed_text: &str,
        diags: Vec<Diagnostic>,
        node_starts: &[usize],
    ) -> Vec<Located> {
        let wanted: rustc_hash::FxHashSet<&str> = diags
            .iter()
            .flat_map(|d| std::iter::once(&d.primary).chain(&d.secondary))
            .filter(|l| !matches!(l.location, Location::Raw(_) | Location::Exact(..)))
            .map(|l| l.location.pointer())
            .collect();
        let spans = if self.is_whole() {
            Spans::scan(parsed_text, &wanted, node_starts)
        } else {
            self.scan_excerpts(&wanted, node_starts)
        };
        let raw = |r: Range<usize>| {
            if self.is_whole() {
                parsed_text.get(r)
            } else {
                self.slice(r)
            }
        };
        let range_of = |loc: &Location| -> Range<usize> {
            match loc {
                Location::Raw(r) | Location::Exact(_, r) => Some(r.clone()),
                Location::Value(p) => spans.value(p),
                Location::Key(p) => spans.key(p),
                Location::InString(p, inner) => spans.in_string(raw, p, inner.clone()),
            }
            .unwrap_or(0..0)
        };
        // Placed in the order of the result (by position, then rule; a stable sort, so
        // findings at one place keep the order they were made in), each finding's line counted
        // on from the previous one's, not from the top: the text is scanned about once, not
        // once per finding.
        let mut placed: Vec<(Range<usize>, Diagnostic)> = diags
            .into_iter()
            .map(|d| (range_of(&d.primary.location), d))
            .collect();
        placed.sort_by(|(a, x), (b, y)| (a.start, x.rule.code).cmp(&(b.start, y.rule.code)));
        // The previous finding's offset and its line and column (the text's start at first).
        let mut last = (0, LineCol { line: 1, column: 1 });
        placed
            .into_iter()
            .map(|(range, d)| {
                let start = self.line_col_after(last.0, last.1, range.start);
                last = (range.start, start);
                let end = self.line_col_after(range.start, start, range.end);
                let related = d
                    .secondary
                    .iter()
                    .map(|l| {
                        let r = range_of(&l.location);
                        let at = self.line_col(r.start);
                        LocatedLabel {
                            line: at.line,
                            column: at.column,
                            pointer: l.location.pointer().to_owned(),
                            message: l.message.clone(),
                            range: r,
                        }
                    })
                    .collect();
                Located {
                    code: d.rule.code,
                    severity: d.severity,
                    pointer: d.primary.location.pointer().to_owned(),
                    message: d.message,
                    file: self.path.clone(),
                    line: start.line,
                    column: start.column,
                    end_line: end.line,
                    end_column: end.column,
                    help: d.help,
                    related,
                    range,
                    label: d.primary.message,
                    fix: d.fix,
                    node: d.node,
                }
            })
            .collect()
    }
}

impl SourceFile {
    /// The spans of the `wanted` pointers in a source of excerpts: each pointer inside a node
    /// is looked for in the excerpt that holds the node's start (`node_starts`, offsets in
    /// the file). A pointer outside the nodes, or in a node no excerpt holds, is not found.
    fn scan_excerpts(&self, wanted: &rustc_hash::FxHashSet<&str>, node_starts: &[usize]) -> Spans {
        let excerpts = self.excerpts.as_deref().unwrap_or_default();
        let end = excerpts.last().map_or(0, |e| e.at + e.source.text.len());
        // The wanted pointers by the excerpt that holds their node's start.
        let mut by_excerpt: Vec<rustc_hash::FxHashSet<&str>> =
            vec![Default::default(); excerpts.len()];
        for &w in wanted {
            let Some(&at) = node_index(w).and_then(|i| node_starts.get(i)) else {
                continue;
            };
            let i = excerpts.partition_point(|e| e.at <= at).checked_sub(1);
            if let Some(i) = i.filter(|&i| at < excerpts[i].at + excerpts[i].source.text.len()) {
                by_excerpt[i].insert(w);
            }
        }
        let mut spans = Spans::empty(end);
        for (e, here) in excerpts.iter().zip(&by_excerpt) {
            if here.is_empty() {
                continue;
            }
            let within = e.at..e.at + e.source.text.len();
            let start = |i: usize| {
                node_starts
                    .get(i)
                    .filter(|s| within.contains(s))
                    .map(|s| s - e.at)
            };
            spans.take_shifted(Spans::scan_by(&e.source.text, here, start), e.at);
        }
        spans
    }
}

/// The excerpts of a file that hold the byte ranges `wanted` (sorted by start), read from
/// `file` (from its start), for [`SourceFile::from_excerpts`]: each range widened to whole
/// lines, and excerpts that meet joined. `None` when the excerpts would hold half of the file's
/// `len` bytes or more (reading it whole costs less), or are not UTF-8.
///
/// The file is read once a window at a time to count its lines up to the last excerpt, keeping
/// none of it; then each excerpt is read from where it starts.
pub(crate) fn read_excerpts<R: std::io::Read + std::io::Seek>(
    file: &mut R,
    len: u64,
    wanted: &[Range<usize>],
) -> std::io::Result<Option<Vec<(usize, usize, String)>>> {
    let half = usize::try_from(len.div_ceil(2)).unwrap_or(usize::MAX);
    let Some(bounds) = excerpt_bounds(file, wanted, half)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(bounds.len());
    for (start, line, end) in bounds {
        file.seek(std::io::SeekFrom::Start(start as u64))?;
        let mut bytes = vec![0; end - start];
        file.read_exact(&mut bytes)?;
        match String::from_utf8(bytes) {
            Ok(text) => out.push((start, line, text)),
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// Where the excerpts of [`read_excerpts`] are: `(start, line, end)` for each, `line` being the
/// 0-based line that starts at `start`. The file is read to the end of the last one, or until
/// the excerpts reach `budget` bytes (`None` then: a minified file's one line is found to be too
/// long once half of it is read, not all).
fn excerpt_bounds(
    file: &mut impl std::io::Read,
    wanted: &[Range<usize>],
    budget: usize,
) -> std::io::Result<Option<Vec<(usize, usize, usize)>>> {
    /// The excerpt being found: where it starts, its first line, and the end of the ranges it
    /// holds (it ends after the first line feed from there).
    struct Open {
        start: usize,
        line: usize,
        end: usize,
    }
    let mut buf = vec![0u8; 64 << 10];
    let mut out = Vec::new();
    // Bytes of the excerpts found so far.
    let mut held = 0;
    // The file offset of `buf[0]`, the line feeds before `pos + i` and where that line starts.
    let (mut pos, mut line, mut line_start) = (0usize, 0usize, 0usize);
    let mut next = wanted.iter().peekable();
    let mut open: Option<Open> = None;
    while open.is_some() || next.peek().is_some() {
        let n = read_some(file, &mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        let mut i = 0;
        // Counts the lines of `chunk[i..to]` and moves `i` to `to`.
        let pass = |i: &mut usize, to: usize, line: &mut usize, line_start: &mut usize| {
            let bytes = &chunk[*i..to];
            *line += count_feeds(bytes);
            if let Some(k) = memchr::memrchr(b'\n', bytes) {
                *line_start = pos + *i + k + 1;
            }
            *i = to;
        };
        while i < n {
            let here = pos + i;
            if held + open.as_ref().map_or(0, |o| here - o.start) >= budget {
                return Ok(None);
            }
            match open.as_mut() {
                None => match next.peek() {
                    None => pass(&mut i, n, &mut line, &mut line_start),
                    Some(r) if r.start >= pos + n => pass(&mut i, n, &mut line, &mut line_start),
                    Some(r) => {
                        pass(&mut i, r.start.max(here) - pos, &mut line, &mut line_start);
                        open = Some(Open {
                            start: line_start,
                            line,
                            end: r.end,
                        });
                        next.next();
                    }
                },
                Some(o) => {
                    // A range that starts before the excerpt ends joins it.
                    if let Some(r) = next.next_if(|r| r.start <= here.max(o.end)) {
                        o.end = o.end.max(r.end);
                        continue;
                    }
                    if here < o.end {
                        pass(&mut i, o.end.min(pos + n) - pos, &mut line, &mut line_start);
                        continue;
                    }
                    // Past the ranges: to the end of the line, unless a range starts first.
                    let stop = next.peek().map_or(pos + n, |r| r.start.min(pos + n));
                    match memchr::memchr(b'\n', &chunk[i..stop - pos]) {
                        Some(at) => {
                            let to = i + at + 1;
                            pass(&mut i, to, &mut line, &mut line_start);
                            out.push((o.start, o.line, pos + to));
                            held += pos + to - o.start;
                            open = None;
                        }
                        None => pass(&mut i, stop - pos, &mut line, &mut line_start),
                    }
                }
            }
        }
        pos += n;
    }
    if let Some(o) = open {
        out.push((o.start, o.line, pos));
        held += pos - o.start;
    }
    Ok((held < budget).then_some(out))
}

/// The pieces of a file that hold the byte ranges `wanted` (sorted by start), read from `file`
/// (from its start), for [`SourceFile::from_pieces`]: each range (ranges that meet joined)
/// with its line, the characters before it on its line and the line's range. `None` unless
/// each range is inside one line longer than `longer_than` bytes (a line a report shows whole
/// is read as [`read_excerpts`] reads it), or when the pieces would hold half of the file's
/// `len` bytes or more, or are not UTF-8.
///
/// This is how the report of a minified file, one line of megabytes, places its findings
/// without reading the line: the file is read once a window at a time, counting lines and
/// characters and keeping nothing, then each piece is read from where it starts.
pub(crate) fn read_pieces<R: std::io::Read + std::io::Seek>(
    file: &mut R,
    len: u64,
    wanted: &[Range<usize>],
    longer_than: usize,
) -> std::io::Result<Option<Vec<Piece>>> {
    let half = usize::try_from(len.div_ceil(2)).unwrap_or(usize::MAX);
    let mut ranges: Vec<Range<usize>> = Vec::with_capacity(wanted.len());
    for r in wanted {
        match ranges.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => ranges.push(r.clone()),
        }
    }
    if ranges.iter().map(|r| r.len()).sum::<usize>() >= half {
        return Ok(None);
    }
    let Some(heads) = piece_heads(file, &ranges)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(ranges.len());
    for (r, h) in ranges.into_iter().zip(heads) {
        if h.head.line.len() <= longer_than {
            return Ok(None);
        }
        file.seek(std::io::SeekFrom::Start(r.start as u64))?;
        let mut bytes = vec![0; r.len()];
        file.read_exact(&mut bytes)?;
        match String::from_utf8(bytes) {
            Ok(text) => out.push(Piece { text, ..h }),
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// For each of `ranges` (sorted, apart), the [`Piece`] that holds it, with no text yet: read
/// from `file` a window at a time to the end of the last range's line. `None` when a range
/// holds a line feed or is not inside the file.
fn piece_heads(
    file: &mut impl std::io::Read,
    ranges: &[Range<usize>],
) -> std::io::Result<Option<Vec<Piece>>> {
    /// Characters in `b` (UTF-8 bytes that do not continue one).
    fn chars(b: &[u8]) -> usize {
        count_where(b, |x| x & 0xC0 != 0x80)
    }
    let mut buf = vec![0u8; 64 << 10];
    let mut out: Vec<Piece> = Vec::with_capacity(ranges.len());
    // The pieces from `waiting` on have not yet met the end of their line.
    let mut waiting = 0;
    // The file offset of `buf[0]`, the line feeds before `pos + i`, where that line starts,
    // its characters and astral characters before `pos + i`, and the byte before `pos + i`.
    let (mut pos, mut line, mut line_start) = (0usize, 0usize, 0usize);
    let (mut line_chars, mut line_astral, mut before) = (0usize, 0usize, 0u8);
    while waiting < ranges.len() {
        let n = read_some(file, &mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        let mut i = 0;
        loop {
            let here = pos + i;
            // The ranges are apart: at most one starts here.
            if let Some(r) = ranges.get(out.len()).filter(|r| r.start == here) {
                out.push(Piece {
                    at: r.start,
                    line,
                    head: LineHead {
                        chars: line_chars,
                        astral: line_astral,
                        line: line_start..usize::MAX,
                    },
                    text: String::new(),
                });
            }
            if i == n {
                break;
            }
            // Inside the last range opened, or before the next one.
            let open = out
                .len()
                .checked_sub(1)
                .map(|k| &ranges[k])
                .filter(|r| r.end > here);
            let stop = match open {
                Some(r) => r.end,
                None => ranges.get(out.len()).map_or(usize::MAX, |r| r.start),
            };
            let stop = stop.min(pos + n) - pos;
            let bytes = &chunk[i..stop];
            if let Some(first) = memchr::memchr(b'\n', bytes) {
                if open.is_some() {
                    return Ok(None);
                }
                // The line of the waiting pieces ends here (before a `\r` that ends it too).
                let cr = (if first == 0 { before } else { bytes[first - 1] }) == b'\r';
                let end = here + first - usize::from(cr);
                for p in &mut out[waiting..] {
                    p.head.line.end = end.max(p.head.line.start);
                }
                waiting = out.len();
                let last = memchr::memrchr(b'\n', bytes).unwrap_or(first);
                line += count_feeds(bytes);
                line_start = here + last + 1;
                line_chars = chars(&bytes[last + 1..]);
                line_astral = count_astral(&bytes[last + 1..]);
            } else {
                line_chars += chars(bytes);
                line_astral += count_astral(bytes);
            }
            if let Some(&b) = bytes.last() {
                before = b;
            }
            i = stop;
        }
        pos += n;
    }
    // A line not ended by a line feed ends with the file (before a `\r` that ends it).
    let end = pos - usize::from(before == b'\r');
    for p in &mut out[waiting..] {
        p.head.line.end = end.max(p.head.line.start);
    }
    let whole = out.len() == ranges.len() && ranges.last().is_none_or(|r| r.end <= pos);
    Ok(whole.then_some(out))
}

/// Reads into `buf` as [`std::io::Read::read`] does, again when interrupted: 0 at the end.
fn read_some(file: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            read => return read,
        }
    }
}

/// How many times the text's length the line counts of positions may scan before the line
/// index is built instead.
const COUNT_BUDGET: usize = 16;

/// A count of bytes that threads share (a report may be rendered on several), copied with its
/// value.
#[derive(Debug, Default)]
struct Counted(std::sync::atomic::AtomicUsize);

impl Counted {
    /// Adds `bytes` scanned.
    fn take(&self, bytes: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        // Saturating: the count only has to pass the budget.
        let _ = self
            .0
            .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_add(bytes)));
    }

    /// The bytes scanned so far.
    fn get(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted(self.0.load(std::sync::atomic::Ordering::Relaxed).into())
    }
}

/// The line feeds in `bytes`.
fn count_feeds(bytes: &[u8]) -> usize {
    count_where(bytes, |b| b == b'\n')
}

/// Characters of four UTF-8 bytes (two UTF-16 code units) in `bytes`.
fn count_astral(bytes: &[u8]) -> usize {
    count_where(bytes, |b| b >= 0xF0)
}

/// The bytes of `bytes` that `f` holds, summed in bytes over runs of 255, which the compiler
/// turns into vector code.
fn count_where(bytes: &[u8], f: fn(u8) -> bool) -> usize {
    bytes
        .chunks(255)
        .map(|c| usize::from(c.iter().map(|&b| u8::from(f(b))).sum::<u8>()))
        .sum()
}

impl SourceFile {
    /// The line index (the `feeds_before` field): entry `b` counts the line feeds
    /// before byte `b * LINE_BLOCK`, and the last entry those of the whole text.
    fn feeds_before(&self) -> &[usize] {
        self.feeds_before.get_or_init(|| {
            let bytes = self.text.as_bytes();
            let mut feeds = Vec::with_capacity(bytes.len() / LINE_BLOCK + 2);
            let mut total = 0;
            feeds.push(0);
            for block in bytes.chunks(LINE_BLOCK) {
                total += count_feeds(block);
                feeds.push(total);
            }
            feeds
        })
    }

    /// Where the 0-based line `line` starts, from the line index `feeds`; `None` when the
    /// text has fewer lines. Found by counting over one block.
    fn indexed_start(&self, feeds: &[usize], line: usize) -> Option<usize> {
        if line == 0 {
            return Some(0);
        }
        // The line starts after the `line`-th line feed, in the block before the first entry
        // that counts `line` feeds before it (or the last block).
        let b = feeds.partition_point(|&f| f < line).checked_sub(1)?;
        let from = b * LINE_BLOCK;
        let to = (from + LINE_BLOCK).min(self.text.len());
        let nth = line - feeds.get(b)?;
        memchr::memchr_iter(b'\n', self.text.as_bytes().get(from..to)?)
            .nth(nth - 1)
            .map(|i| from + i + 1)
    }
}

/// Every `.json` file under `dir`, for the unit tests that read the project's flows and
/// fixtures: at any depth, sorted (none when `dir` cannot be read).
#[cfg(test)]
pub(crate) fn json_files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for p in rd.filter_map(Result::ok).map(|e| e.path()) {
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    /// Pseudo-random numbers below their argument (xorshift from `seed`), the same in every
    /// run.
    fn numbers(mut seed: u64) -> impl FnMut(usize) -> usize {
        move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n.max(1) as u64).unwrap_or(0)
        }
    }

    /// The excerpts read for byte ranges hold each range, start at a line's start with that
    /// line's number, end after a line feed (or at the file's end), do not overlap, and are the
    /// file's own bytes; and a source of them places and slices like the whole text inside
    /// them. Texts of lines of every length (longer than the 64 KiB window too, none at the
    /// end), ranges anywhere (at the start and end, across windows, touching, overlapping).
    #[test]
    fn excerpts_hold_their_ranges_in_whole_lines() {
        let mut next = numbers(0x2545_f491_4f6c_dd1du64);
        let mut checked = 0;
        for round in 0..60 {
            let mut text = String::new();
            while text.len() < 400_000 {
                let len = match next(300) {
                    0 => 66_000 + next(30_000),
                    1..=30 => 0,
                    _ => next(120),
                };
                text.push_str(&"é".repeat(next(3)));
                text.push_str(&"x".repeat(len));
                text.push('\n');
            }
            if round % 2 == 0 {
                text.pop();
            }
            let len = text.len();
            let mut wanted: Vec<Range<usize>> = (0..1 + next(12))
                .map(|_| {
                    let a = match next(6) {
                        0 => 0,
                        1 => len - 1,
                        _ => next(len),
                    };
                    a..(a + 1 + next(3_000)).min(len)
                })
                .collect();
            wanted.sort_by_key(|r| r.start);
            let mut file = std::io::Cursor::new(text.as_bytes());
            let Some(excerpts) = super::read_excerpts(&mut file, len as u64, &wanted).unwrap()
            else {
                continue;
            };
            checked += 1;
            let starts: Vec<usize> = std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
                .collect();
            let mut last_end = 0;
            for (at, line, part) in &excerpts {
                assert!(*at >= last_end, "in order, apart");
                assert_eq!(starts.get(*line), Some(at), "starts line {line}");
                let end = at + part.len();
                assert!(end == len || text.as_bytes()[end - 1] == b'\n');
                assert_eq!(&text[*at..end], part);
                last_end = end;
            }
            for r in &wanted {
                assert!(
                    excerpts
                        .iter()
                        .any(|(at, _, p)| *at <= r.start && r.end <= at + p.len()),
                    "{r:?} held"
                );
            }
            let whole = super::SourceFile::new("f", text.clone());
            let parts = super::SourceFile::from_excerpts("f", excerpts);
            for r in &wanted {
                for o in [r.start, r.end, (r.start + r.end) / 2] {
                    assert_eq!(parts.line_col(o), whole.line_col(o), "{o}");
                    assert_eq!(parts.utf16_column(o), whole.utf16_column(o), "{o}");
                    assert_eq!(parts.line_range_at(o), whole.line_range_at(o), "{o}");
                    assert_eq!(parts.floor_boundary(o), whole.floor_boundary(o), "{o}");
                }
                let r = whole.floor_boundary(r.start)..whole.floor_boundary(r.end);
                assert_eq!(parts.slice(r.clone()), whole.slice(r));
            }
        }
        assert!(checked >= 20, "{checked} of 60 texts read in excerpts");
    }

    /// The pieces read for byte ranges on long lines hold each range (ranges that meet
    /// joined), are the file's own bytes, and a source of them places like the whole text at
    /// every position inside them: line, column (in characters and in UTF-16 units, after
    /// wide and astral characters), the line's range (`\n` and `\r\n` ends, none at the end)
    /// and the range of the piece's line; slices inside a piece are the text's. A range on a
    /// line too short, or over a line feed, gets no pieces.
    #[test]
    fn pieces_place_like_the_whole_text() {
        let mut next = numbers(0x9e37_79b9_7f4a_7c15u64);
        let longer_than = 4096;
        let mut checked = 0;
        for round in 0..40 {
            let mut text = String::new();
            while text.len() < 300_000 {
                let len = match next(4) {
                    0 => next(100),
                    _ => 4_097 + next(80_000),
                };
                for _ in 0..len / 40 {
                    text.push_str(["é", "😀", "x", "\r"][next(4)]);
                    text.push_str(&"a".repeat(next(60)));
                }
                text.push_str(if next(2) == 0 { "\r\n" } else { "\n" });
            }
            if round % 2 == 0 {
                text.pop();
            }
            let whole = super::SourceFile::new("f", text.clone());
            let len = text.len();
            let mut wanted: Vec<Range<usize>> = (0..1 + next(30))
                .filter_map(|_| {
                    let a = whole.floor_boundary(next(len));
                    let line = whole.line_range_at(a);
                    let b = whole.floor_boundary((a + next(3_000)).min(line.end));
                    (line.len() > longer_than).then_some(a.min(b)..b)
                })
                .collect();
            wanted.sort_by_key(|r| r.start);
            let mut file = std::io::Cursor::new(text.as_bytes());
            let pieces = super::read_pieces(&mut file, len as u64, &wanted, longer_than).unwrap();
            let Some(pieces) = pieces else {
                assert!(wanted.is_empty(), "{wanted:?}");
                continue;
            };
            checked += 1;
            for p in &pieces {
                assert_eq!(&text[p.at..p.at + p.text.len()], p.text);
            }
            for r in &wanted {
                assert!(pieces
                    .iter()
                    .any(|p| p.at <= r.start && r.end <= p.at + p.text.len()));
            }
            let parts = super::SourceFile::from_pieces("f", pieces.clone());
            for r in &wanted {
                for o in [r.start, r.end, (r.start + r.end) / 2] {
                    let o = whole.floor_boundary(o);
                    assert_eq!(parts.line_col(o), whole.line_col(o), "{o}");
                    assert_eq!(parts.utf16_column(o), whole.utf16_column(o), "{o}");
                    assert_eq!(parts.line_range_at(o), whole.line_range_at(o), "{o}");
                    assert_eq!(parts.line_index(o), whole.line_index(o), "{o}");
                    let line = whole.line_index(o);
                    assert_eq!(parts.line_range(line), whole.line_range(line), "{o}");
                }
                assert_eq!(parts.slice(r.clone()), whole.slice(r.clone()));
            }
            // A line a report shows whole is not read in pieces; nor is a range over a line
            // feed.
            let short = (0..len).find(|&o| whole.line_range_at(o).len() <= longer_than);
            if let Some(o) = short {
                let mut file = std::io::Cursor::new(text.as_bytes());
                let r = o..o;
                let pieces = super::read_pieces(&mut file, len as u64, &[r], longer_than);
                assert!(pieces.unwrap().is_none());
            }
            let feed = text.find('\n').unwrap_or_default();
            let mut file = std::io::Cursor::new(text.as_bytes());
            let over = feed.saturating_sub(1)..feed + 1;
            assert!(super::read_pieces(&mut file, len as u64, &[over], 0)
                .unwrap()
                .is_none());
        }
        assert!(checked >= 30, "{checked} of 40 texts read in pieces");
    }

    /// Lines found around a position without the index (counted, or searched for from the
    /// position) and with it are the lines of the text, at every offset of texts with `\n`
    /// and `\r\n` ends, empty lines, wide characters, no line end at the end, and lines and
    /// long lines across many blocks of the index; and once the counting budget is spent the
    /// index answers alike.
    #[test]
    fn lines_found_without_the_index_are_the_index_lines() {
        let block = super::LINE_BLOCK;
        let texts = [
            String::new(),
            "\n".into(),
            "a".into(),
            "ab\r\n\r\n😀é\n\nx".into(),
            format!("{}\n{}", "é".repeat(300), "a\nb\r\n".repeat(200)),
            format!(
                "{}{}\n{}\n\n{}",
                "a\nb\r\n\n".repeat(block / 3),
                "x".repeat(3 * block + 5),
                "é".repeat(block),
                "\n".repeat(block + 1)
            ),
            "\n".repeat(2 * block),
            "y".repeat(2 * block),
        ];
        for t in &texts {
            let starts: Vec<usize> = std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', t.as_bytes()).map(|i| i + 1))
                .collect();
            let counted = super::SourceFile::new("f", t.clone());
            let indexed = super::SourceFile::new("f", t.clone());
            let _ = indexed.feeds_before();
            for o in 0..=t.len() + 2 {
                let line = starts.partition_point(|&s| s <= o.min(t.len())) - 1;
                assert_eq!(indexed.line_index(o), line, "{t:?} at {o}");
                assert_eq!(counted.line_index(o), line, "{t:?} at {o}");
                let mut end = starts.get(line + 1).map_or(t.len(), |e| e - 1);
                if end > starts[line] && t.as_bytes()[end - 1] == b'\r' {
                    end -= 1;
                }
                assert_eq!(indexed.line_range(line), starts[line]..end, "{t:?} at {o}");
                assert_eq!(counted.line_range_at(o), starts[line]..end, "{t:?} at {o}");
                assert_eq!(indexed.line_range_at(o), starts[line]..end, "{t:?} at {o}");
                for below in 0..4 {
                    let expected = starts.get(line + below).copied().unwrap_or(t.len());
                    let at = counted.line_start_below(o, below);
                    assert_eq!(at, expected, "{t:?} at {o}, {below} below");
                    let at = indexed.line_start_below(o, below);
                    assert_eq!(at, expected, "{t:?} at {o}, {below} below");
                }
            }
            for line in 0..starts.len() + 2 {
                let start = starts.get(line).copied();
                assert_eq!(indexed.indexed_start(indexed.feeds_before(), line), start);
            }
            // Asked at every offset, a long text's counts outgrow the budget.
            if t.len() > 1000 {
                assert!(counted.feeds_before.get().is_some(), "the budget ends");
            }
        }
    }

    /// Findings made in any order are placed by position, then rule, each at the line and
    /// column its position has on its own (lines counted on from the finding before it), and
    /// findings of one rule at one position keep the order they were made in.
    #[test]
    fn findings_are_placed_in_file_order_at_their_own_lines() {
        use crate::diagnostic::{Diagnostic, Location};
        use crate::source::json::{DuplicateKey, JsonSyntax};
        let t = format!("{}x\n😀é\n{}", "a\nbc\r\n".repeat(700), "é".repeat(90));
        let f = super::SourceFile::new("f", t.clone());
        let at = [7usize, 3000, 5, 5, 5, t.len() - 1, 1200, 0, 3000, 2];
        let diags: Vec<Diagnostic> = (at.iter().enumerate())
            .map(|(i, &o)| {
                let floor = f.floor_boundary(o);
                let end = f.floor_boundary(o + 9);
                let loc = Location::Raw(floor..end);
                if i % 3 == 0 {
                    Diagnostic::new::<DuplicateKey>(loc, format!("{i}"))
                } else {
                    Diagnostic::new::<JsonSyntax>(loc, format!("{i}"))
                }
            })
            .collect();
        let placed = f.locate(&t, diags);
        let alone = super::SourceFile::new("f", t.clone());
        let mut expected: Vec<(usize, &str, usize)> = (at.iter().enumerate())
            .map(|(i, &o)| {
                let code = if i % 3 == 0 {
                    "duplicate-key"
                } else {
                    "json-syntax"
                };
                (f.floor_boundary(o), code, i)
            })
            .collect();
        expected.sort_by_key(|&(o, code, _)| (o, code));
        assert_eq!(placed.len(), expected.len());
        for (l, (o, code, i)) in placed.iter().zip(expected) {
            assert_eq!(
                (l.range.start, l.code, l.message.as_str()),
                (o, code, &*i.to_string())
            );
            let start = alone.line_col(o);
            let end = alone.line_col(l.range.end);
            assert_eq!((l.line, l.column), (start.line, start.column), "at {o}");
            assert_eq!((l.end_line, l.end_column), (end.line, end.column), "at {o}");
        }
    }

    #[test]
    fn a_position_after_a_known_one_is_placed_as_on_its_own() {
        let texts = [
            "ab\r\n\r\n😀é\n\nx".to_owned(),
            format!("{}\n{}", "é".repeat(700), "a\nb\r\n".repeat(40)),
        ];
        for t in &texts {
            let alone = super::SourceFile::new("f", t.clone());
            for from in (0..=t.len() + 1).step_by(3) {
                // A fresh file each time, so that the counts run without the index.
                let after = super::SourceFile::new("f", t.clone());
                let known = after.line_col(from);
                for o in (0..=t.len() + 1).step_by(7) {
                    assert_eq!(
                        after.line_col_after(from, known, o),
                        alone.line_col(o),
                        "{t:?}: {o} after {from}"
                    );
                }
            }
        }
    }
    #[test]
    fn utf16_columns_count_astral_characters_twice() {
        let long = format!("{}😀x\n😀😀é y", "a".repeat(3 * super::BLOCK));
        let f = super::SourceFile::new("f", long.clone());
        let x = long.find('x').unwrap_or_default();
        assert_eq!(f.line_col(x).column, 3 * super::BLOCK + 2);
        assert_eq!(f.utf16_column(x), 3 * super::BLOCK + 3);
        let y = long.find('y').unwrap_or_default();
        assert_eq!((f.line_col(y).column, f.utf16_column(y)), (5, 7));
        assert_eq!(f.utf16_column(long.len() + 10), f.utf16_column(long.len()));
    }

    use super::*;

    #[test]
    fn positions_count_characters_and_lines() {
        let f = SourceFile::new("x", "ab\nçé\r\nz");
        assert_eq!(f.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(f.line_col(3), LineCol { line: 2, column: 1 });
        assert_eq!(f.line_col(5), LineCol { line: 2, column: 2 });
        assert_eq!(f.line_col(9), LineCol { line: 3, column: 1 });
        assert_eq!(&f.text[f.line_range(1)], "çé");
        // Offsets inside a multi-byte char snap back.
        assert_eq!(f.line_col(4), LineCol { line: 2, column: 1 });
    }

    #[test]
    fn long_lines_count_characters_through_the_index() {
        // One line of mixed one- and multi-byte characters, far longer than a block.
        let unit = "aé😀b";
        let text = unit.repeat(2000);
        let f = SourceFile::new("x", text.clone());
        for offset in (0..text.len()).step_by(97) {
            let offset = f.floor_boundary(offset);
            let expected = text[..offset].chars().count() + 1;
            assert_eq!(f.line_col(offset).column, expected, "offset {offset}");
        }
    }
}
