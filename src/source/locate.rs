//! JSON Pointers back to byte ranges, in one pass over the text and without building a tree.
//!
//! A finding names where it is with a JSON Pointer; only the pointers of the findings are looked
//! up. The scan walks the text once, descends only into the containers on the way to a wanted
//! pointer, and skips every other subtree by bracket matching, so placing findings costs about
//! a scan of the bytes, whatever the number of findings.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::ops::Range;

/// Where the values (and the keys of members) at the wanted pointers are.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    values: HashMap<String, Range<usize>>,
    keys: HashMap<String, Range<usize>>,
    /// Decoded-offset → raw-offset tables of string values, built on first use (`None`: the
    /// literal has no escape, offsets map one to one).
    escapes: std::cell::RefCell<HashMap<String, Option<Vec<usize>>>>,
    text_len: usize,
}

impl Spans {
    /// Scans `text` (valid JSON) for the pointers in `wanted`. `node_starts`, when not empty,
    /// holds the offset of each element of the top-level `nodes` array (as the typed read found
    /// them): a pointer inside node `i` is then looked for from that node's start, within that
    /// node only.
    pub(crate) fn scan(text: &str, wanted: &HashSet<&str>, node_starts: &[usize]) -> Spans {
        Spans::scan_by(text, wanted, |i| node_starts.get(i).copied())
    }

    /// [`Spans::scan`], with the offset in `text` of each node's start, when it is known, given
    /// by `node_start`.
    pub(crate) fn scan_by(
        text: &str,
        wanted: &HashSet<&str>,
        node_start: impl Fn(usize) -> Option<usize>,
    ) -> Spans {
        let mut s = Spans {
            text_len: text.len(),
            ..Default::default()
        };
        // The wanted pointers inside a node whose start is known, by node, and the others.
        let mut by_node: HashMap<usize, HashSet<&str>> = HashMap::default();
        let mut rest: HashSet<&str> = HashSet::default();
        for &w in wanted {
            match node_index(w).filter(|&i| node_start(i).is_some()) {
                Some(i) => {
                    by_node.entry(i).or_default().insert(w);
                }
                None => {
                    rest.insert(w);
                }
            }
        }
        if !rest.is_empty() {
            s.scan_from(text, &rest, 0, &mut String::new(), 0);
        }
        for (i, within) in &by_node {
            if let Some(at) = node_start(*i) {
                s.scan_from(text, within, at, &mut format!("/nodes/{i}"), 2);
            }
        }
        s
    }

    /// Scans the value at `at`, whose pointer is `pointer` and depth `depth`, for the pointers
    /// in `wanted`.
    fn scan_from(
        &mut self,
        text: &str,
        wanted: &HashSet<&str>,
        at: usize,
        pointer: &mut String,
        depth: usize,
    ) {
        // Every prefix of a wanted pointer is a container on the way to it.
        let mut on_the_way: HashSet<&str> = HashSet::default();
        for w in wanted {
            let mut p: &str = w;
            while let Some(cut) = p.rfind('/') {
                p = &p[..cut];
                if !on_the_way.insert(p) {
                    break;
                }
            }
        }
        let mut scanner = Scanner {
            bytes: text.as_bytes(),
            text,
            at,
            wanted,
            on_the_way: &on_the_way,
            out: self,
        };
        scanner.ws();
        // A pointer of "" is the whole document.
        scanner.value(pointer, depth);
    }

    /// Takes the spans of `other`, found in a text that starts `by` bytes into this one's.
    pub(crate) fn take_shifted(&mut self, other: Spans, by: usize) {
        let shift = |(k, r): (String, Range<usize>)| (k, r.start + by..r.end + by);
        self.values.extend(other.values.into_iter().map(shift));
        self.keys.extend(other.keys.into_iter().map(shift));
    }

    /// The spans of none of the pointers, in a text of `len` bytes.
    pub(crate) fn empty(len: usize) -> Spans {
        Spans {
            text_len: len,
            ..Default::default()
        }
    }

    /// Byte range of the value at `pointer`.
    pub(crate) fn value(&self, pointer: &str) -> Option<Range<usize>> {
        self.values.get(pointer).cloned()
    }

    /// Byte range of the key of the member at `pointer`.
    pub(crate) fn key(&self, pointer: &str) -> Option<Range<usize>> {
        self.keys.get(pointer).cloned()
    }

