//! System entities: `sys-number`, `sys-percentage`, `sys-currency`, `sys-date`, `sys-time`,
//! in English and Portuguese basics.

use super::text::*;
use super::*;
use crate::text::fold;

impl Understanding {
    pub(super) fn system_matches(&self, chars: &[char], now: &str) -> Vec<SystemFound> {
        let s = self.system;
        if !(s.number || s.percentage || s.currency || s.date || s.time) {
            return Vec::new();
        }
        let folded: Vec<char> = chars.iter().copied().map(fold).collect();
        let today = now.get(..10).and_then(|d| d.parse::<Date>().ok());
        let mut out = Vec::new();
        let dates = if s.date {
            merge(
                find_month_dates(&folded, self.language, today),
                find_dates(&folded, self.language, today),
            )
        } else {
            Vec::new()
        };
        let times = if s.time {
            merge(find_times(&folded), find_word_times(&folded, self.language))
        } else {
            Vec::new()
        };
        let numbers = find_numbers(&folded, self.language);
        // A number word inside a longer number (`two` in `twenty two`) is not a number.
        let numbers: Vec<Num> = numbers
            .iter()
            .filter(|n| {
                !numbers.iter().any(|m| {
                    (m.start <= n.start && n.end <= m.end) && (m.end - m.start > n.end - n.start)
                })
            })
            .cloned()
            .collect();
        let inside = |n: &Num, spans: &[SystemFound]| {
            spans.iter().any(|d| n.start >= d.start && n.end <= d.end)
        };
        for n in &numbers {
            if inside(n, &dates) || inside(n, &times) {
                continue;
            }
            let meta = || Some(json!({ "numeric_value": n.numeric }));
            if s.number {
                out.push(SystemFound {
                    name: "sys-number",
                    start: n.start,
                    end: n.end,
                    value: n.value.clone(),
                    metadata: meta(),
                });
            }
            if s.percentage {
                if let Some(end) = percent_suffix(&folded, n.end) {
                    out.push(SystemFound {
                        name: "sys-percentage",
                        start: n.start,
                        end,
                        value: n.value.clone(),
                        metadata: meta(),
                    });
                }
            }
            if s.currency {
                if let Some((start, end, unit)) = currency_around(&folded, n) {
                    out.push(SystemFound {
                        name: "sys-currency",
                        start,
                        end,
                        value: n.value.clone(),
                        metadata: Some(json!({ "numeric_value": n.numeric, "unit": unit })),
                    });
                }
            }
        }
        out.extend(dates);
        out.extend(times);
        out
    }
}

/// A number found in a message.
#[derive(Debug, Clone)]
pub(super) struct Num {
    start: usize,
    end: usize,
    /// The canonical text: digits, `-` and `.` as the decimal point, no grouping.
    value: String,
    numeric: Value,
}

pub(super) fn number_value(canonical: String, start: usize, end: usize) -> Option<Num> {
    let f: f64 = canonical.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    let numeric = if canonical.contains('.') {
        json!(f)
    } else {
        match canonical.parse::<i64>() {
            Ok(i) => json!(i),
            Err(_) => json!(f),
        }
    };
    Some(Num {
        start,
        end,
        value: canonical,
        numeric,
    })
}

pub(super) const EN_NUMBERS: [&str; 13] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve",
];
pub(super) const PT_NUMBERS: [(&str, u8); 15] = [
    ("zero", 0),
    ("um", 1),
    ("uma", 1),
    ("dois", 2),
    ("duas", 2),
    ("tres", 3),
    ("quatro", 4),
    ("cinco", 5),
    ("seis", 6),
    ("sete", 7),
    ("oito", 8),
    ("nove", 9),
    ("dez", 10),
    ("onze", 11),
    ("doze", 12),
];

