//! Validating the user's answer to an open input (`mandatory`, `mask`, options, dates).
//!
//! Masks follow the builder's list: `cpf`, `cnpj`, `cpf_cnpj`, `cep`, `cellphone`,
//! `telefone_fixo`, `fixo_or_cellphone`, `email`, `numeric`, `money`, `date`, `vehicle_plate`,
//! `password`, `custom`. Punctuation is optional: `123.456.789-09` and `12345678909` are the
//! same CPF. CPF and CNPJ check digits are verified.

use crate::domain::{AwaitedInput, InputOption};
use crate::model::InputType;
use serde_json::{json, Map, Value as Json};

/// The outcome of validating one answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Valid; `input` is what the flow sees (`text`, `valid`, and `value`/`values` where it applies).
    Valid(Json),
    /// Invalid.
    Invalid,
}

/// Validates `text` against an input of `kind` with `payload`. Inputs without validation
/// (no `mandatory`, no `mask`, no options) accept anything.
pub fn validate(kind: InputType, payload: &Map<String, Json>, text: &str) -> Verdict {
    let trimmed = text.trim();
    let flag = |k: &str| payload.get(k).and_then(Json::as_bool);
    let options = payload
        .get("options")
        .or_else(|| payload.get("replies"))
        .and_then(Json::as_array);
    let listy = is_list(kind);
    let mandatory = kind.mandatory(payload);
    if trimmed.is_empty() {
        return if mandatory {
            Verdict::Invalid
        } else {
            Verdict::Valid(json!({ "text": text, "valid": true }))
        };
    }
    match kind {
        InputType::TextInput => match payload.get("mask").and_then(Json::as_str) {
            Some(mask) if !mask_ok(mask, trimmed) => Verdict::Invalid,
            _ => Verdict::Valid(json!({ "text": text, "valid": true })),
        },
        _ if listy => {
            let Some(options) = options else {
                return Verdict::Valid(json!({ "text": text, "valid": true }));
            };
            let accents = flag("accentSensitive").unwrap_or(false);
            let choices: Vec<(String, String)> = options.iter().filter_map(option_parts).collect();
            let by_number = numbered(&choices);
            let pick = |t: &str| {
                choices
                    .iter()
                    .find(|(title, value)| same(t, title, accents) || same(t, value, accents))
                    .or_else(|| {
                        // The number rule: `2` answers the second option when no option is
                        // itself a number.
                        let n: usize = t.trim().parse().ok().filter(|_| by_number)?;
                        n.checked_sub(1).and_then(|i| choices.get(i))
                    })
                    .map(|(_, value)| value.clone())
            };
            if flag("multiple").unwrap_or(false) {
                let picked: Option<Vec<String>> =
                    trimmed.split(',').map(|p| pick(p.trim())).collect();
                match picked {
                    Some(values) => Verdict::Valid(
                        json!({ "text": values.join(","), "values": values, "valid": true }),
                    ),
                    None if mandatory => Verdict::Invalid,
                    None => Verdict::Valid(json!({ "text": text, "valid": true })),
                }
            } else {
                match pick(trimmed) {
                    Some(v) => Verdict::Valid(json!({ "text": v, "valid": true })),
                    None if mandatory => Verdict::Invalid,
                    None => Verdict::Valid(json!({ "text": text, "valid": true })),
                }
            }
        }
        InputType::Date => match parse_date(trimmed) {
            Some(iso) if !date_allowed(payload, &iso) => Verdict::Invalid,
            Some(iso) => Verdict::Valid(json!({ "text": text, "value": iso, "valid": true })),
            None if mandatory || payload.contains_key("mask") => Verdict::Invalid,
            None => Verdict::Valid(json!({ "text": text, "valid": true })),
        },
        _ => Verdict::Valid(json!({ "text": text, "valid": true })),
    }
}

fn is_list(kind: InputType) -> bool {
    matches!(
        kind,
        InputType::Select
            | InputType::OptionList
            | InputType::QuickReplies
            | InputType::Autocomplete
    )
}

