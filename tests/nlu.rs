//! The offline NLU of Watson workspaces (`fluxo::watson::nlu`), through its public API: a small
//! fixture (`tests/fixtures/watson/nlu.json`), hostile sizes, and the corpus in
//! `../shared/corpus/watson/` (skipped with a visible message when absent).

mod common;

use fluxo::watson::nlu::Understanding;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A Wednesday.
const NOW: &str = "2026-12-02T01:30:00Z";

fn fixture() -> Understanding {
    let path = common::root().join("tests/fixtures/watson/nlu.json");
    let text = std::fs::read_to_string(path).expect("fixture");
    let ws: Value = serde_json::from_str(&text).expect("fixture is JSON");
    Understanding::from_workspace(&ws)
}

/// The entities named `name`, as (value, literal, location).
fn found(entities: &Value, name: &str) -> Vec<(String, String, [u64; 2])> {
    entities
        .as_array()
        .expect("entities is an array")
        .iter()
        .filter(|e| e["entity"] == name)
        .map(|e| {
            (
                e["value"].as_str().unwrap_or_default().to_owned(),
                e["literal"].as_str().unwrap_or_default().to_owned(),
                [
                    e["location"][0].as_u64().expect("start"),
                    e["location"][1].as_u64().expect("end"),
                ],
            )
        })
        .collect()
}

fn top_intent(intents: &Value) -> (String, f64) {
    (
        intents[0]["intent"].as_str().unwrap_or_default().to_owned(),
        intents[0]["confidence"].as_f64().unwrap_or(-1.0),
    )
}

#[test]
fn dictionary_values_and_synonyms_match_case_insensitively_on_word_boundaries() {
    let u = fixture();
    let (_, e) = u.understand("A BIG pizza and a Little one, bigger is not a size", NOW);
    assert_eq!(
        found(&e, "size"),
        vec![
            ("large".into(), "BIG".into(), [2, 5]),
            ("small".into(), "Little".into(), [18, 24]),
        ]
    );
    let first = &e[0];
    assert_eq!(first["confidence"], json!(1.0));
    // Watson's key order.
    let keys: Vec<&str> = first
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["entity", "location", "value", "confidence", "literal"]
    );
}

#[test]
fn the_longest_match_wins_and_matches_of_one_entity_do_not_overlap() {
    let u = fixture();
    let (_, e) = u.understand("an extra large from new york", NOW);
    assert_eq!(
        found(&e, "size"),
        vec![("large".into(), "extra large".into(), [3, 14])]
    );
    assert_eq!(
        found(&e, "city"),
        vec![("New York".into(), "new york".into(), [20, 28])]
    );
    let (_, e) = u.understand("York, then NYC", NOW);
    assert_eq!(
        found(&e, "city"),
        vec![
            ("York".into(), "York".into(), [0, 4]),
            ("New York".into(), "NYC".into(), [11, 14]),
        ]
    );
}

#[test]
fn fuzzy_matching_only_where_the_entity_enables_it_within_the_documented_distance() {
    let u = fixture();
    // "peperoni": one edit from a 9-letter value (two allowed); "mushrom": one edit from
    // an 8-letter value; "hum": 3 letters, no fuzziness.
    let (_, e) = u.understand("peperoni and mushrom and hum", NOW);
    let toppings = found(&e, "topping");
    assert_eq!(
        toppings,
        vec![
            ("pepperoni".into(), "peperoni".into(), [0, 8]),
            ("mushroom".into(), "mushrom".into(), [13, 20]),
        ]
    );
    for t in e.as_array().expect("array") {
        let c = t["confidence"].as_f64().expect("confidence");
        assert!(c < 1.0 && c > 0.5, "{t}");
    }
    // Three edits from "pepperoni" is too far.
    let (_, e) = u.understand("pepxxxoni", NOW);
    assert!(found(&e, "topping").is_empty());
    // `size` has no fuzzy_match: "lagre" is not "large".
    let (_, e) = u.understand("a lagre one", NOW);
    assert!(found(&e, "size").is_empty(), "{e}");
    // An exact match keeps confidence 1.
    let (_, e) = u.understand("ham", NOW);
    assert_eq!(e[0]["confidence"], json!(1.0));
}