/// Numbers in digits (grouping and decimal separators by language) and number words.
pub(super) fn find_numbers(chars: &[char], language: Language) -> Vec<Num> {
    let (group, decimal) = match language {
        Language::English => (',', '.'),
        Language::Portuguese | Language::OtherComma => ('.', ','),
    };
    let digit = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let prev = i.checked_sub(1).and_then(|p| chars.get(p));
        if !digit(i) || prev.is_some_and(|p| p.is_alphanumeric()) {
            i += 1;
            continue;
        }
        let negative = prev == Some(&'-')
            && !i
                .checked_sub(2)
                .and_then(|p| chars.get(p))
                .is_some_and(|p| p.is_alphanumeric());
        let start = if negative { i - 1 } else { i };
        let mut canonical = String::new();
        if negative {
            canonical.push('-');
        }
        let mut j = i;
        let mut run = 0;
        while digit(j) {
            canonical.extend(chars.get(j));
            j += 1;
            run += 1;
        }
        // Thousands groups: the separator then exactly three digits.
        if run <= 3 {
            while chars.get(j) == Some(&group)
                && digit(j + 1)
                && digit(j + 2)
                && digit(j + 3)
                && !digit(j + 4)
            {
                canonical.extend(chars.get(j + 1..j + 4).into_iter().flatten());
                j += 4;
            }
        }
        if chars.get(j) == Some(&decimal) && digit(j + 1) {
            canonical.push('.');
            j += 1;
            while digit(j) {
                canonical.extend(chars.get(j));
                j += 1;
            }
            while canonical.ends_with('0') {
                canonical.pop();
            }
            if canonical.ends_with('.') {
                canonical.pop();
            }
        }
        if let Some(n) = number_value(canonical, start, j) {
            out.push(n);
        }
        i = j.max(i + 1);
    }
    out.extend(find_number_words(chars, language));
    out.sort_by_key(|n| n.start);
    out
}

/// `true` when `phrase` (lower case, accent-free) is at `i` on word boundaries; its end.
pub(super) fn phrase_at(chars: &[char], i: usize, phrase: &str) -> Option<usize> {
    let mut j = i;
    for p in phrase.chars() {
        if chars.get(j) != Some(&p) {
            return None;
        }
        j += 1;
    }
    (token_start(chars, i) && token_end(chars, j)).then_some(j)
}

/// The end of `%`, ` %`, `percent` or `por cento` right after a number ending at `end`.
pub(super) fn percent_suffix(chars: &[char], end: usize) -> Option<usize> {
    let at = if chars.get(end) == Some(&' ') {
        end + 1
    } else {
        end
    };
    if chars.get(at) == Some(&'%') {
        return Some(at + 1);
    }
    let at = if chars.get(end) == Some(&' ') {
        end + 1
    } else {
        return None;
    };
    ["percent", "per cent", "por cento", "porcento"]
        .iter()
        .find_map(|p| phrase_at(chars, at, p))
}

pub(super) const CURRENCY_PREFIXES: [(&str, &str); 8] = [
    ("us$", "USD"),
    ("r$", "BRL"),
    ("usd", "USD"),
    ("brl", "BRL"),
    ("eur", "EUR"),
    ("$", "USD"),
    ("€", "EUR"),
    ("£", "GBP"),
];
pub(super) const CURRENCY_SUFFIXES: [(&str, &str); 10] = [
    ("dollars", "USD"),
    ("dollar", "USD"),
    ("bucks", "USD"),
    ("dolares", "USD"),
    ("reais", "BRL"),
    ("real", "BRL"),
    ("euros", "EUR"),
    ("euro", "EUR"),
    ("pounds", "GBP"),
    ("usd", "USD"),
];

/// A currency symbol or code before the number, or a currency word after it.
pub(super) fn currency_around(chars: &[char], n: &Num) -> Option<(usize, usize, &'static str)> {
    let before = if n.start > 0 && chars.get(n.start - 1) == Some(&' ') {
        n.start - 1
    } else {
        n.start
    };
    for (symbol, unit) in CURRENCY_PREFIXES {
        let len = symbol.chars().count();
        let Some(s) = before.checked_sub(len) else {
            continue;
        };
        let here: String = chars.get(s..before).into_iter().flatten().collect();
        let alnum_start = symbol.starts_with(|c: char| c.is_alphanumeric());
        if here == symbol && (!alnum_start || token_start(chars, s)) {
            return Some((s, n.end, unit));
        }
    }
    if chars.get(n.end) == Some(&' ') {
        for (word, unit) in CURRENCY_SUFFIXES {
            if let Some(end) = phrase_at(chars, n.end + 1, word) {
                return Some((n.start, end, unit));
            }
        }
    }
    None
}

pub(super) const EN_WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Monday),
    ("tuesday", Weekday::Tuesday),
    ("wednesday", Weekday::Wednesday),
    ("thursday", Weekday::Thursday),
    ("friday", Weekday::Friday),
    ("saturday", Weekday::Saturday),
    ("sunday", Weekday::Sunday),
];
pub(super) const PT_WEEKDAYS: [(&str, Weekday); 7] = [
    ("segunda", Weekday::Monday),
    ("terca", Weekday::Tuesday),
    ("quarta", Weekday::Wednesday),
    ("quinta", Weekday::Thursday),
    ("sexta", Weekday::Friday),
    ("sabado", Weekday::Saturday),
    ("domingo", Weekday::Sunday),
];