/// An option as written: `(title, value)`. An option is an object with `title` and `value`
/// (either may be missing: the other stands for it; `label` and `text` are read as titles),
/// or a bare string that is both.
fn option_parts(o: &Json) -> Option<(String, String)> {
    match o {
        Json::String(s) => Some((s.clone(), s.clone())),
        Json::Object(m) => {
            let title = ["title", "label", "text"]
                .iter()
                .find_map(|k| m.get(*k))
                .map(value_text);
            let value = m.get("value").map(value_text);
            match (title, value) {
                (Some(t), Some(v)) => Some((t, v)),
                (Some(t), None) => Some((t.clone(), t)),
                (None, Some(v)) => Some((v.clone(), v)),
                (None, None) => None,
            }
        }
        _ => None,
    }
}

/// The number rule: a bare number answers the option with that number (from 1) unless some
/// option's title or value is a number itself — then `2` could mean the option worth 2, and it
/// answers only an option it names, as any other text.
pub fn numbered(options: &[(String, String)]) -> bool {
    let is_number = |s: &str| s.trim().parse::<f64>().is_ok();
    !options.is_empty()
        && !options
            .iter()
            .any(|(title, value)| is_number(title) || is_number(value))
}

/// What the builder's mask `mask` accepts, in words (for channels that draw the input).
pub fn mask_accepts(mask: &str) -> Option<&'static str> {
    Some(match mask {
        "cpf" => "a CPF: 11 digits, punctuation optional, with valid check digits",
        "cnpj" => "a CNPJ: 14 digits, punctuation optional, with valid check digits",
        "cpf_cnpj" => "a CPF (11 digits) or a CNPJ (14 digits), with valid check digits",
        "cep" => "a CEP: 8 digits, punctuation optional",
        "cellphone" => "a Brazilian mobile number: area code, then 9 and 8 digits (+55 optional)",
        "telefone_fixo" => {
            "a Brazilian landline: area code, then 8 digits starting with 2 to 5 (+55 optional)"
        }
        "fixo_or_cellphone" => "a Brazilian mobile or landline number",
        "email" => "an e-mail address",
        "numeric" => "digits only",
        "money" => "an amount: digits with `.` and `,`, `R$` optional",
        "date" => "a date: DD/MM/YYYY, DD-MM-YYYY or YYYY-MM-DD",
        "vehicle_plate" => "a vehicle plate: ABC1234 or ABC1D23",
        "password" => "any text, hidden as it is typed",
        "custom" => "any text",
        _ => return None,
    })
}

