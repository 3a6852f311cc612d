//! An open document: its text, its line starts, and the conversion between byte offsets and
//! the client's positions (line and column in UTF-8 bytes, UTF-16 code units or characters).

use lsp_types::{Position, Range as LspRange, TextDocumentContentChangeEvent};
use std::ops::Range;

/// The unit of a position's column, agreed at initialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Bytes of UTF-8.
    Utf8,
    /// UTF-16 code units: the protocol's default (an emoji counts two).
    Utf16,
    /// Unicode scalar values (what `fluxo lint` counts in its columns).
    Utf32,
}

impl Encoding {
    /// Units of `c` in this encoding.
    fn width(self, c: char) -> usize {
        match self {
            Encoding::Utf8 => c.len_utf8(),
            Encoding::Utf16 => c.len_utf16(),
            Encoding::Utf32 => 1,
        }
    }
}

/// A document's text with the start of each line.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    /// The text.
    pub text: String,
    /// The client's version.
    pub version: i32,
    /// Byte offset of each line's start.
    lines: Vec<usize>,
}

impl Document {
    /// A document of `text`.
    pub(crate) fn new(text: String, version: i32) -> Document {
        let lines = line_starts(&text);
        Document {
            text,
            version,
            lines,
        }
    }

    /// The byte offset of `pos`, clamped to its line (a column past the end of a line is its
    /// end, as the protocol says) and to the text.
    pub(crate) fn offset(&self, pos: Position, enc: Encoding) -> usize {
        let line = pos.line as usize;
        let Some(&start) = self.lines.get(line) else {
            return self.text.len();
        };
        let end = self
            .lines
            .get(line + 1)
            .map_or(self.text.len(), |&e| e.saturating_sub(1));
        let wanted = pos.character as usize;
        let mut units = 0;
        let text = self.text.get(start..end).unwrap_or_default();
        for (i, c) in text.char_indices() {
            if units >= wanted {
                return start + i;
            }
            units += enc.width(c);
        }
        end
    }

    /// The position of a byte offset (clamped, snapped down to a character boundary).
    pub(crate) fn position(&self, offset: usize, enc: Encoding) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self
            .lines
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.lines.get(line).copied().unwrap_or(0);
        let column: usize = self
            .text
            .get(start..offset)
            .unwrap_or_default()
            .chars()
            .map(|c| enc.width(c))
            .sum();
        Position::new(to_u32(line), to_u32(column))
    }

    /// The range of a byte range.
    pub(crate) fn range(&self, r: &Range<usize>, enc: Encoding) -> LspRange {
        LspRange::new(self.position(r.start, enc), self.position(r.end, enc))
    }

    /// The byte range of a client range (start and end ordered).
    pub(crate) fn byte_range(&self, r: LspRange, enc: Encoding) -> Range<usize> {
        let a = self.offset(r.start, enc);
        let b = self.offset(r.end, enc);
        a.min(b)..a.max(b)
    }

    /// Applies one change: a whole new text, or a replacement of a range.
    pub(crate) fn apply(&mut self, change: TextDocumentContentChangeEvent, enc: Encoding) {
        match change.range {
            None => self.text = change.text,
            Some(r) => {
                let span = self.byte_range(r, enc);
                self.text.replace_range(span, &change.text);
            }
        }
        self.lines = line_starts(&self.text);
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
        .collect()
}

/// A count as the protocol's `u32` (saturating: no text fluxo reads has 4 G lines).
pub(crate) fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_in_each_encoding() {
        // "é" is 2 bytes, 1 UTF-16 unit; "😀" is 4 bytes, 2 UTF-16 units.
        let d = Document::new("{\n \"é😀x\": 1\n}".into(), 0);
        let x = d.text.find('x').unwrap_or_default();
        assert_eq!(d.position(x, Encoding::Utf8), Position::new(1, 8));
        assert_eq!(d.position(x, Encoding::Utf16), Position::new(1, 5));
        assert_eq!(d.position(x, Encoding::Utf32), Position::new(1, 4));
        for enc in [Encoding::Utf8, Encoding::Utf16, Encoding::Utf32] {
            assert_eq!(d.offset(d.position(x, enc), enc), x);
        }
        // Past the end of a line, or of the text: clamped.
        assert_eq!(d.offset(Position::new(0, 99), Encoding::Utf16), 1);
        assert_eq!(d.offset(Position::new(9, 0), Encoding::Utf16), d.text.len());
    }

    #[test]
    fn incremental_changes_apply_in_order() {
        let mut d = Document::new("ab\ncd".into(), 0);
        d.apply(
            TextDocumentContentChangeEvent {
                range: Some(LspRange::new(Position::new(1, 0), Position::new(1, 1))),
                range_length: None,
                text: "ç😀".into(),
            },
            Encoding::Utf16,
        );
        assert_eq!(d.text, "ab\nç😀d");
        d.apply(
            TextDocumentContentChangeEvent {
                range: Some(LspRange::new(Position::new(1, 3), Position::new(1, 4))),
                range_length: None,
                text: "\n".into(),
            },
            Encoding::Utf16,
        );
        assert_eq!(d.text, "ab\nç😀\n");
        assert_eq!(
            d.position(d.text.len(), Encoding::Utf16),
            Position::new(2, 0)
        );
    }
}