/// ISO dates, `dd/mm/yyyy` (`mm/dd/yyyy` in English), and, relative to `today`, today,
/// tomorrow, yesterday and weekday names (the next such day, today included).
pub(super) fn find_dates(
    chars: &[char],
    language: Language,
    today: Option<Date>,
) -> Vec<SystemFound> {
    let mut out: Vec<SystemFound> = Vec::new();
    let number = |i: usize, max: usize| -> Option<(i32, usize)> {
        let mut j = i;
        let mut v: i32 = 0;
        while let Some(d) = chars.get(j).and_then(|c| c.to_digit(10)) {
            if j - i >= max {
                return None;
            }
            v = v * 10 + i32::try_from(d).ok()?;
            j += 1;
        }
        (j > i).then_some((v, j))
    };
    let push = |out: &mut Vec<SystemFound>, start: usize, end: usize, date: Date| {
        out.push(SystemFound {
            name: "sys-date",
            start,
            end,
            value: date.to_string(),
            metadata: None,
        });
    };
    let make = |y: i32, m: i32, d: i32| -> Option<Date> {
        Date::new(
            i16::try_from(y).ok()?,
            i8::try_from(m).ok()?,
            i8::try_from(d).ok()?,
        )
        .ok()
    };
    let mut i = 0;
    while i < chars.len() {
        let boundary = token_start(chars, i) && chars.get(i).is_some_and(char::is_ascii_digit);
        if !boundary {
            i += 1;
            continue;
        }
        let mut next = i + 1;
        if let Some((a, j)) = number(i, 4) {
            let sep = chars.get(j).copied();
            if j - i == 4 && sep == Some('-') {
                // yyyy-mm-dd
                if let Some((m, k)) = number(j + 1, 2) {
                    if chars.get(k) == Some(&'-') {
                        if let Some((d, l)) = number(k + 1, 2) {
                            if let (Some(date), true) = (make(a, m, d), token_end(chars, l)) {
                                push(&mut out, i, l, date);
                                next = l;
                            }
                        }
                    }
                }
            } else if j - i <= 2 && sep == Some('/') {
                if let Some((b, k)) = number(j + 1, 2) {
                    let (day, month) = match language {
                        Language::English => (b, a),
                        _ => (a, b),
                    };
                    let mut end = k;
                    let mut year = today.map(|t| i32::from(t.year()));
                    if chars.get(k) == Some(&'/') {
                        if let Some((y, l)) = number(k + 1, 4) {
                            end = l;
                            year = Some(if l - (k + 1) == 2 { 2000 + y } else { y });
                        }
                    }
                    if let Some(date) = year.and_then(|y| make(y, month, day)) {
                        if token_end(chars, end) {
                            push(&mut out, i, end, date);
                            next = end;
                        }
                    }
                }
            }
        }
        i = next;
    }
    let Some(today) = today else {
        return out;
    };
    let relative: Vec<(&str, i64)> = match language {
        Language::English => vec![
            ("day after tomorrow", 2),
            ("today", 0),
            ("tomorrow", 1),
            ("yesterday", -1),
        ],
        Language::Portuguese => vec![
            ("depois de amanha", 2),
            ("hoje", 0),
            ("amanha", 1),
            ("ontem", -1),
        ],
        Language::OtherComma => Vec::new(),
    };
    let weekdays: &[(&str, Weekday)] = match language {
        Language::English => &EN_WEEKDAYS,
        Language::Portuguese => &PT_WEEKDAYS,
        Language::OtherComma => &[],
    };
    let covered = |out: &[SystemFound], s: usize| out.iter().any(|f| f.start <= s && s < f.end);
    for (s, _) in word_spans(chars) {
        if covered(&out, s) {
            continue;
        }
        let mut hit: Option<(usize, Date)> = None;
        for (phrase, days) in &relative {
            if let Some(e) = phrase_at(chars, s, phrase) {
                if let Ok(d) = today.checked_add((*days).days()) {
                    hit = Some((e, d));
                    break;
                }
            }
        }
        if hit.is_none() {
            for (name, weekday) in weekdays {
                let end = phrase_at(chars, s, name).map(|e| {
                    // "segunda-feira", "segunda feira"
                    ["-feira", " feira"]
                        .iter()
                        .find_map(|suffix| {
                            let ok = suffix
                                .chars()
                                .enumerate()
                                .all(|(k, c)| chars.get(e + k) == Some(&c));
                            let stop = e + suffix.chars().count();
                            (ok && language == Language::Portuguese && token_end(chars, stop))
                                .then_some(stop)
                        })
                        .unwrap_or(e)
                });
                if let Some(e) = end {
                    let ahead = (weekday.to_monday_zero_offset()
                        - today.weekday().to_monday_zero_offset())
                    .rem_euclid(7);
                    if let Ok(d) = today.checked_add(i64::from(ahead).days()) {
                        hit = Some((e, d));
                    }
                    break;
                }
            }
        }
        if let Some((e, d)) = hit {
            push(&mut out, s, e, d);
        }
    }
    out.sort_by_key(|f| f.start);
    out
}

