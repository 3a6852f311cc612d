//! The `error` output's codes are a documented, stable list: every `ErrorKind` is in the table of
//! `docs/architecture.md`, with the same meaning, and the table names no other code.

mod common;

use fluxo::ErrorKind;

#[test]
fn every_error_code_is_documented() {
    let doc = std::fs::read_to_string(common::root().join("docs/architecture.md")).expect("doc");
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("Errors"))
        .expect("an Errors section");
    let rows: Vec<(String, String)> = section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            code.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_')
                .then(|| {
                    (
                        code.to_owned(),
                        cells.get(2).copied().unwrap_or("").to_owned(),
                    )
                })
        })
        .collect();
    for kind in ErrorKind::ALL {
        let row = rows.iter().find(|(c, _)| c == kind.code());
        assert_eq!(
            row.map(|(_, m)| m.as_str()),
            Some(kind.description()),
            "`{}` in docs/architecture.md",
            kind.code()
        );
    }
    let codes: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
    for (c, _) in &rows {
        assert!(
            codes.contains(&c.as_str()),
            "docs list an unknown code `{c}`"
        );
    }
}