#[test]
fn patterns_match_with_groups_and_broken_patterns_are_skipped() {
    let u = fixture();
    let (_, e) = u.understand("call 555-123-4567 about AB12345", NOW);
    let phone = e
        .as_array()
        .expect("array")
        .iter()
        .find(|x| x["entity"] == "phone")
        .expect("phone found");
    assert_eq!(phone["value"], "us_phone");
    assert_eq!(phone["literal"], "555-123-4567");
    assert_eq!(phone["location"], json!([5, 17]));
    assert_eq!(
        phone["groups"],
        json!([
            { "group": "group_0", "location": [5, 17] },
            { "group": "group_1", "location": [5, 8] },
            { "group": "group_2", "location": [9, 12] },
            { "group": "group_3", "location": [13, 17] },
        ])
    );
    assert_eq!(
        found(&e, "order_code"),
        vec![("code".into(), "AB12345".into(), [24, 31])]
    );
}

#[test]
fn locations_count_characters_not_bytes() {
    let u = fixture();
    let (_, e) = u.understand("ção 😀 big", NOW);
    assert_eq!(
        found(&e, "size"),
        vec![("large".into(), "big".into(), [6, 9])]
    );
}

#[test]
fn sys_number_reads_digits_and_words_by_language() {
    let u = fixture();
    let (_, e) = u.understand("I want 2 pizzas, 1,000.50 dollars or three", NOW);
    let values: Vec<String> = found(&e, "sys-number").into_iter().map(|x| x.0).collect();
    assert_eq!(values, ["2", "1000.5", "3"]);
    let n = e
        .as_array()
        .expect("array")
        .iter()
        .find(|x| x["entity"] == "sys-number" && x["value"] == "1000.5")
        .expect("1000.5");
    assert_eq!(n["metadata"]["numeric_value"], json!(1000.5));
    // In English a comma before fewer than three digits separates numbers.
    let (_, e) = u.understand("3,5", NOW);
    let values: Vec<String> = found(&e, "sys-number").into_iter().map(|x| x.0).collect();
    assert_eq!(values, ["3", "5"]);

    let pt = Understanding::from_workspace(&json!({
        "language": "pt-br",
        "entities": [{ "entity": "sys-number", "values": [] }]
    }));
    let (_, e) = pt.understand("quero 3,5 kg, 1.000 reais e duas pizzas, três", NOW);
    let values: Vec<String> = found(&e, "sys-number").into_iter().map(|x| x.0).collect();
    assert_eq!(values, ["3.5", "1000", "2", "3"]);
}

#[test]
fn system_entities_only_when_the_workspace_declares_them() {
    let none = Understanding::from_workspace(&json!({ "language": "en" }));
    let (_, e) = none.understand("2 pizzas tomorrow at 3pm for $20", NOW);
    assert_eq!(e, json!([]));
}

#[test]
fn percentages_currencies_and_times() {
    let u = fixture();
    let (_, e) = u.understand("15% off, $20 or 30 dollars at 3pm or 15:30", NOW);
    assert_eq!(
        found(&e, "sys-percentage"),
        vec![("15".into(), "15%".into(), [0, 3])]
    );
    let currencies = found(&e, "sys-currency");
    assert_eq!(
        currencies,
        vec![
            ("20".into(), "$20".into(), [9, 12]),
            ("30".into(), "30 dollars".into(), [16, 26]),
        ]
    );
    let times: Vec<String> = found(&e, "sys-time").into_iter().map(|x| x.0).collect();
    assert_eq!(times, ["15:00:00", "15:30:00"]);
    // The hour of a time is not also a number.
    let numbers: Vec<String> = found(&e, "sys-number").into_iter().map(|x| x.0).collect();
    assert_eq!(numbers, ["15", "20", "30"]);
}