/// `15:30`, `3:30 pm`, `3pm`, `3 p.m.`, `15h`, `15h30`: value `HH:MM:SS`.
pub(super) fn find_times(chars: &[char]) -> Vec<SystemFound> {
    let mut out = Vec::new();
    let digits = |i: usize| -> Option<(u32, usize)> {
        let mut j = i;
        let mut v = 0u32;
        while let Some(d) = chars.get(j).and_then(|c| c.to_digit(10)) {
            if j - i >= 2 {
                return None;
            }
            v = v * 10 + d;
            j += 1;
        }
        (j > i).then_some((v, j))
    };
    let mut i = 0;
    while i < chars.len() {
        if !(token_start(chars, i) && chars.get(i).is_some_and(char::is_ascii_digit)) {
            i += 1;
            continue;
        }
        let Some((mut hour, j)) = digits(i) else {
            // Skip the whole run of digits.
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            continue;
        };
        let mut minute = 0;
        let mut end = j;
        let mut explicit = false;
        // `7.30pm`: a dot between hour and minutes only with am / pm (else it is a decimal).
        let mut dotted = false;
        if chars.get(j) == Some(&'.') {
            if let Some((m, k)) = digits(j + 1) {
                if k - (j + 1) == 2 {
                    minute = m;
                    end = k;
                    dotted = true;
                }
            }
        } else if chars.get(j) == Some(&':') {
            if let Some((m, k)) = digits(j + 1) {
                if k - (j + 1) == 2 {
                    minute = m;
                    end = k;
                    explicit = true;
                }
            }
        } else if chars.get(j) == Some(&'h') {
            end = j + 1;
            explicit = true;
            if let Some((m, k)) = digits(j + 1) {
                if k - (j + 1) == 2 {
                    minute = m;
                    end = k;
                }
            }
            if !token_end(chars, end) {
                explicit = false;
            }
        }
        // am / pm, with or without a space or dots.
        let gap = usize::from(chars.get(end) == Some(&' '));
        let meridiem = ["a.m.", "p.m.", "am", "pm"].iter().find_map(|m| {
            let ok = m
                .chars()
                .enumerate()
                .all(|(k, c)| chars.get(end + gap + k) == Some(&c));
            let stop = end + gap + m.chars().count();
            let boundary = m.ends_with('.') || token_end(chars, stop);
            (ok && boundary).then_some((m.starts_with('p'), stop))
        });
        if dotted && meridiem.is_none() {
            minute = 0;
            end = j;
        }
        if let Some((pm, stop)) = meridiem {
            if (1..=12).contains(&hour) {
                hour = match (pm, hour) {
                    (true, 12) => 12,
                    (true, h) => h + 12,
                    (false, 12) => 0,
                    (false, h) => h,
                };
                end = stop;
                explicit = true;
            }
        }
        if explicit && hour < 24 && minute < 60 && token_end(chars, end) {
            out.push(SystemFound {
                name: "sys-time",
                start: i,
                end,
                value: format!("{hour:02}:{minute:02}:00"),
                metadata: None,
            });
            i = end.max(i + 1);
        } else {
            i = j.max(i + 1);
        }
    }
    out
}

/// `first`, then the finds of `second` that overlap none of `first`, in text order.
fn merge(first: Vec<SystemFound>, second: Vec<SystemFound>) -> Vec<SystemFound> {
    let mut out = first;
    for f in second {
        if !out.iter().any(|o| o.start < f.end && f.start < o.end) {
            out.push(f);
        }
    }
    out.sort_by_key(|f| f.start);
    out
}

/// The words of a text: (start, end, word) over the folded characters.
fn words(chars: &[char]) -> Vec<(usize, usize, String)> {
    word_spans(chars)
        .into_iter()
        .map(|(s, e)| (s, e, chars.get(s..e).into_iter().flatten().collect()))
        .collect()
}