    /// Maps a byte range inside the *decoded* string at `pointer` to a range of the file, whose
    /// bytes `text` gives.
    pub(crate) fn in_string<'t>(
        &self,
        text: impl Fn(Range<usize>) -> Option<&'t str>,
        pointer: &str,
        inner: Range<usize>,
    ) -> Option<Range<usize>> {
        let r = self.value(pointer)?;
        let body = r.start + 1..r.end.saturating_sub(1);
        let raw = text(body.clone())?;
        let mut cache = self.escapes.borrow_mut();
        let table = cache
            .entry(pointer.to_owned())
            .or_insert_with(|| raw.contains('\\').then(|| raw_offsets(raw)));
        let table: &Option<Vec<usize>> = table;
        let map = |decoded: usize| -> usize {
            match table {
                None => decoded.min(raw.len()),
                Some(t) => t.get(decoded).copied().unwrap_or(raw.len()),
            }
        };
        let start = body.start + map(inner.start);
        let end = body.start + map(inner.end);
        Some(start.min(self.text_len)..end.max(start).min(self.text_len))
    }
}

/// The index `i` of a pointer inside `/nodes/i` (or `/nodes/i` itself).
pub(crate) fn node_index(pointer: &str) -> Option<usize> {
    let rest = pointer.strip_prefix("/nodes/")?;
    array_index(rest.split('/').next()?)
}