#[test]
fn sys_date_absolute_and_relative_to_the_session_clock() {
    let u = fixture();
    let (_, e) = u.understand(
        "2026-12-25, 12/31/2026, today, tomorrow, yesterday, on friday and wednesday",
        NOW,
    );
    let dates: Vec<String> = found(&e, "sys-date").into_iter().map(|x| x.0).collect();
    assert_eq!(
        dates,
        [
            "2026-12-25",
            "2026-12-31",
            "2026-12-02",
            "2026-12-03",
            "2026-12-01",
            "2026-12-04",
            "2026-12-02"
        ]
    );
    // Digits of a date are not numbers too.
    assert!(found(&e, "sys-number").is_empty(), "{e}");
    // An impossible date is no date; a clock that is not RFC 3339 gives no relative dates.
    let (_, e) = u.understand("13/45/2026 today", "garbage");
    assert!(found(&e, "sys-date").is_empty(), "{e}");

    let pt = Understanding::from_workspace(&json!({
        "language": "pt-br",
        "entities": [{ "entity": "sys-date", "values": [] }]
    }));
    let (_, e) = pt.understand("31/12/2026, hoje, amanhã ou sexta-feira", NOW);
    assert_eq!(
        found(
            &pt.understand("31/12/2026, hoje, amanhã ou sexta-feira", NOW)
                .1,
            "sys-date"
        ),
        vec![
            ("2026-12-31".into(), "31/12/2026".into(), [0, 10]),
            ("2026-12-02".into(), "hoje".into(), [12, 16]),
            ("2026-12-03".into(), "amanhã".into(), [18, 24]),
            ("2026-12-04".into(), "sexta-feira".into(), [28, 39]),
        ]
    );
    assert_eq!(e.as_array().map(Vec::len), Some(4));
}

#[test]
fn entities_come_in_text_order() {
    let u = fixture();
    let (_, e) = u.understand("tomorrow a big ham pizza, 2 of them", NOW);
    let names: Vec<&str> = e
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|x| x["entity"].as_str())
        .collect();
    assert_eq!(names, ["sys-date", "size", "topping", "sys-number"]);
}

#[test]
fn an_exact_example_is_its_intent_with_confidence_one() {
    let u = fixture();
    let (i, _) = u.understand("  i WANT to order a pizza!!", NOW);
    assert_eq!(top_intent(&i), ("order_pizza".into(), 1.0));
}

#[test]
fn otherwise_the_nearest_example_scores_below_one_best_first() {
    let u = fixture();
    let (i, _) = u.understand("what hours are you open on saturday", NOW);
    let (name, confidence) = top_intent(&i);
    assert_eq!(name, "opening_hours");
    assert!(confidence > 0.2 && confidence < 1.0, "{i}");
    let list = i.as_array().expect("array");
    assert!(list.len() <= 10);
    let confidences: Vec<f64> = list
        .iter()
        .map(|x| x["confidence"].as_f64().expect("number"))
        .collect();
    assert!(confidences.windows(2).all(|w| w[0] >= w[1]), "{i}");
    // A reordered example is near, but only the example itself is certain.
    let (i, _) = u.understand("pizza a order to want i", NOW);
    let (name, confidence) = top_intent(&i);
    assert_eq!(name, "order_pizza");
    assert!(confidence < 1.0);
}

#[test]
fn unrelated_text_and_counterexamples_give_no_intent() {
    let u = fixture();
    assert_eq!(u.understand("xyzzy plugh", NOW).0, json!([]));
    assert_eq!(u.understand("Tell me a joke.", NOW).0, json!([]));
    assert_eq!(u.understand("", NOW), (json!([]), json!([])));
}

#[test]
fn a_word_no_example_has_is_read_as_a_synonym_or_a_near_form() {
    let u = fixture();
    // No example says `schedule`; the English synonym list has it with `hours`.
    let (i, _) = u.understand("schedule", NOW);
    let (name, confidence) = top_intent(&i);
    assert_eq!(name, "opening_hours", "{i}");
    assert!(confidence < 1.0, "{i}");
    // `delivering` (stem `deliver`) is no example's word; `delivery` shares most trigrams.
    let (i, _) = u.understand("delivering", NOW);
    assert_eq!(top_intent(&i).0, "order_pizza", "{i}");
    // A synonym counts for less than the word itself.
    let (with_word, _) = u.understand("opening hours", NOW);
    let (with_synonym, _) = u.understand("opening schedule", NOW);
    assert!(
        top_intent(&with_synonym).1 < top_intent(&with_word).1,
        "{with_synonym} vs {with_word}"
    );
    // Nothing alike: no intent.
    assert_eq!(u.understand("xyzzy", NOW).0, json!([]));
}