/// Whether only spaces or one hyphen separate the characters `a..b`.
fn joined(chars: &[char], a: usize, b: usize) -> bool {
    let gap: Vec<char> = chars.get(a..b).into_iter().flatten().copied().collect();
    !gap.is_empty()
        && gap.len() <= 3
        && gap.iter().all(|c| *c == ' ' || *c == '-')
        && gap.iter().filter(|c| **c == '-').count() <= 1
}

const EN_TEENS: [(&str, u64); 7] = [
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
];
const EN_TENS: [(&str, u64); 8] = [
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("sixty", 60),
    ("seventy", 70),
    ("eighty", 80),
    ("ninety", 90),
];
const PT_TEENS: [(&str, u64); 8] = [
    ("treze", 13),
    ("catorze", 14),
    ("quatorze", 14),
    ("quinze", 15),
    ("dezesseis", 16),
    ("dezessete", 17),
    ("dezoito", 18),
    ("dezenove", 19),
];
const PT_TENS: [(&str, u64); 8] = [
    ("vinte", 20),
    ("trinta", 30),
    ("quarenta", 40),
    ("cinquenta", 50),
    ("sessenta", 60),
    ("setenta", 70),
    ("oitenta", 80),
    ("noventa", 90),
];
const PT_HUNDREDS: [(&str, u64); 11] = [
    ("cem", 100),
    ("cento", 100),
    ("duzentos", 200),
    ("duzentas", 200),
    ("trezentos", 300),
    ("quatrocentos", 400),
    ("quinhentos", 500),
    ("seiscentos", 600),
    ("setecentos", 700),
    ("oitocentos", 800),
    ("novecentos", 900),
];

/// What a number word is worth, and how it combines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberWord {
    /// 0–19.
    Unit(u64),
    /// 20, 30, … 90.
    Tens(u64),
    /// 100–900 in one word (Portuguese).
    Hundreds(u64),
    /// `hundred`.
    Hundred,
    /// `thousand`, `million`, `mil`, `milhão`.
    Scale(u64),
}

fn number_word(word: &str, language: Language) -> Option<NumberWord> {
    match language {
        Language::English => {
            if let Some(n) = EN_NUMBERS.iter().position(|w| *w == word) {
                return Some(NumberWord::Unit(n as u64));
            }
            if let Some((_, n)) = EN_TEENS.iter().find(|(w, _)| *w == word) {
                return Some(NumberWord::Unit(*n));
            }
            if let Some((_, n)) = EN_TENS.iter().find(|(w, _)| *w == word) {
                return Some(NumberWord::Tens(*n));
            }
            match word {
                "hundred" => Some(NumberWord::Hundred),
                "thousand" => Some(NumberWord::Scale(1_000)),
                "million" => Some(NumberWord::Scale(1_000_000)),
                _ => None,
            }
        }
        Language::Portuguese => {
            if let Some((_, n)) = PT_NUMBERS.iter().find(|(w, _)| *w == word) {
                return Some(NumberWord::Unit(u64::from(*n)));
            }
            if let Some((_, n)) = PT_TEENS.iter().find(|(w, _)| *w == word) {
                return Some(NumberWord::Unit(*n));
            }
            if let Some((_, n)) = PT_TENS.iter().find(|(w, _)| *w == word) {
                return Some(NumberWord::Tens(*n));
            }
            if let Some((_, n)) = PT_HUNDREDS.iter().find(|(w, _)| *w == word) {
                return Some(NumberWord::Hundreds(*n));
            }
            match word {
                "mil" => Some(NumberWord::Scale(1_000)),
                "milhao" | "milhoes" => Some(NumberWord::Scale(1_000_000)),
                _ => None,
            }
        }
        Language::OtherComma => None,
    }
}

