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
            find_dates(&folded, self.language, today)
        } else {
            Vec::new()
        };
        let times = if s.time {
            find_times(&folded)
        } else {
            Vec::new()
        };
        let numbers = find_numbers(&folded, self.language);
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
    let words: Vec<(&str, u8)> = match language {
        Language::English => EN_NUMBERS.iter().zip(0u8..).map(|(w, n)| (*w, n)).collect(),
        Language::Portuguese => PT_NUMBERS.to_vec(),
        Language::OtherComma => Vec::new(),
    };
    for (s, e) in word_spans(chars) {
        let Some(word) = chars.get(s..e) else {
            continue;
        };
        let word: String = word.iter().collect();
        if let Some((_, n)) = words.iter().find(|(w, _)| *w == word) {
            if let Some(num) = number_value(n.to_string(), s, e) {
                out.push(num);
            }
        }
    }
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
        if chars.get(j) == Some(&':') {
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