#[test]
fn an_example_of_two_intents_gives_both_in_workspace_order() {
    let u = fixture();
    let (i, _) = u.understand("bye", NOW);
    assert_eq!(
        i,
        json!([
            { "intent": "goodbye", "confidence": 1.0 },
            { "intent": "farewell", "confidence": 1.0 },
        ])
    );
}

#[test]
fn malformed_workspaces_build_an_empty_matcher() {
    for ws in [
        json!(null),
        json!([]),
        json!({ "intents": 3, "entities": "x" }),
        json!({ "intents": [{ "intent": 1 }, { "intent": "a", "examples": [{ "text": 2 }, 3] }],
                "entities": [{ "entity": "e", "values": [{ "value": 1 }, { "value": "", "synonyms": [""] },
                  { "value": "p", "type": "patterns", "patterns": [7, "", "(", "\\"] }] }] }),
    ] {
        let u = Understanding::from_workspace(&ws);
        let (i, e) = u.understand("anything at all 1 2 3", NOW);
        assert_eq!(i, json!([]), "{ws}");
        assert_eq!(e, json!([]), "{ws}");
    }
}

#[test]
fn hostile_sizes_finish() {
    // 100k examples sharing words, 20k fuzzy synonyms with one first letter, a megabyte message.
    let examples: Vec<Value> = (0..100_000)
        .map(|n| json!({ "text": format!("a the word{} a the common text {}", n % 977, n) }))
        .collect();
    let synonyms: Vec<String> = (0..20_000).map(|n| format!("aaaa{n}")).collect();
    let ws = json!({
        "language": "en",
        "intents": [{ "intent": "big", "examples": examples }],
        "entities": [
            { "entity": "e", "fuzzy_match": true,
              "values": [{ "value": "aaaa", "synonyms": synonyms }] },
            { "entity": "p", "values": [{ "value": "x", "type": "patterns",
              "patterns": ["(a+)+b", "a{1,1000}{1,1000}"] }] },
            { "entity": "sys-number", "values": [] },
            { "entity": "sys-date", "values": [] },
        ]
    });
    let u = Understanding::from_workspace(&ws);
    let message = "a the common text aaab 1,000,000 12/12/2026 ".repeat(25_000);
    assert!(message.len() > 1_000_000);
    let (i, e) = u.understand(&message, NOW);
    assert!(i.as_array().is_some_and(|l| l.len() <= 10));
    // Only the first 2048 characters are read.
    let last_end = e
        .as_array()
        .and_then(|l| l.iter().filter_map(|x| x["location"][1].as_u64()).max())
        .unwrap_or(0);
    assert!(last_end > 0 && last_end <= 2048, "{last_end}");
    let (_, e) = u.understand(&"a".repeat(1_000_000), NOW);
    assert!(e.is_array());
}

fn corpus() -> Option<Vec<(String, Value)>> {
    let shared = common::shared()?;
    let dir = shared.join("corpus/watson");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Some(
        files
            .iter()
            .map(|f| {
                let bytes = std::fs::read(f).expect("read");
                let mut ws: Value = serde_json::from_slice(&bytes).expect("corpus file is JSON");
                if let Some(inner) = ws.get("workspace").filter(|w| w.is_object()) {
                    ws = inner.clone();
                }
                let name = f
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_owned();
                (name, ws)
            })
            .collect(),
    )
}

fn normalised(text: &str) -> String {
    fluxo::watson::nlu::normalise(text)
}