/// Numbers written in words, several words long: `twenty one`, `twenty-one`, `one hundred and
/// five`, `two thousand`; Portuguese `vinte e um`, `cento e cinco`, `dois mil`. Each run is
/// one number (start of its first word, end of its last).
pub(super) fn find_number_words(chars: &[char], language: Language) -> Vec<Num> {
    let ws = words(chars);
    let connector = match language {
        Language::English => "and",
        _ => "e",
    };
    let mut out = Vec::new();
    let mut k = 0;
    while k < ws.len() {
        let Some((start, _, w)) = ws.get(k) else {
            break;
        };
        let Some(first) = number_word(w, language) else {
            k += 1;
            continue;
        };
        let (mut total, mut current) = (0u64, 0u64);
        let mut last = first;
        let mut end_k = k;
        let apply = |w: NumberWord, total: &mut u64, current: &mut u64| match w {
            NumberWord::Unit(n) | NumberWord::Tens(n) | NumberWord::Hundreds(n) => *current += n,
            NumberWord::Hundred => *current = (*current).max(1) * 100,
            NumberWord::Scale(s) => {
                *total += (*current).max(1) * s;
                *current = 0;
            }
        };
        apply(first, &mut total, &mut current);
        let mut j = k + 1;
        while let (Some(prev), Some(next)) = (ws.get(j - 1), ws.get(j)) {
            // An optional connector between two number words.
            let (cand, gap_ok) = if next.2 == connector {
                match ws.get(j + 1) {
                    Some(after) => (
                        Some((j + 1, after)),
                        joined(chars, prev.1, next.0) && joined(chars, next.1, after.0),
                    ),
                    None => (None, false),
                }
            } else {
                (Some((j, next)), joined(chars, prev.1, next.0))
            };
            let Some((at, word)) = cand else { break };
            let Some(nw) = number_word(&word.2, language).filter(|_| gap_ok) else {
                break;
            };
            let fits = match (last, nw) {
                (NumberWord::Tens(_), NumberWord::Unit(n)) => n < 10 && n > 0,
                (
                    NumberWord::Hundreds(_) | NumberWord::Hundred,
                    NumberWord::Unit(_) | NumberWord::Tens(_),
                ) => true,
                (
                    NumberWord::Scale(_),
                    NumberWord::Unit(_) | NumberWord::Tens(_) | NumberWord::Hundreds(_),
                ) => true,
                (NumberWord::Unit(_) | NumberWord::Tens(_), NumberWord::Hundred) => {
                    language == Language::English && current < 10
                }
                (
                    NumberWord::Unit(_)
                    | NumberWord::Tens(_)
                    | NumberWord::Hundreds(_)
                    | NumberWord::Hundred,
                    NumberWord::Scale(s),
                ) => total == 0 || total > s * 999,
                _ => false,
            };
            if !fits {
                break;
            }
            apply(nw, &mut total, &mut current);
            last = nw;
            end_k = at;
            j = at + 1;
        }
        {
            let end = ws.get(end_k).map_or(0, |w| w.1);
            if let Some(n) = number_value((total + current).to_string(), *start, end) {
                out.push(n);
            }
        }
        k = end_k + 1;
    }
    out
}

const EN_MONTHS: [(&str, i8); 23] = [
    ("january", 1),
    ("jan", 1),
    ("february", 2),
    ("feb", 2),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("may", 5),
    ("june", 6),
    ("jun", 6),
    ("july", 7),
    ("jul", 7),
    ("august", 8),
    ("aug", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("october", 10),
    ("oct", 10),
    ("november", 11),
    ("nov", 11),
    ("december", 12),
];
const PT_MONTHS: [(&str, i8); 12] = [
    ("janeiro", 1),
    ("fevereiro", 2),
    ("marco", 3),
    ("abril", 4),
    ("maio", 5),
    ("junho", 6),
    ("julho", 7),
    ("agosto", 8),
    ("setembro", 9),
    ("outubro", 10),
    ("novembro", 11),
    ("dezembro", 12),
];
const EN_ORDINALS: [&str; 20] = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
];

fn month_of(word: &str, language: Language) -> Option<i8> {
    let table: &[(&str, i8)] = match language {
        Language::English => &EN_MONTHS,
        Language::Portuguese => &PT_MONTHS,
        Language::OtherComma => &[],
    };
    if word == "dec" && language == Language::English {
        return Some(12);
    }
    table.iter().find(|(w, _)| *w == word).map(|(_, m)| *m)
}

/// A day of the month at word `k`: `24`, `24th`, `3rd`, `fifth`, `twenty fourth`,
/// `twenty-fourth`, `thirtieth`; Portuguese `24`, `cinco`, `primeiro`, `1º`. Its value and the
/// index of its last word.
fn day_at(
    ws: &[(usize, usize, String)],
    chars: &[char],
    k: usize,
    language: Language,
) -> Option<(i8, usize)> {
    let (_, _, w) = ws.get(k)?;
    let small = |n: u64| i8::try_from(n).ok().filter(|d| (1..=31).contains(d));
    let digits: String = w.chars().take_while(char::is_ascii_digit).collect();
    if !digits.is_empty() && digits.len() <= 2 {
        let rest = w.get(digits.len()..).unwrap_or_default();
        let suffix_ok = match language {
            Language::English => ["", "st", "nd", "rd", "th"].contains(&rest),
            _ => ["", "o"].contains(&rest),
        };
        return suffix_ok
            .then(|| small(digits.parse().ok()?))
            .flatten()
            .map(|d| (d, k));
    }
    match language {
        Language::English => {
            if let Some(i) = EN_ORDINALS.iter().position(|o| o == w) {
                return small(i as u64 + 1).map(|d| (d, k));
            }
            if w == "thirtieth" {
                return Some((30, k));
            }
            if let Some((_, tens)) = EN_TENS.iter().take(2).find(|(t, _)| t == w) {
                let (s, _, next) = ws.get(k + 1)?;
                if !joined(chars, ws.get(k)?.1, *s) {
                    return None;
                }
                let unit = EN_ORDINALS.iter().take(9).position(|o| o == next)? as u64 + 1;
                return small(tens + unit).map(|d| (d, k + 1));
            }
            None
        }
        Language::Portuguese => {
            if w == "primeiro" {
                return Some((1, k));
            }
            if let Some(NumberWord::Unit(n)) = number_word(w, language) {
                return small(n).map(|d| (d, k));
            }
            None
        }
        Language::OtherComma => None,
    }
}

