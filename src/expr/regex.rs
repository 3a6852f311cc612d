//! Regex literals and patterns: compiled once on the linear-time `regex` engine, with a bounded
//! cache shared by the compile stage and run time.

use std::sync::{Arc, LazyLock};

type RegexResult = Result<Arc<regex::Regex>, String>;

/// Compiled patterns, shared by the compile stage and run time (flows repeat a few patterns
/// many times; compiling one costs far more than matching with it). Bounded: cleared when full.
static REGEX_CACHE: LazyLock<
    std::sync::Mutex<std::collections::HashMap<(String, String), RegexResult>>,
> = LazyLock::new(Default::default);
const REGEX_CACHE_MAX: usize = 4096;

/// Compiles a JavaScript-style regex (pattern and flags) on the linear-time `regex` engine.
/// Returns the engine's explanation when it cannot run the pattern (backreferences,
/// look-around) or a flag is unknown.
pub fn compile_regex(pattern: &str, flags: &str) -> RegexResult {
    let key = (pattern.to_owned(), flags.to_owned());
    if let Some(hit) = REGEX_CACHE.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return hit;
    }
    let result = compile_regex_uncached(pattern, flags);
    if let Ok(mut cache) = REGEX_CACHE.lock() {
        if cache.len() >= REGEX_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, result.clone());
    }
    result
}

fn compile_regex_uncached(pattern: &str, flags: &str) -> RegexResult {
    let mut b = regex::RegexBuilder::new(pattern);
    for f in flags.chars() {
        match f {
            'i' => {
                b.case_insensitive(true);
            }
            'm' => {
                b.multi_line(true);
            }
            's' => {
                b.dot_matches_new_line(true);
            }
            'g' | 'u' | 'y' | 'd' => {}
            other => return Err(format!("unknown regex flag `{other}`")),
        }
    }
    b.size_limit(1 << 20).dfa_size_limit(1 << 20);
    b.build().map(Arc::new).map_err(|e| match e {
        regex::Error::Syntax(s) => {
            let first = s
                .lines()
                .last()
                .unwrap_or("invalid pattern")
                .trim()
                .to_owned();
            first.trim_start_matches("error: ").to_owned()
        }
        regex::Error::CompiledTooBig(_) => "the pattern is too large to compile".into(),
        _ => "invalid pattern".into(),
    })
}