#[test]
fn corpus_every_example_is_its_own_intent_and_every_value_is_found() {
    let Some(corpus) = corpus() else {
        return;
    };
    assert_eq!(corpus.len(), 58, "the corpus has 58 workspaces");
    let (mut examples, mut exact, mut shared_examples) = (0usize, 0usize, 0usize);
    let (mut values, mut terms) = (0usize, 0usize);
    let mut failures: Vec<String> = Vec::new();
    let mut shared_by_file: BTreeMap<String, usize> = BTreeMap::new();
    for (name, ws) in &corpus {
        let u = Understanding::from_workspace(ws);
        // Which intents hold each normalised example.
        let mut holders: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let intents = ws["intents"].as_array().cloned().unwrap_or_default();
        for i in &intents {
            let intent = i["intent"].as_str().unwrap_or_default();
            for ex in i["examples"].as_array().into_iter().flatten() {
                let norm = normalised(ex["text"].as_str().unwrap_or_default());
                let list = holders.entry(norm).or_default();
                if !list.iter().any(|x| x == intent) {
                    list.push(intent.to_owned());
                }
            }
        }
        for i in &intents {
            let intent = i["intent"].as_str().unwrap_or_default();
            for ex in i["examples"].as_array().into_iter().flatten() {
                let text = ex["text"].as_str().unwrap_or_default();
                examples += 1;
                let (got, _) = u.understand(text, NOW);
                let norm = normalised(text);
                if holders.get(&norm).is_some_and(|h| h.len() > 1) {
                    shared_examples += 1;
                    *shared_by_file.entry(name.clone()).or_default() += 1;
                    let listed =
                        got.as_array().into_iter().flatten().any(|x| {
                            x["intent"] == intent && x["confidence"].as_f64() == Some(1.0)
                        });
                    if !listed {
                        failures.push(format!("{name}: {text:?} lacks #{intent} at 1.0"));
                    }
                    continue;
                }
                if top_intent(&got) == (intent.to_owned(), 1.0) {
                    exact += 1;
                } else {
                    failures.push(format!("{name}: {text:?} → {got} (#{intent})"));
                }
            }
        }
        for e in ws["entities"].as_array().into_iter().flatten() {
            let entity = e["entity"].as_str().unwrap_or_default();
            for v in e["values"].as_array().into_iter().flatten() {
                if v["type"] == "patterns" {
                    continue;
                }
                let value = v["value"].as_str().unwrap_or_default();
                values += 1;
                let synonyms = v["synonyms"].as_array().cloned().unwrap_or_default();
                let all = std::iter::once(value)
                    .chain(synonyms.iter().filter_map(Value::as_str))
                    .filter(|t| !t.trim().is_empty());
                for term in all {
                    terms += 1;
                    let (_, got) = u.understand(term, NOW);
                    let ok = got.as_array().into_iter().flatten().any(|x| {
                        x["entity"] == entity
                            && x["value"] == value
                            && x["confidence"] == json!(1.0)
                            && x["literal"] == term.trim()
                    });
                    if !ok {
                        failures.push(format!(
                            "{name}: @{entity}:{value} not found in {term:?}: {got}"
                        ));
                    }
                }
            }
        }
    }
    println!(
        "Watson corpus NLU: {} workspaces, {examples} examples ({exact} classified as their own \
         intent at 1.0, {shared_examples} duplicated across intents), {values} dictionary values \
         ({terms} values and synonyms found in their own text)",
        corpus.len()
    );
    for (file, n) in &shared_by_file {
        println!("  examples in more than one intent: {file} ×{n}");
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(examples > 0 && exact + shared_examples == examples);
}

#[test]
fn corpus_patterns_compile_or_are_skipped_without_panicking() {
    let Some(corpus) = corpus() else {
        return;
    };
    let mut matched = 0;
    for (_, ws) in &corpus {
        let u = Understanding::from_workspace(ws);
        let (_, e) = u.understand(
            "call 555-123-4567 or 12345 or 0 or zero, a@b.com, 123abc AB12345 on 25 years",
            NOW,
        );
        matched += e.as_array().map_or(0, Vec::len);
    }
    println!("Watson corpus NLU: {matched} entities in the pattern probe");
    assert!(matched > 0);
}

#[test]
fn at_most_ten_intents_in_workspace_order_on_ties() {
    let intents: Vec<Value> = (0..15)
        .map(|n| json!({ "intent": format!("i{n:02}"), "examples": [{ "text": format!("pizza word{n}") }] }))
        .collect();
    let u = Understanding::from_workspace(&json!({ "intents": intents }));
    let (i, _) = u.understand("pizza", NOW);
    let names: Vec<&str> = i
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|x| x["intent"].as_str())
        .collect();
    assert_eq!(
        names,
        ["i00", "i01", "i02", "i03", "i04", "i05", "i06", "i07", "i08", "i09"]
    );
}