/// A year at word `k` (four digits, 1900–2199).
fn year_at(ws: &[(usize, usize, String)], k: usize) -> Option<i16> {
    let (_, _, w) = ws.get(k)?;
    (w.len() == 4 && w.chars().all(|c| c.is_ascii_digit()))
        .then(|| w.parse::<i16>().ok())
        .flatten()
        .filter(|y| (1900..=2199).contains(y))
}

/// Dates with a month name: English `December 24th`, `Dec 24, 2026`, `24th December`, `the
/// fifth of january`, `march the 3rd`; Portuguese `24 de dezembro`, `cinco de janeiro de 2027`,
/// `1º de maio`. Without a year, the next such day (today included).
pub(super) fn find_month_dates(
    chars: &[char],
    language: Language,
    today: Option<Date>,
) -> Vec<SystemFound> {
    let ws = words(chars);
    let mut out = Vec::new();
    let date_of = |day: i8, month: i8, year: Option<i16>| -> Option<Date> {
        match year {
            Some(y) => Date::new(y, month, day).ok(),
            None => {
                let t = today?;
                let this = Date::new(t.year(), month, day).ok();
                match this {
                    Some(d) if d >= t => Some(d),
                    _ => Date::new(t.year().checked_add(1)?, month, day).ok(),
                }
            }
        }
    };
    let mut k = 0;
    while k < ws.len() {
        let mut hit: Option<(usize, usize, Date)> = None;
        if let Some(month) = ws.get(k).and_then(|w| month_of(&w.2, language)) {
            // Month first: `december 24th`, `march the 3rd`.
            if language == Language::English {
                let mut d = k + 1;
                if ws.get(d).is_some_and(|w| w.2 == "the") {
                    d += 1;
                }
                if let Some((day, last)) = day_at(&ws, chars, d, language) {
                    let year = year_at(&ws, last + 1);
                    let end_k = if year.is_some() { last + 1 } else { last };
                    if let Some(date) = date_of(day, month, year) {
                        hit = Some((k, end_k, date));
                    }
                }
            }
        } else if let Some((day, last)) = day_at(&ws, chars, k, language) {
            // Day first: `24th december`, `the fifth of january`, `5 de janeiro`.
            let mut m = last + 1;
            let of = match language {
                Language::English => "of",
                _ => "de",
            };
            if ws.get(m).is_some_and(|w| w.2 == of) {
                m += 1;
            }
            if let Some(month) = ws.get(m).and_then(|w| month_of(&w.2, language)) {
                let mut y = m + 1;
                if language != Language::English && ws.get(y).is_some_and(|w| w.2 == "de") {
                    y += 1;
                }
                let year = year_at(&ws, y);
                let end_k = if year.is_some() { y } else { m };
                if let Some(date) = date_of(day, month, year) {
                    hit = Some((k, end_k, date));
                }
            }
        }
        match hit {
            Some((s, e, date)) => {
                let (Some(first), Some(last)) = (ws.get(s), ws.get(e)) else {
                    break;
                };
                out.push(SystemFound {
                    name: "sys-date",
                    start: first.0,
                    end: last.1,
                    value: date.to_string(),
                    metadata: None,
                });
                k = e + 1;
            }
            None => k += 1,
        }
    }
    out
}