/// What a channel needs to draw an input of `kind` with its rendered `payload`, after `tries`
/// invalid answers.
pub fn describe(kind: InputType, payload: &Map<String, Json>, tries: u32) -> AwaitedInput {
    let kind_name = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut d = AwaitedInput::new(kind_name, kind.mandatory(payload));
    let text = |k: &str| {
        payload
            .get(k)
            .and_then(Json::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    d.tries_left = payload
        .get("tries")
        .and_then(|t| t.as_u64().or_else(|| t.as_str()?.trim().parse().ok()))
        .map(|limit| limit.saturating_sub(u64::from(tries)));
    if is_list(kind) {
        let choices: Vec<(String, String)> = payload
            .get("options")
            .or_else(|| payload.get("replies"))
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(option_parts)
            .collect();
        d.numbered = numbered(&choices);
        d.options = choices
            .into_iter()
            .zip(1u32..)
            .map(|((title, value), n)| InputOption::new(n, title, value))
            .collect();
        d.multiple = payload
            .get("multiple")
            .and_then(Json::as_bool)
            .unwrap_or(false);
    }
    match kind {
        InputType::TextInput => {
            d.mask = text("mask");
            d.accepts = d.mask.as_deref().and_then(mask_accepts).map(str::to_owned);
        }
        InputType::Date => {
            d.accepts = Some(mask_accepts("date").unwrap_or_default().to_owned());
            d.min = text("min");
            d.max = text("max");
            d.weekends = payload.get("weekends").and_then(Json::as_bool);
        }
        InputType::FileUpload => {
            d.file_types = text("acceptFileTypes")
                .map(|t| {
                    t.split(['|', ',', ' '])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            d.max_file_size = text("maxFileSize");
        }
        _ => {}
    }
    d
}

fn value_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn same(a: &str, b: &str, accents: bool) -> bool {
    let norm = |s: &str| {
        let lower = s.trim().to_lowercase();
        if accents {
            lower
        } else {
            crate::text::fold_accents(&lower)
        }
    };
    !b.is_empty() && norm(a) == norm(b)
}

fn digits(s: &str) -> Option<String> {
    // Only digits and the usual separators may appear.
    if s.chars()
        .all(|c| c.is_ascii_digit() || " .-/()+".contains(c))
    {
        Some(s.chars().filter(char::is_ascii_digit).collect())
    } else {
        None
    }
}

/// The builder's masks, in the order of its menu: what [`mask_ok`] knows, and what editors
/// offer after `"mask":`.
#[cfg_attr(not(feature = "lsp"), allow(dead_code))]
pub(crate) const MASKS: &[&str] = &[
    "cpf",
    "cnpj",
    "cpf_cnpj",
    "cep",
    "cellphone",
    "telefone_fixo",
    "fixo_or_cellphone",
    "email",
    "numeric",
    "money",
    "date",
    "vehicle_plate",
    "password",
    "custom",
];

/// True when `text` fits the builder mask `mask`. Unknown masks accept anything.
pub fn mask_ok(mask: &str, text: &str) -> bool {
    match mask {
        "cpf" => digits(text).is_some_and(|d| cpf_ok(&d)),
        "cnpj" => digits(text).is_some_and(|d| cnpj_ok(&d)),
        "cpf_cnpj" => digits(text).is_some_and(|d| cpf_ok(&d) || cnpj_ok(&d)),
        "cep" => digits(text).is_some_and(|d| d.len() == 8),
        "cellphone" => digits(text).is_some_and(|d| mobile_ok(&d)),
        "telefone_fixo" => digits(text).is_some_and(|d| landline_ok(&d)),
        "fixo_or_cellphone" => digits(text).is_some_and(|d| mobile_ok(&d) || landline_ok(&d)),
        "numeric" => text.chars().all(|c| c.is_ascii_digit()),
        "money" => money_ok(text),
        "email" => email_ok(text),
        "date" => parse_date(text).is_some(),
        "vehicle_plate" => plate_ok(text),
        _ => true,
    }
}

fn strip_country(d: &str) -> &str {
    if d.len() > 11 {
        d.strip_prefix("55").unwrap_or(d)
    } else {
        d
    }
}

fn mobile_ok(d: &str) -> bool {
    // DDD (two digits, not starting with 0) then 9 and eight digits.
    matches!(strip_country(d).as_bytes(), [a, _, b'9', rest @ ..] if *a != b'0' && rest.len() == 8)
}

fn landline_ok(d: &str) -> bool {
    matches!(strip_country(d).as_bytes(), [a, _, b'2'..=b'5', rest @ ..] if *a != b'0' && rest.len() == 7)
}

fn all_same(d: &str) -> bool {
    d.bytes().all(|b| Some(&b) == d.as_bytes().first())
}

/// The digits of `d` as numbers, when it has exactly `N` of them and nothing else.
fn digits_of<const N: usize>(d: &str) -> Option<[u32; N]> {
    if !d.bytes().all(|b| b.is_ascii_digit()) || all_same(d) {
        return None;
    }
    let v: Vec<u32> = d.bytes().map(|b| u32::from(b - b'0')).collect();
    v.try_into().ok()
}

/// A check digit: `sum(digits × weights)` reduced as CPF and CNPJ do.
fn check_digit(digits: &[u32], weights: &[u32], cpf: bool) -> u32 {
    let s: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    if cpf {
        let r = (s * 10) % 11;
        if r == 10 {
            0
        } else {
            r
        }
    } else {
        let r = s % 11;
        if r < 2 {
            0
        } else {
            11 - r
        }
    }
}

fn cpf_ok(d: &str) -> bool {
    let Some(n) = digits_of::<11>(d) else {
        return false;
    };
    let first = check_digit(&n[..9], &[10, 9, 8, 7, 6, 5, 4, 3, 2], true);
    let second = check_digit(&n[..10], &[11, 10, 9, 8, 7, 6, 5, 4, 3, 2], true);
    first == n[9] && second == n[10]
}

fn cnpj_ok(d: &str) -> bool {
    let Some(n) = digits_of::<14>(d) else {
        return false;
    };
    let first = check_digit(&n[..12], &[5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], false);
    let second = check_digit(&n[..13], &[6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], false);
    first == n[12] && second == n[13]
}

fn money_ok(t: &str) -> bool {
    let t = t.trim_start_matches("R$").trim();
    !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && t.chars().next().is_some_and(|c| c.is_ascii_digit())
}

fn email_ok(t: &str) -> bool {
    let Some((local, domain)) = t.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !t.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
}

fn plate_ok(t: &str) -> bool {
    let p: Vec<char> = t
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    // ABC1234 or the Mercosul ABC1D23.
    matches!(p.as_slice(), [a, b, c, d, e, f, g]
        if [a, b, c].iter().all(|x| x.is_ascii_uppercase())
            && d.is_ascii_digit()
            && (e.is_ascii_digit() || e.is_ascii_uppercase())
            && f.is_ascii_digit()
            && g.is_ascii_digit())
}

/// The `date` widget's bounds: `min` and `max` (`YYYY-MM-DD`, inclusive) and `weekends`
/// (default true; false refuses Saturdays and Sundays). A bound that is not a date is no
/// bound (lint reports it). `iso` is a date [`parse_date`] produced.
fn date_allowed(payload: &Map<String, Json>, iso: &str) -> bool {
    let Ok(date) = iso.parse::<jiff::civil::Date>() else {
        return false;
    };
    let bound = |k: &str| {
        payload
            .get(k)
            .and_then(Json::as_str)
            .and_then(|b| b.trim().parse::<jiff::civil::Date>().ok())
    };
    if bound("min").is_some_and(|min| date < min) || bound("max").is_some_and(|max| date > max) {
        return false;
    }
    let weekends = payload
        .get("weekends")
        .and_then(Json::as_bool)
        .unwrap_or(true);
    weekends
        || !matches!(
            date.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        )
}

/// Reads `DD/MM/YYYY`, `DD-MM-YYYY` or `YYYY-MM-DD`; returns the ISO date when it exists.
pub fn parse_date(t: &str) -> Option<String> {
    let parts: Vec<&str> = t.split(['/', '-']).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let (y, m, d) = if a.len() == 4 { (a, b, c) } else { (c, b, a) };
    let (y, m, d): (i16, i8, i8) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let date = jiff::civil::Date::new(y, m, d).ok()?;
    Some(date.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_bounds_and_weekends() {
        let p = |v: Json| v.as_object().cloned().unwrap_or_default();
        let bounded = p(json!({"min": "2026-12-01", "max": "2026-12-31", "weekends": false}));
        let ok =
            |text: &str| matches!(validate(InputType::Date, &bounded, text), Verdict::Valid(_));
        assert!(ok("03/12/2026")); // a Thursday inside the bounds
        assert!(ok("2026-12-01") && ok("31/12/2026")); // bounds are inclusive
        assert!(!ok("30/11/2026") && !ok("01/01/2027")); // outside
        assert!(!ok("05/12/2026") && !ok("06/12/2026")); // Saturday, Sunday
        let open = p(json!({}));
        assert!(matches!(
            validate(InputType::Date, &open, "05/12/2026"),
            Verdict::Valid(_)
        ));
    }

    #[test]
    fn the_schema_lists_the_masks_validation_knows() {
        let schema: Json = serde_json::from_str(include_str!("../../schemas/flow.schema.json"))
            .unwrap_or_default();
        let listed: Vec<&str> = schema
            .pointer("/$defs/payloadTextInput/properties/mask/anyOf/0/enum")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .collect();
        assert_eq!(listed, MASKS);
        // A name outside the list is what the schema refuses; validation would accept anything.
        assert!(mask_ok("cfp", "abc"));
    }

    #[test]
    fn masks() {
        assert!(mask_ok("cpf", "529.982.247-25") && mask_ok("cpf", "52998224725"));
        assert!(
            !mask_ok("cpf", "529.982.247-26")
                && !mask_ok("cpf", "111.111.111-11")
                && !mask_ok("cpf", "abc")
        );
        assert!(mask_ok("cnpj", "11.222.333/0001-81") && !mask_ok("cnpj", "11.222.333/0001-82"));
        assert!(mask_ok("cep", "01001-000") && !mask_ok("cep", "0100100"));
        // Every listed mask but the two free ones checks something.
        for m in MASKS
            .iter()
            .filter(|m| !matches!(**m, "password" | "custom"))
        {
            assert!(!mask_ok(m, "§"), "{m}");
        }
        assert!(
            mask_ok("cellphone", "(11) 91234-5678")
                && mask_ok("cellphone", "+55 11 91234-5678")
                && !mask_ok("cellphone", "(11) 3123-4567")
        );
        assert!(
            mask_ok("telefone_fixo", "(11) 3123-4567")
                && mask_ok("fixo_or_cellphone", "11912345678")
        );
        assert!(
            mask_ok("email", "maria@exemplo.com.br")
                && !mask_ok("email", "maria@")
                && !mask_ok("email", "a b@c.d")
        );
        assert!(mask_ok("numeric", "123") && !mask_ok("numeric", "12a"));
        assert!(mask_ok("money", "R$ 1.234,56") && !mask_ok("money", "dez"));
        assert!(
            mask_ok("vehicle_plate", "ABC-1234")
                && mask_ok("vehicle_plate", "abc1d23")
                && !mask_ok("vehicle_plate", "AB12345")
        );
        assert_eq!(parse_date("31/12/2026").as_deref(), Some("2026-12-31"));
        assert_eq!(parse_date("2026-02-30"), None);
    }

    fn obj(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_bare_number_answers_the_numbered_option() {
        let p = obj(
            json!({ "options": [ { "title": "Boleto", "value": "boleto" }, { "title": "Atendente", "value": "humano" } ] }),
        );
        let answer = |t: &str| validate(InputType::Select, &p, t);
        assert_eq!(
            answer("2"),
            Verdict::Valid(json!({ "text": "humano", "valid": true }))
        );
        assert_eq!(
            answer(" 1 "),
            Verdict::Valid(json!({ "text": "boleto", "valid": true }))
        );
        // Out of range, zero and negative numbers answer nothing.
        assert_eq!(answer("3"), Verdict::Invalid);
        assert_eq!(answer("0"), Verdict::Invalid);
        assert_eq!(answer("-1"), Verdict::Invalid);
        // Several at once, with `multiple`.
        let mut many = p.clone();
        many.insert("multiple".into(), json!(true));
        assert_eq!(
            validate(InputType::OptionList, &many, "2, boleto"),
            Verdict::Valid(
                json!({ "text": "humano,boleto", "values": ["humano", "boleto"], "valid": true })
            )
        );
        // Quick replies written as bare strings are numbered too.
        let replies = obj(json!({ "replies": ["Sim", "Não"], "mandatory": true }));
        assert_eq!(
            validate(InputType::QuickReplies, &replies, "2"),
            Verdict::Valid(json!({ "text": "Não", "valid": true }))
        );
        assert!(describe(InputType::QuickReplies, &replies, 0).numbered);
    }

    #[test]
    fn options_that_are_numbers_are_answered_by_their_value_only() {
        // "2" is the option worth 2 (the first), never the second option.
        let p = obj(
            json!({ "options": [ { "title": "Duas parcelas", "value": 2 }, { "title": "Três parcelas", "value": 3 } ] }),
        );
        assert_eq!(
            validate(InputType::Select, &p, "2"),
            Verdict::Valid(json!({ "text": "2", "valid": true }))
        );
        assert_eq!(validate(InputType::Select, &p, "1"), Verdict::Invalid);
        let d = describe(InputType::Select, &p, 0);
        assert!(!d.numbered);
        assert_eq!(d.options[1], InputOption::new(2, "Três parcelas", "3"));
        // A title that is a number is enough.
        let titled = obj(
            json!({ "options": [ { "title": "10", "value": "dez" }, { "title": "Outro" } ], "mandatory": true }),
        );
        assert!(!describe(InputType::Autocomplete, &titled, 0).numbered);
        assert_eq!(
            validate(InputType::Autocomplete, &titled, "2"),
            Verdict::Invalid
        );
    }

    #[test]
    fn each_input_type_is_described_for_a_channel() {
        let list = obj(
            json!({ "options": [ { "title": "Sim", "value": "s" }, { "title": "Não" } ], "tries": 3 }),
        );
        let d = describe(InputType::Select, &list, 1);
        assert_eq!(
            serde_json::to_value(&d).unwrap_or_default(),
            json!({ "type": "select", "mandatory": true, "tries_left": 2, "numbered": true,
                    "options": [ { "number": 1, "title": "Sim", "value": "s" },
                                 { "number": 2, "title": "Não", "value": "Não" } ] })
        );
        let d = describe(
            InputType::OptionList,
            &obj(json!({ "options": [ "a" ], "mandatory": false, "multiple": true })),
            0,
        );
        assert!(d.kind == "option_list" && !d.mandatory && d.multiple && d.tries_left.is_none());
        let d = describe(
            InputType::QuickReplies,
            &obj(json!({ "replies": [ { "title": "Ok" } ] })),
            0,
        );
        assert!(d.kind == "quick_replies" && !d.mandatory && d.options.len() == 1);
        let d = describe(
            InputType::TextInput,
            &obj(json!({ "mask": "cpf", "mandatory": true, "tries": "2" })),
            2,
        );
        assert_eq!(
            serde_json::to_value(&d).unwrap_or_default(),
            json!({ "type": "text_input", "mandatory": true, "tries_left": 0, "mask": "cpf",
                    "accepts": "a CPF: 11 digits, punctuation optional, with valid check digits" })
        );
        // Every mask the builder lists is explained.
        assert!(MASKS.iter().all(|m| mask_accepts(m).is_some()));
        assert_eq!(
            serde_json::to_value(describe(InputType::TextInput, &obj(json!({})), 0))
                .unwrap_or_default(),
            json!({ "type": "text_input", "mandatory": false })
        );
        let d = describe(
            InputType::Date,
            &obj(json!({ "min": "2026-12-01", "max": "2026-12-31", "weekends": false })),
            0,
        );
        assert_eq!(
            (
                d.min.as_deref(),
                d.max.as_deref(),
                d.weekends,
                d.accepts.is_some()
            ),
            (Some("2026-12-01"), Some("2026-12-31"), Some(false), true)
        );
        let d = describe(
            InputType::FileUpload,
            &obj(json!({ "acceptFileTypes": "PNG|JPEG| PDF", "maxFileSize": "10M" })),
            0,
        );
        assert_eq!(d.file_types, ["PNG", "JPEG", "PDF"]);
        assert_eq!(d.max_file_size.as_deref(), Some("10M"));
        let d = describe(InputType::Autocomplete, &obj(json!({ "options": [] })), 0);
        assert!(d.options.is_empty() && !d.numbered);
    }

    #[test]
    fn options_match_title_or_value_without_accents() {
        let payload = json!({ "options": [ { "title": "Não", "value": "nao" }, { "title": "Sim", "value": "sim" } ] });
        let p = payload.as_object().cloned().unwrap_or_default();
        assert_eq!(
            validate(InputType::Select, &p, "NAO"),
            Verdict::Valid(json!({ "text": "nao", "valid": true }))
        );
        assert_eq!(validate(InputType::Select, &p, "talvez"), Verdict::Invalid);
        assert_eq!(validate(InputType::Select, &p, ""), Verdict::Invalid);
    }
}
