//! The strings of a workspace's nodes (outputs, context, actions) compiled once at load, as a
//! flow's are: Watson's `$var` / `@entity` shorthand made explicit, then every `<? … ?>`
//! segment parsed. A turn looks a string up by its text and only evaluates.

use crate::expr::{compile_template, ParseCache, Template};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde_json::Value as Json;

/// A string of a node as a turn renders it.
#[derive(Debug)]
pub(crate) enum Compiled {
    /// No `<? ?>` segment once the shorthand is expanded: this text.
    Text(String),
    /// The shorthand expanded, parsed once.
    Template(Template),
    /// A segment that does not parse: why (the turn logs it and renders an empty string).
    Invalid(String),
}

/// Compiles every string inside `v` into `out`, once per distinct text.
pub(crate) fn compile_strings(
    v: &Json,
    entities: &HashSet<String>,
    cache: &mut ParseCache,
    out: &mut HashMap<String, Compiled>,
    depth: u8,
) {
    match v {
        Json::String(s) if !out.contains_key(s) => {
            let compiled = compile_string(s, entities, cache);
            out.insert(s.clone(), compiled);
        }
        Json::Array(a) if depth < 64 => {
            for x in a {
                compile_strings(x, entities, cache, out, depth + 1);
            }
        }
        Json::Object(o) if depth < 64 => {
            for x in o.values() {
                compile_strings(x, entities, cache, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// One string: Watson's `$var`/`@entity` shorthand made explicit, then its segments parsed.
pub(crate) fn compile_string(
    s: &str,
    entities: &HashSet<String>,
    cache: &mut ParseCache,
) -> Compiled {
    let t = expand_shorthand(s, entities);
    if !t.contains("<?") {
        return Compiled::Text(t);
    }
    match compile_template(cache, &t) {
        Ok(t) => Compiled::Template(t),
        Err(e) => Compiled::Invalid(e.to_string()),
    }
}

/// Watson's text shorthand made explicit: outside `<? … ?>`, `$name` (and `$name.field`),
/// `$(name)` and `@entity` (an entity the workspace knows, with an optional `.literal`,
/// `.value`, `.confidence`, `.location` or `.values`) become expressions; `\$`, `\@` and `\#`
/// are the characters themselves.
pub(crate) fn expand_shorthand(s: &str, entities: &HashSet<String>) -> String {
    if !s.contains(['$', '@', '\\']) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 16);
    let b = s.as_bytes();
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        if s[i..].starts_with("<?") {
            let end = s[i..].find("?>").map_or(s.len(), |e| i + e + 2);
            out.push_str(&s[i..end]);
            i = end;
            continue;
        }
        let c = b[i];
        if c == b'\\' && matches!(b.get(i + 1), Some(b'$' | b'@' | b'#')) {
            out.push(char::from(b[i + 1]));
            i += 2;
            continue;
        }
        if c == b'$' {
            if b.get(i + 1) == Some(&b'(') {
                if let Some(close) = s[i + 2..].find(')') {
                    let name = &s[i + 2..i + 2 + close];
                    out.push_str(&format!("<? context['{}'] ?>", name.replace('\'', "''")));
                    i += 3 + close;
                    continue;
                }
            }
            if b.get(i + 1)
                .is_some_and(|&n| n.is_ascii_alphabetic() || n == b'_')
            {
                let mut j = i + 1;
                loop {
                    while j < b.len() && ident(b[j]) {
                        j += 1;
                    }
                    if j + 1 < b.len()
                        && b[j] == b'.'
                        && (b[j + 1].is_ascii_alphabetic() || b[j + 1] == b'_')
                    {
                        j += 1;
                        continue;
                    }
                    break;
                }
                out.push_str(&format!("<? {} ?>", &s[i..j]));
                i = j;
                continue;
            }
        }
        if c == b'@' {
            let mut j = i + 1;
            while j < b.len() && (ident(b[j]) || b[j] == b'-') {
                j += 1;
            }
            let name = &s[i + 1..j];
            if !name.is_empty() && entities.contains(name) {
                for prop in [".literal", ".value", ".confidence", ".location", ".values"] {
                    if s[j..].starts_with(prop)
                        && !s.as_bytes().get(j + prop.len()).is_some_and(|&n| ident(n))
                    {
                        j += prop.len();
                        break;
                    }
                }
                out.push_str(&format!("<? {} ?>", &s[i..j]));
                i = j;
                continue;
            }
        }
        // One whole character (the text is UTF-8).
        let len = s[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&s[i..i + len]);
        i += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watson::Workspace;
    use serde_json::json;

    #[test]
    fn every_string_of_a_node_is_compiled_at_load() {
        let ws = Workspace::from_value(&json!({ "dialog_nodes": [
            { "dialog_node": "a", "conditions": "#hi",
              "output": { "text": { "values": [ "Hi $name", "plain", "<? 1 + ?>" ] },
                          "generic": [ { "response_type": "text", "values": [ { "text": "@city" } ] } ] },
              "context": { "n": "<? $n + 1 ?>", "deep": { "x": [ "\\$5" ] } },
              "actions": [ { "name": "f", "parameters": { "q": "$q" } } ] }
        ], "entities": [ { "entity": "city", "values": [] } ] }))
        .expect("workspace");
        let t = &ws.templates;
        assert!(matches!(t.get("Hi $name"), Some(Compiled::Template(_))));
        assert!(matches!(t.get("plain"), Some(Compiled::Text(s)) if s == "plain"));
        assert!(matches!(t.get("<? 1 + ?>"), Some(Compiled::Invalid(_))));
        assert!(matches!(t.get("@city"), Some(Compiled::Template(_))));
        assert!(matches!(t.get("<? $n + 1 ?>"), Some(Compiled::Template(_))));
        assert!(matches!(t.get("\\$5"), Some(Compiled::Text(s)) if s == "$5"));
        assert!(matches!(t.get("$q"), Some(Compiled::Template(_))));
    }
}