/// The array index a JSON Pointer's reference token `token` names: digits without a leading
/// zero (`01` and `+1` name no element).
pub(crate) fn array_index(token: &str) -> Option<usize> {
    if !token.bytes().all(|b| b.is_ascii_digit()) || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

/// For each decoded byte offset of a JSON string literal's body, the raw byte offset.
fn raw_offsets(raw: &str) -> Vec<usize> {
    let bytes = raw.as_bytes();
    let mut table = Vec::with_capacity(raw.len() + 1);
    let mut i = 0usize;
    while i < bytes.len() {
        let (raw_len, decoded_len) = if bytes[i] == b'\\' {
            match bytes.get(i + 1) {
                Some(b'u') => {
                    let cp = raw
                        .get(i + 2..i + 6)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .unwrap_or(0);
                    if (0xD800..0xDC00).contains(&cp) && raw.get(i + 6..i + 8) == Some("\\u") {
                        // A surrogate pair decodes to one 4-byte char from 12 raw bytes.
                        (12, 4)
                    } else {
                        (6, char::from_u32(cp).map_or(3, char::len_utf8))
                    }
                }
                _ => (2, 1),
            }
        } else {
            let l = raw[i..].chars().next().map_or(1, char::len_utf8);
            (l, l)
        };
        for _ in 0..decoded_len {
            table.push(i);
        }
        i += raw_len;
    }
    table.push(raw.len());
    table
}

struct Scanner<'t, 'w> {
    bytes: &'t [u8],
    text: &'t str,
    at: usize,
    wanted: &'w HashSet<&'w str>,
    on_the_way: &'w HashSet<&'w str>,
    out: &'w mut Spans,
}

/// Nesting beyond this is left unscanned (the loader refuses such files anyway).
const MAX_DEPTH: usize = 1024;

impl Scanner<'_, '_> {
    fn ws(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
    }

    /// Skips a string literal starting at `self.at` (on its opening quote).
    fn string(&mut self) {
        self.at += 1;
        while let Some(rest) = self.bytes.get(self.at..) {
            match memchr::memchr2(b'"', b'\\', rest) {
                Some(i) if rest.get(i) == Some(&b'\\') => self.at += i + 2,
                Some(i) => {
                    self.at += i + 1;
                    return;
                }
                None => {
                    self.at = self.bytes.len();
                    return;
                }
            }
        }
    }

    /// Skips the value at `self.at`, whatever it is, by bracket matching.
    fn skip(&mut self) {
        match self.bytes.get(self.at) {
            Some(b'"') => self.string(),
            Some(&open @ (b'{' | b'[')) => {
                // The text is valid JSON, so the other kind of bracket is balanced inside:
                // only quotes and this kind need looking at.
                let close = if open == b'{' { b'}' } else { b']' };
                let mut depth = 0usize;
                while let Some(rest) = self.bytes.get(self.at..) {
                    let Some(i) = memchr::memchr3(b'"', open, close, rest) else {
                        self.at = self.bytes.len();
                        return;
                    };
                    self.at += i;
                    match rest.get(i) {
                        Some(b'"') => {
                            self.string();
                            continue;
                        }
                        Some(&b) if b == open => depth += 1,
                        _ => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                self.at += 1;
                                return;
                            }
                        }
                    }
                    self.at += 1;
                }
            }
            Some(_) => {
                while self.bytes.get(self.at).is_some_and(|b| {
                    !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                }) {
                    self.at += 1;
                }
            }
            None => {}
        }
    }

    /// The value at `self.at`, whose pointer is `pointer`.
    fn value(&mut self, pointer: &mut String, depth: usize) {
        let start = self.at;
        let descend = depth < MAX_DEPTH && self.on_the_way.contains(pointer.as_str());
        match self.bytes.get(self.at) {
            Some(b'{') if descend => self.object(pointer, depth),
            Some(b'[') if descend => self.array(pointer, depth),
            _ => self.skip(),
        }
        if self.wanted.contains(pointer.as_str()) {
            self.out
                .values
                .insert(pointer.clone(), start..self.at.min(self.bytes.len()));
        }
    }

    fn object(&mut self, pointer: &mut String, depth: usize) {
        self.at += 1;
        loop {
            self.ws();
            match self.bytes.get(self.at) {
                Some(b'"') => {}
                Some(b'}') => {
                    self.at += 1;
                    return;
                }
                _ => return,
            }
            let key_start = self.at;
            self.string();
            let key_range = key_start..self.at;
            let raw = self
                .text
                .get(key_start + 1..self.at.saturating_sub(1))
                .unwrap_or("");
            let key = if raw.contains('\\') {
                serde_json::from_str::<String>(self.text.get(key_range.clone()).unwrap_or("\"\""))
                    .unwrap_or_default()
            } else {
                raw.to_owned()
            };
            let len = pointer.len();
            super::json::push_segment(pointer, &key);
            if self.wanted.contains(pointer.as_str()) {
                self.out.keys.insert(pointer.clone(), key_range);
            }
            self.ws();
            if self.bytes.get(self.at) == Some(&b':') {
                self.at += 1;
            }
            self.ws();
            self.value(pointer, depth + 1);
            pointer.truncate(len);
            self.ws();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return;
                }
                _ => return,
            }
        }
    }

    fn array(&mut self, pointer: &mut String, depth: usize) {
        self.at += 1;
        let mut index = 0usize;
        loop {
            self.ws();
            if matches!(self.bytes.get(self.at), Some(b']') | None) {
                self.at += 1;
                return;
            }
            let len = pointer.len();
            pointer.push('/');
            pointer.push_str(&index.to_string());
            self.value(pointer, depth + 1);
            pointer.truncate(len);
            index += 1;
            self.ws();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return;
                }
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str, wanted: &[&str]) -> Spans {
        Spans::scan(text, &wanted.iter().copied().collect(), &[])
    }

    #[test]
    fn pointers_map_back_to_ranges_through_escapes() {
        let text = r#"{"a": ["x", {"b\/c": "\u00e9<? $x ?>"}], "z": 1}"#;
        let s = spans(text, &["/a/1/b~1c", "/z", ""]);
        let r = s.value("/a/1/b~1c").unwrap();
        assert_eq!(&text[r], r#""\u00e9<? $x ?>""#);
        // "é" is 2 bytes decoded, 6 raw; "<?" starts at decoded offset 2.
        let inner = s.in_string(|r| text.get(r), "/a/1/b~1c", 2..4).unwrap();
        assert_eq!(&text[inner], "<?");
        assert_eq!(&text[s.key("/a/1/b~1c").unwrap()], r#""b\/c""#);
        assert_eq!(&text[s.value("/z").unwrap()], "1");
        assert_eq!(s.value("").unwrap(), 0..text.len());
        assert!(s.value("/a/0").is_none(), "only wanted pointers are kept");
    }

    #[test]
    fn the_last_of_duplicate_keys_wins_as_in_the_value() {
        let text = r#"{"a": 1, "a": [2, 3]}"#;
        let s = spans(text, &["/a/1"]);
        assert_eq!(&text[s.value("/a/1").unwrap()], "3");
    }

    /// With the nodes' start offsets, a pointer inside a node is found within that node, at the
    /// same place as by a scan from the top; pointers outside the nodes, and indices that name
    /// no element, are still found (or not) as before.
    #[test]
    fn pointers_inside_nodes_are_found_from_the_node_start() {
        let text = r#"{"name": "f", "nodes": [ {"id": "a", "x": [1, {"y": "z"}]},
            {"id": "b", "next": [{"goto": "a"}]} ]}"#;
        let starts = [
            text.find(r#"{"id": "a""#).unwrap(),
            text.find(r#"{"id": "b""#).unwrap(),
        ];
        let wanted = [
            "/nodes/0/x/1/y",
            "/nodes/1",
            "/nodes/1/next/0/goto",
            "/name",
            "/nodes",
            "/nodes/01",
            "/nodes/+1",
            "/nodes/7/id",
        ];
        let set = wanted.iter().copied().collect();
        let (by_node, by_scan) = (Spans::scan(text, &set, &starts), spans(text, &wanted));
        for w in wanted {
            assert_eq!(by_node.value(w), by_scan.value(w), "{w}");
        }
        assert!(by_node.value("/nodes/0/x/1/y").is_some());
        assert!(by_node.value("/nodes/01").is_none());
        assert_eq!(node_index("/nodes/12/output"), Some(12));
        assert_eq!(node_index("/nodes/+1"), None);
        assert_eq!(node_index("/nodesx/1"), None);
    }

    #[test]
    fn broken_text_never_panics() {
        for text in ["", "{", "[1,", "{\"a\":", "\"x", "{\"a\" 1}", "]]]]"] {
            let s = spans(text, &["/a", "/0", ""]);
            let _ = s.value("/a");
        }
    }
}
