//! Masking personal data in what an agent sees (Webex Contact Center's `mask_pii`).
//!
//! Phone numbers keep their last four digits (`+447966197542` → `*********7542`), e-mail
//! addresses their first letter and domain (`melissa@gmail.com` → `m******@gmail.com`), card
//! numbers and IBANs their last four characters, CPFs their last two digits.

use regex::Regex;
use std::sync::LazyLock;

static EMAIL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"\b([A-Za-z0-9])([A-Za-z0-9._%+-]*)(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})").ok()
});
static IBAN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b").ok());
static CPF: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b").ok());
/// Card numbers: 13–19 digits, optionally in groups separated by spaces or dashes.
static CARD: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\b\d(?:[ -]?\d){12,18}\b").ok());
/// Phone numbers: an optional `+`, then 8–15 digits with optional separators.
static PHONE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\+?\(?\d(?:[ ()-]?\d){7,14}").ok());

/// Replaces every character but the last `keep` alphanumerics of `s` with `*` (separators kept
/// for CPF-like layouts when `keep_separators`).
fn star(s: &str, keep: usize, keep_separators: bool) -> String {
    let total = s.chars().filter(|c| c.is_ascii_alphanumeric()).count();
    let mut seen = 0;
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                seen += 1;
                if seen > total.saturating_sub(keep) {
                    c
                } else {
                    '*'
                }
            } else if keep_separators {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// Masks personal data in `text`.
pub fn mask(text: &str) -> String {
    let mut out = text.to_owned();
    if let Some(re) = &*EMAIL {
        out = re
            .replace_all(&out, |c: &regex::Captures<'_>| {
                format!("{}{}{}", &c[1], "*".repeat(c[2].chars().count()), &c[3])
            })
            .into_owned();
    }
    if let Some(re) = &*IBAN {
        out = re
            .replace_all(&out, |c: &regex::Captures<'_>| star(&c[0], 4, false))
            .into_owned();
    }
    if let Some(re) = &*CPF {
        out = re
            .replace_all(&out, |c: &regex::Captures<'_>| star(&c[0], 2, true))
            .into_owned();
    }
    if let Some(re) = &*CARD {
        out = re
            .replace_all(&out, |c: &regex::Captures<'_>| {
                let d = c[0].chars().filter(char::is_ascii_digit).count();
                if (13..=19).contains(&d) {
                    star(&c[0], 4, false)
                } else {
                    c[0].to_owned()
                }
            })
            .into_owned();
    }
    if let Some(re) = &*PHONE {
        out = re
            .replace_all(&out, |c: &regex::Captures<'_>| star(&c[0], 4, false))
            .into_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_the_documented_examples() {
        assert_eq!(mask("+447966197542"), "*********7542");
        assert_eq!(mask("melissa@gmail.com"), "m******@gmail.com");
        assert_eq!(
            mask("meu cartão é 4111 1111 1111 1111"),
            "meu cartão é ***************1111"
        );
        assert_eq!(mask("CPF 529.982.247-25"), "CPF ***.***.***-25");
        assert_eq!(
            mask("IBAN GB82WEST12345698765432"),
            "IBAN ******************5432"
        );
        assert_eq!(
            mask("quero falar com atendente"),
            "quero falar com atendente"
        );
    }
}