/// Times said in words: `half past two`, `quarter past ten`, `quarter to five`, `ten past
/// six`, `two o'clock`, `noon`, `midnight`, each with an optional `am`/`pm`; Portuguese
/// `meio-dia`, `meia-noite`, `duas e meia`, `três horas`. Without `am`/`pm`, hours 1 to 7 are
/// read as afternoon (business hours), 8 to 12 as said.
pub(super) fn find_word_times(chars: &[char], language: Language) -> Vec<SystemFound> {
    let ws = words(chars);
    let mut out = Vec::new();
    let hour_at = |k: usize| -> Option<u32> {
        let w = &ws.get(k)?.2;
        let n = if w.chars().all(|c| c.is_ascii_digit()) {
            w.parse::<u32>().ok()?
        } else {
            match number_word(w, language)? {
                NumberWord::Unit(n) => u32::try_from(n).ok()?,
                _ => return None,
            }
        };
        (1..=12).contains(&n).then_some(n)
    };
    let said = |h: u32| if h <= 7 { h + 12 } else { h };
    let mut k = 0;
    while k < ws.len() {
        let Some((start, _, w)) = ws.get(k) else {
            break;
        };
        // (hour, minute, index of the last word, whether the hour is as said)
        let mut hit: Option<(u32, u32, usize, bool)> = None;
        match language {
            Language::English => {
                let minutes = match w.as_str() {
                    "half" => Some(30),
                    "quarter" => Some(15),
                    _ => match number_word(w, language) {
                        Some(NumberWord::Unit(n)) if (1..=20).contains(&n) => u32::try_from(n).ok(),
                        Some(NumberWord::Tens(20)) => Some(20),
                        _ => None,
                    },
                };
                if w == "noon" || w == "midday" {
                    hit = Some((12, 0, k, true));
                } else if w == "midnight" {
                    hit = Some((0, 0, k, true));
                } else if let Some(m) = minutes {
                    let rel = ws.get(k + 1).map(|x| x.2.as_str());
                    if let (Some("past" | "after"), Some(h)) = (rel, hour_at(k + 2)) {
                        hit = Some((h, m, k + 2, false));
                    } else if let (Some("to" | "til"), Some(h)) = (rel, hour_at(k + 2)) {
                        let before = if h == 1 { 12 } else { h - 1 };
                        hit = Some((before, 60 - m, k + 2, false));
                    }
                }
                if hit.is_none() {
                    if let Some(h) = hour_at(k) {
                        let next = ws.get(k + 1).map(|x| x.2.as_str());
                        let after = ws.get(k + 2).map(|x| x.2.as_str());
                        if next == Some("oclock") {
                            hit = Some((h, 0, k + 1, false));
                        } else if next == Some("o") && after == Some("clock") {
                            hit = Some((h, 0, k + 2, false));
                        }
                    }
                }
            }
            Language::Portuguese => {
                let next = ws.get(k + 1).map(|x| x.2.as_str());
                if (w == "meio" || w == "meia")
                    && ws.get(k + 1).is_some_and(|x| joined(chars, ws[k].1, x.0))
                {
                    if next == Some("dia") {
                        hit = Some((12, 0, k + 1, true));
                    } else if next == Some("noite") {
                        hit = Some((0, 0, k + 1, true));
                    }
                } else if let Some(h) = hour_at(k) {
                    let after = ws.get(k + 2).map(|x| x.2.as_str());
                    if next == Some("e") && after == Some("meia") {
                        hit = Some((h, 30, k + 2, false));
                    } else if next == Some("hora") || next == Some("horas") {
                        hit = Some((h, 0, k + 1, false));
                    }
                }
            }
            Language::OtherComma => {}
        }
        let Some((mut hour, minute, mut last, exact)) = hit else {
            k += 1;
            continue;
        };
        // am / pm after the time.
        let meridiem = ws.get(last + 1).map(|x| x.2.as_str());
        let (pm, am) = (
            matches!(meridiem, Some("pm"))
                || (meridiem == Some("p") && ws.get(last + 2).is_some_and(|x| x.2 == "m")),
            matches!(meridiem, Some("am"))
                || (meridiem == Some("a") && ws.get(last + 2).is_some_and(|x| x.2 == "m")),
        );
        if !exact && (pm || am) && (1..=12).contains(&hour) {
            hour = match (pm, hour) {
                (true, 12) => 12,
                (true, h) => h + 12,
                (false, 12) => 0,
                (false, h) => h,
            };
            last += if matches!(meridiem, Some("pm" | "am")) {
                1
            } else {
                2
            };
        } else if !exact {
            hour = said(hour);
        }
        let Some(end) = ws.get(last).map(|x| x.1) else {
            break;
        };
        out.push(SystemFound {
            name: "sys-time",
            start: *start,
            end,
            value: format!("{:02}:{minute:02}:00", hour % 24),
            metadata: None,
        });
        k = last + 1;
    }
    out
}