#[test]
fn portuguese_times() {
    let pt = Understanding::from_workspace(&json!({
        "language": "pt-br",
        "entities": [{ "entity": "sys-time", "values": [] }, { "entity": "sys-number", "values": [] }]
    }));
    let (_, e) = pt.understand("às 15h30 ou 9h, não 25h", NOW);
    let times: Vec<String> = found(&e, "sys-time").into_iter().map(|x| x.0).collect();
    assert_eq!(times, ["15:30:00", "09:00:00"]);
    let numbers: Vec<String> = found(&e, "sys-number").into_iter().map(|x| x.0).collect();
    assert_eq!(numbers, ["25"]);
}

/// A button of a builder flow and the Watson NLU read accents the same way: for every accented
/// letter either folds, the word typed without the accent picks the option titled with it
/// exactly when it is the NLU's exact example. (They folded different letters once, so
/// `gdansk` matched the NLU's `Gdańsk` but not the button.)
#[test]
fn a_button_and_the_nlu_fold_a_word_the_same_way() {
    use fluxo::{Bot, Event, Output};
    // The letters of Latin-1 and Latin Extended-A that Portuguese, Spanish, French, German and
    // Italian write, and a few that neither folds (they must stay apart in both).
    let letters = "àáâãäåāăąçćčèéêëēėęěìíîïīįñńňòóôõöøōőùúûüūůűýÿśšźżžłæœß";
    for accented in letters.chars() {
        let word = format!("k{accented}t");
        let plain: String = word
            .chars()
            // The base letter a reader sees.
            .map(|c| match c {
                'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
                'ç' | 'ć' | 'č' => 'c',
                'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
                'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' => 'i',
                'ñ' | 'ń' | 'ň' => 'n',
                'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
                'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
                'ý' | 'ÿ' => 'y',
                'ś' | 'š' => 's',
                'ź' | 'ż' | 'ž' => 'z',
                'ł' => 'l',
                'æ' => 'a',
                'œ' => 'o',
                'ß' => 's',
                other => other,
            })
            .collect();
        // The NLU: the plain word is the accented example exactly (confidence 1) or not.
        let ws = json!({ "language": "pt-br", "intents": [
            { "intent": "w", "examples": [ { "text": word } ] } ] });
        let (intents, _) = Understanding::from_workspace(&ws).understand(&plain, NOW);
        let nlu_same = intents[0]["confidence"] == json!(1.0);
        // The button: the plain word picks the option titled with the accented one, or the
        // bot asks again.
        let flow = json!({ "nodes": [
            { "id": "ask", "condition": "start",
              "output": [ { "default": { "type": "text", "text": "?" } } ],
              "input": { "default": { "type": "select", "payload": {
                  "options": [ { "title": word, "value": "hit" } ] } } },
              "next": [ { "goto": "picked" } ] },
            { "id": "picked", "output": [ { "default": { "type": "text", "text": "<? input.text ?>" } } ] }
        ] });
        let bot = Bot::from_json(&flow.to_string(), None).expect("flow");
        let mut s = bot.new_session("fold");
        bot.handle(
            &mut s,
            Event::Start {
                channel: None,
                context: None,
                contact: None,
            },
            0,
        );
        let out = bot.handle(
            &mut s,
            Event::User {
                text: plain.clone(),
                intent: None,
                entities: None,
                confidence: None,
            },
            1,
        );
        let button_same = out
            .iter()
            .any(|o| matches!(o, Output::Message { text: Some(t), .. } if t == "hit"));
        assert_eq!(
            button_same, nlu_same,
            "`{plain}` for `{word}`: the button says {button_same}, the NLU {nlu_same}"
        );
    }
    // The test sees both answers: a folded letter matches, one neither folds does not.
    let ws = json!({ "intents": [ { "intent": "w", "examples": [ { "text": "gdańsk" } ] } ] });
    let (intents, _) = Understanding::from_workspace(&ws).understand("gdansk", NOW);
    assert_eq!(intents[0]["confidence"], json!(1.0));
    let ws = json!({ "intents": [ { "intent": "w", "examples": [ { "text": "łódź" } ] } ] });
    let (intents, _) = Understanding::from_workspace(&ws).understand("lodz", NOW);
    assert_ne!(intents[0]["confidence"], json!(1.0));
}
