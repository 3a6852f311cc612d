//! Validating the user's answer to an open input (`mandatory`, `mask`, options, dates).
//!
//! Masks follow the builder's list: `cpf`, `cnpj`, `cpf_cnpj`, `cep`, `cellphone`,
//! `telefone_fixo`, `fixo_or_cellphone`, `email`, `numeric`, `money`, `date`, `vehicle_plate`,
//! `password`, `custom`. Punctuation is optional: `123.456.789-09` and `12345678909` are the
//! same CPF. CPF and CNPJ check digits are verified.

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
    let listy = matches!(
        kind,
        InputType::Select
            | InputType::OptionList
            | InputType::QuickReplies
            | InputType::Autocomplete
    );
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
            let pick = |t: &str| {
                options.iter().find_map(|o| {
                    let title = o.get("title").and_then(Json::as_str).unwrap_or_default();
                    let value = o
                        .get("value")
                        .map(value_text)
                        .unwrap_or_else(|| title.to_owned());
                    (same(t, title, accents) || same(t, &value, accents)).then_some(value)
                })
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
