//! Watson's expression dialect, case by case: where it differs from the builder's JavaScript,
//! each case with the result Spring Expression Language 4.3.30 gives for the same expression.
//!
//! The Spring results were measured with `SpelExpressionParser` and a
//! `StandardEvaluationContext` whose root is the default scope below as Java maps and lists
//! (plus a property accessor that reads map members, the way Watson reads JSON members). Where
//! plain Spring has no such name or method, the Spring column shows the nearest plain-SpEL
//! spelling in brackets, e.g. `[entities[0].value + 1]`. Date patterns were measured with Java's
//! `SimpleDateFormat` (English locale) and date arithmetic with `java.time`, called from SpEL.
//!
//! The cases of the textual operators, `matches`, the first/last selection, selection and
//! projection over maps, and "the rest of Spring's expression reference" give the result
//! Spring's reference documentation states for them; they were not measured with the harness.
//!
//! Section numbers (§5.2) refer to the Watson dialog notes in
//! `../shared/research/watson-dialog.md`.
//!
//! A case whose note starts with "Watson differs" is one where Watson's JSON model or its own
//! documentation gives another answer than plain Spring; the note names the source. "fluxo
//! differs" marks a deliberate leniency that neither Spring nor IBM's documentation settles.

use fluxo::expr::{evaluate, render, Dialect, Scope};
use fluxo::ErrorKind;
use serde_json::{json, Value};

/// What fluxo's Watson dialect must give.
enum Want {
    Is(Value),
    Fails(ErrorKind),
}

/// One case: the expression, scope overrides (JSON text, merged over [`default_scope`] root by
/// root; empty for none), fluxo's answer, Spring's measured answer, and why they differ.
struct Case {
    expr: &'static str,
    scope: &'static str,
    want: Want,
    spring: &'static str,
    note: &'static str,
}

/// The scope every case runs against (the Spring harness builds the same maps and lists).
fn default_scope() -> Value {
    json!({
        "context": {
            "n": 7, "name": "Maria", "empty": "", "toppings": ["ham", "cheese"],
            "flights": [
                { "flight_code": "LH1", "destination": "Berlin" },
                { "flight_code": "AF2", "destination": "Paris" }
            ],
            "cities": [
                { "name": "Tokyo", "population": 37_000_000 },
                { "name": "Lyon", "population": 500_000 }
            ],
            "count": "5", "card-type": "VISA", "user": { "first_name": "Ana" }
        },
        "input": { "text": "I want 42 pizzas" },
        "intents": [{ "intent": "order", "confidence": 0.93 }],
        "entities": [
            { "entity": "sys-number", "value": "42", "confidence": 1.0, "location": [7, 9] },
            { "entity": "food", "value": "pizza", "confidence": 0.9, "location": [10, 16] }
        ],
        "system": { "__now": "2026-01-05T12:00:00Z" }
    })
}

const SYS_DATE: &str = r#"{"entities": [
    { "entity": "sys-date", "value": "2026-01-01", "confidence": 1.0, "location": [0, 10] }
], "input": { "text": "2026-01-01 please" }}"#;

const ACCENTS: &str = r#"{"entities": [
    { "entity": "city", "value": "São Paulo", "location": [11, 20] },
    { "entity": "emoji", "value": "smile", "location": [21, 23] }
], "input": { "text": "Quero ir a São Paulo 😀 amanhã" }}"#;

const NUMBERS: &str = r#"{"entities": [
    { "entity": "sys-number", "value": "2.5", "location": [0, 3] },
    { "entity": "sys-percentage", "value": "50", "location": [4, 7] },
    { "entity": "sys-currency", "value": "ten", "metadata": { "numeric_value": 10 }, "location": [8, 11] }
], "input": { "text": "2.5 50% ten" }}"#;

const LITERAL: &str = r#"{"entities": [
    { "entity": "food", "value": "pizza", "literal": "Pizza!", "location": [0, 6] }
]}"#;

macro_rules! is {
    ($($j:tt)+) => { Want::Is(json!($($j)+)) };
}

fn fails(kind: ErrorKind) -> Want {
    Want::Fails(kind)
}

fn case(expr: &'static str, want: Want, spring: &'static str, note: &'static str) -> Case {
    Case {
        expr,
        scope: "",
        want,
        spring,
        note,
    }
}

fn case_in(
    scope: &'static str,
    expr: &'static str,
    want: Want,
    spring: &'static str,
    note: &'static str,
) -> Case {
    Case {
        expr,
        scope,
        want,
        spring,
        note,
    }
}

const TYPE: ErrorKind = ErrorKind::ExpressionType;
const UNKNOWN: ErrorKind = ErrorKind::ExpressionUnknownMethod;
const SYNTAX: ErrorKind = ErrorKind::ExpressionSyntax;

const NUMERIC_ENTITY: &str = "Watson differs: numeric system entities have number values, so \
     `@sys-number + 1` for \"42\" is 43 (IBM docs, system entities: sys-number; research §5.2 \
     `.numeric_value`)";
const ENTITIES_BY_NAME: &str = "Watson differs: `entities` is indexed by entity name and gives \
     its mentions (research §5.1 `@ent` → `entities['ent']?.value`, §5.2)";
const MISSING_IS_NULL: &str = "Watson differs: a missing variable or member is null, never an \
     error (research §5.3 last row: missing entity/var ⇒ false)";
const TRUTHINESS: &str = "Watson differs: non-boolean operands count by truthiness (IBM docs: \
     `@price && @price < 100`; research §5.3 last row)";
const NOT_IN_WATSON: &str = "not implemented: part of Spring's reference that neither IBM's \
     docs nor the corpus use (see docs/expressions.md, \"SpEL that fluxo does not take\")";
const REFUSED: &str = "refused on purpose: expressions read the conversation, they do not change \
     it or reach the machine (see docs/expressions.md)";
const PRICES: &str = r#"{"context": { "prices": { "a": 1, "b": 5, "c": 9 } }}"#;
const WATSON_DATES: &str = "Watson differs: Watson's date helpers on date/time text (research \
     §5.7); plain Spring has no such method";
const SIMPLE_DATE_FORMAT: &str = "reformatDateTime uses Java SimpleDateFormat letters (research \
     §5.7); measured with SimpleDateFormat";

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    vec![
        // --- typed equality ---
        case("1 == '1'", is!(false), "false (Boolean)", "typed `==`; JavaScript says true"),
        case("'1' == 1", is!(false), "false (Boolean)", "typed `==`"),
        case("true == 'true'", is!(false), "false (Boolean)", "typed `==`"),
        case("1 == 1.0", is!(true), "true (Boolean)", "numbers compare by value"),
        case("$count == 5", is!(false), "false (Boolean) [context['count'] == 5]", "a context string is not a number"),
        case("$name == 'Maria'", is!(true), "true (Boolean) [context['name'] == 'Maria']", ""),
        case("null == null", is!(true), "true (Boolean)", ""),
        // --- arithmetic ---
        case("7/2", is!(3), "3 (Integer)", "integer division; JavaScript says 3.5"),
        case("-7/2", is!(-3), "-3 (Integer)", "truncates toward zero"),
        case("7.0/2", is!(3.5), "3.5 (Double)", ""),
        case("$n / 2", is!(3), "3 (Integer) [context.n / 2]", "JSON integers are integers"),
        case("7 % 3", is!(1), "1 (Integer)", ""),
        case("-7 % 3", is!(-1), "-1 (Integer)", ""),
        case("7.5 % 2", is!(1.5), "1.5 (Double)", ""),
        case("1 + 2 * 3", is!(7), "7 (Integer)", ""),
        case("10 - 2 - 3", is!(5), "5 (Integer)", ""),
        case("0.1 + 0.2", is!(0.300_000_000_000_000_04), "0.30000000000000004 (Double)", ""),
        case("1/0", fails(TYPE), "ArithmeticException: / by zero", "condition false, logged"),
        case("1000000000 * 10", is!(10_000_000_000_i64), "1410065408 (Integer, 32-bit overflow)", "fluxo differs: JSON numbers are 64-bit; Watson asks for `L` on literals past 32 bits (research §5.8), which fluxo does not need"),
        case("5000000000L", is!(5_000_000_000_i64), "5000000000 (Long)", ""),
        // --- strings and `+`, `*`, `-` ---
        case("'5'*2", is!("55"), "'55' (String)", "Spring repeats the text; IBM documents no `*` on text, and Watson runs SpEL, so fluxo follows Spring"),
        case("'ab' * 0", is!(""), "'' (String)", ""),
        case("2 * '5'", fails(TYPE), "EL1030E MULTIPLY not supported between Integer and String", ""),
        case("'5' * 2.0", fails(TYPE), "EL1030E MULTIPLY not supported between String and Double", ""),
        case("'5' - 2", is!("3"), "'3' (String)", "Spring subtracts from the character code of a one-character text"),
        case("'a' - 1", is!("`"), "'`' (String)", "as above"),
        case("'55' - 2", fails(TYPE), "EL1030E SUBTRACT not supported between String and Integer", ""),
        case("-'a'", fails(TYPE), "EL1030E SUBTRACT not supported between String and null", ""),
        case("'5' + 2", is!("52"), "'52' (String)", "concatenation"),
        case("'a' + null", is!("anull"), "'anull' (String)", "Java String.valueOf"),
        case("null + 'a'", is!("nulla"), "'nulla' (String)", ""),
        case("'x' + 1.0", is!("x1.0"), "'x1.0' (String)", "doubles keep `.0`"),
        case("'x' + 2.5", is!("x2.5"), "'x2.5' (String)", ""),
        case("'x' + true", is!("xtrue"), "'xtrue' (String)", ""),
        case("'x' + $toppings", is!("xham,cheese"), "'xham,cheese' (String) [context.toppings]", ""),
        case("'x' + $user", is!("x{\"first_name\":\"Ana\"}"), "'x{first_name=Ana}' (String) [context.user]", "Watson differs: JSON objects print as JSON (Gson JsonObject; research §5, §5.9)"),
        case("$nope + 1", fails(TYPE), "EL1030E ADD not supported between null and Integer [context['nope'] + 1]", ""),
        case("$count + 1", is!("51"), "'51' (String) [context['count'] + 1]", "a context string stays text"),
        // --- replace ---
        case("'aXbX'.replace('X', '-')", is!("a-b-"), "'a-b-' (String)", "Java replaces every occurrence; JavaScript only the first"),
        case("'a.b.c'.replace('.', '-')", is!("a-b-c"), "'a-b-c' (String)", "literal text, not a regex"),
        case("'a.b'.replaceAll('.', '-')", is!("---"), "'---' (String)", "replaceAll takes a regex"),
        case("'aXbX'.replaceFirst('X', '-')", is!("a-bX"), "'a-bX' (String)", ""),
        // --- ordering and null ---
        case("$undefined < 100", is!(true), "true (Boolean) [context['nope'] < 100]", "null sorts before everything (IBM docs: `@price < 100` is true without a price)"),
        case("$undefined > 1", is!(false), "false (Boolean) [context['nope'] > 1]", ""),
        case("100 > $undefined", is!(true), "true (Boolean) [100 > context['nope']]", ""),
        case("$undefined == null", is!(true), "true (Boolean) [context['nope'] == null]", ""),
        case("$undefined == 0", is!(false), "false (Boolean) [context['nope'] == 0]", ""),
        case("null < 'a'", is!(true), "true (Boolean)", ""),
        case("null > 1", is!(false), "false (Boolean)", ""),
        case("$n > '5'", fails(TYPE), "EL1013E cannot compare Integer and String [context.n > '5']", ""),
        case("'2' > '10'", is!(true), "true (Boolean)", "texts compare as text"),
        case("'abc' < 'abd'", is!(true), "true (Boolean)", ""),
        case("2 > 1.5", is!(true), "true (Boolean)", ""),
        // --- logic ---
        case("true and false", is!(false), "false (Boolean)", ""),
        case("not true", is!(false), "false (Boolean)", ""),
        case("!true", is!(false), "false (Boolean)", ""),
        case("true && 1", is!(true), "EL1001E cannot convert Integer to Boolean", TRUTHINESS),
        case("$name && $n > 5", is!(true), "EL1001E cannot convert String to Boolean", TRUTHINESS),
        // --- entity shorthand and the v1 entities/intents arrays ---
        case("@sys-number + 1", is!(43), "'421' (String) [entities[0].value + 1]", NUMERIC_ENTITY),
        case("@sys-number", is!(42), "'42' (String) [entities[0].value]", NUMERIC_ENTITY),
        case("@sys-number > 40", is!(true), "EL1013E cannot compare String and Integer [entities[0].value > 40]", NUMERIC_ENTITY),
        case("@sys-number == 42", is!(true), "false (Boolean) [entities[0].value == 42]", NUMERIC_ENTITY),
        case("entities['sys-number'].value + 1", is!(43), "EL1001E cannot convert String to Integer [entities['sys-number']]", NUMERIC_ENTITY),
        case("entities['sys-number'][0].value * 2", is!(84), "EL1001E [entities['sys-number']]", NUMERIC_ENTITY),
        case_in(NUMBERS, "@sys-number * 2", is!(5), "'2.52.5' (String) ['2.5' * 2]", NUMERIC_ENTITY),
        case_in(NUMBERS, "@sys-percentage / 2", is!(25), "EL1030E DIVIDE not supported between String and Integer ['50' / 2]", NUMERIC_ENTITY),
        case_in(NUMBERS, "@sys-currency + 1", is!(11), "'ten1' (String) [entities[2].value + 1]", "Watson differs: `metadata.numeric_value` is the number (IBM docs, system entities; research §5.2)"),
        case("@food", is!("pizza"), "'pizza' (String) [entities.?[entity == 'food'][0].value]", "research §5.1: `@ent` is `entities['ent']?.value`"),
        case("@food.value", is!("pizza"), "'pizza' (String) [entities[1].value]", ""),
        case("@food.literal", is!("pizzas"), "EL1008E property 'literal' cannot be found [entities[1].literal]", "Watson differs: `literal` is the user's text at `location` (research §5.2; v1 API MessageResponse)"),
        case_in(LITERAL, "@food.literal", is!("Pizza!"), "EL1008E [entities[0].literal]", "a literal sent with the entity wins"),
        case_in(ACCENTS, "@city.literal", is!("São Paulo"), "'São Paulo' (String) [input.text.substring(11, 20)]", "`location` counts UTF-16 units, as Java's String indexes do"),
        case_in(ACCENTS, "@emoji.literal", is!("😀"), "'😀' (String) [input.text.substring(21, 23)]", "as above: an emoji is two units"),
        case("@sys-number.literal", is!("42"), "EL1008E [entities[0].literal]", "as above"),
        case("@food.confidence", is!(0.9), "0.9 (Double) [entities[1].confidence]", ""),
        case("@food.location", is!([10, 16]), "[10, 16] (ArrayList) [entities[1].location]", ""),
        case("@food:pizza", is!(true), "true [entities.?[entity == 'food'].![value].contains('pizza')]", "research §5.1"),
        case("@missing", is!(null), "null [entities.?[entity == 'missing'][0]?.value is EL1025E]", MISSING_IS_NULL),
        case("@missing < 100", is!(true), "true (Boolean) [null < 100]", "IBM docs: `@price < 100` is true without a price"),
        case("entities['sys-number']", is!([{ "entity": "sys-number", "value": "42", "confidence": 1.0, "location": [7, 9], "literal": "42" }]), "EL1001E cannot convert String to Integer", ENTITIES_BY_NAME),
        case("entities['food'].value", is!("pizza"), "EL1001E [entities['food']]", ENTITIES_BY_NAME),
        case_in(SYS_DATE, "entities['sys-date'].value", is!("2026-01-01"), "EL1001E [entities['sys-date']]", ENTITIES_BY_NAME),
        case("entities['sys-date']", is!(null), "EL1001E [entities['sys-date']]", ENTITIES_BY_NAME),
        case("entities.get('food')", is!([{ "entity": "food", "value": "pizza", "confidence": 0.9, "location": [10, 16], "literal": "pizzas" }]), "EL1029E ArrayList.get(int) with a String", ENTITIES_BY_NAME),
        case("entities.get('food').size()", is!(1), "EL1029E [entities.get('food')]", ENTITIES_BY_NAME),
        case("entities.get('food').get(entities.get('food').size() - 1).value", is!("pizza"), "EL1029E [entities.get('food')]", "corpus: `entities.get('state').get(entities.get('state').size()-1).value`"),
        case("entities['food'].![literal]", is!(["pizzas"]), "EL1001E [entities['food']]", "Watson differs: research §5.2 `entities['ent'].![literal]`"),
        case("entities.size()", is!(2), "2 (Integer)", ""),
        case("entities[1].value", is!("pizza"), "'pizza' (String)", ""),
        case("entities.?[entity == 'food'].![value]", is!(["pizza"]), "[pizza] (ArrayList)", ""),
        case("intent", is!("order"), "EL1008E property 'intent' cannot be found", "Watson differs: `intent` is the top intent (research §5.2)"),
        case("intent == 'order'", is!(true), "EL1008E [intent]", "as above"),
        case("intent.confidence", is!(0.93), "EL1008E [intent]; 0.93 (Double) [intents[0].confidence]", "Watson differs: `intent.confidence` is the top intent's confidence (research §5.2)"),
        case("intents[0].confidence", is!(0.93), "0.93 (Double)", ""),
        case("#order && intents[0].confidence > 0.7", is!(true), "n/a (shorthand)", "corpus shape `#I && intents[N].confidence > N`"),
        // --- collections, projection, selection, JSON arrays ---
        case("$flights.![flight_code]", is!(["LH1", "AF2"]), "[LH1, AF2] (ArrayList) [context.flights.![flight_code]]", ""),
        case("$flights.![flight_code + ' to ' + destination]", is!(["LH1 to Berlin", "AF2 to Paris"]), "[LH1 to Berlin, AF2 to Paris] (ArrayList)", ""),
        case("$cities.?[population > 5000000]", is!([{ "name": "Tokyo", "population": 37_000_000 }]), "[{name=Tokyo, population=37000000}] (ArrayList)", ""),
        case("$cities.?[population > 5000000].![name]", is!(["Tokyo"]), "[Tokyo] (ArrayList)", ""),
        case("$cities.?[population > 5000000].size()", is!(1), "1 (Integer)", ""),
        case("$toppings.![#this.toUpperCase()]", is!(["HAM", "CHEESE"]), "[HAM, CHEESE] (ArrayList)", ""),
        case("$toppings.?[#this.startsWith('h')]", is!(["ham"]), "[ham] (ArrayList)", ""),
        // --- selection of the first and the last match; maps ---
        case("$cities.^[population > 100000].name", is!("Tokyo"), "'Tokyo' (String)", ""),
        case("$cities.$[population > 100000].name", is!("Lyon"), "'Lyon' (String)", ""),
        case("$toppings.^[#this.startsWith('x')]", is!(null), "null", ""),
        case("$toppings.$[#this.startsWith('x')]", is!(null), "null", ""),
        case("$toppings.$[true]", is!("cheese"), "'cheese' (String)", ""),
        case("$cities.?[name lt 'M'].![name]", is!(["Lyon"]), "[Lyon] (ArrayList)", ""),
        case_in(PRICES, "$prices.?[value gt 2]", is!({ "b": 5, "c": 9 }), "{b=5, c=9} (HashMap)", "a map keeps its entries (`key`, `value`)"),
        case_in(PRICES, "$prices.^[value gt 2]", is!({ "b": 5 }), "{b=5} (HashMap)", ""),
        case_in(PRICES, "$prices.$[value gt 2]", is!({ "c": 9 }), "{c=9} (HashMap)", ""),
        case_in(PRICES, "$prices.^[value gt 100]", is!(null), "null", ""),
        case_in(PRICES, "$prices.![key]", is!(["a", "b", "c"]), "[a, b, c] (ArrayList)", "JSON members keep their order; a Java HashMap's order is its own"),
        case_in(PRICES, "$prices.?[key eq 'a'].size()", is!(1), "1 (Integer)", ""),
        // --- the rest of Spring's expression reference ---
        case("{1, 2, 3}", fails(SYNTAX), "[1, 2, 3] (unmodifiable List)", NOT_IN_WATSON),
        case("{a: 1}", fails(SYNTAX), "{a=1} (unmodifiable Map)", NOT_IN_WATSON),
        case("1 between {1, 5}", fails(SYNTAX), "true (Boolean)", NOT_IN_WATSON),
        case("2 ^ 3", fails(SYNTAX), "8 (Integer)", NOT_IN_WATSON),
        case("0x7F", fails(SYNTAX), "127 (Integer)", NOT_IN_WATSON),
        case("'a' instanceof T(String)", fails(SYNTAX), "true (Boolean)", NOT_IN_WATSON),
        case("#root", is!(false), "the root object", "Watson differs: `#name` is the intent shorthand (research §5.1)"),
        case("$n = 8", fails(SYNTAX), "8 (assignment)", REFUSED),
        case("$n++", fails(SYNTAX), "7, then 8 (increment)", REFUSED),
        case("T(java.lang.Runtime).getRuntime()", fails(TYPE), "a Runtime", REFUSED),
        case("new java.io.File('x')", fails(TYPE), "a File", REFUSED),
        case("$toppings.size()", is!(2), "2 (Integer)", ""),
        case("$toppings.contains('ham')", is!(true), "true (Boolean)", ""),
        case("$toppings[0]", is!("ham"), "'ham' (String)", ""),
        case("$toppings[5]", is!(null), "EL1025E the collection has '2' elements, index '5' is invalid", "fluxo differs: an index past the end is null, like a missing member"),
        case("$user['first_name']", is!("Ana"), "'Ana' (String)", ""),
        case("context['card-type']", is!("VISA"), "'VISA' (String)", ""),
        case("new JsonArray()", is!([]), "EL1003E cannot construct 'JsonArray'", "Watson differs: Gson's JsonArray is available (research §5.3 constructors)"),
        case("new JsonArray().append('x')", is!(["x"]), "EL1003E", "Watson differs: JSONArray.append (research §5.5)"),
        case("$toppings.append('onions')", is!(["ham", "cheese", "onions"]), "EL1004E append() not on ArrayList", "Watson differs: research §5.5"),
        case("$nope ?: new JsonArray().append('x')", is!(["x"]), "EL1003E", "research §5.3 Elvis example"),
        // --- T(Math) ---
        case("T(Math).max(2, 3)", is!(3), "3 (Integer)", ""),
        case("T(Math).max(2.0, 3.5)", is!(3.5), "3.5 (Double)", ""),
        case("T(Math).max(2, 3.5)", is!(3.5), "EL1031E problem locating method max(Integer, Double)", "fluxo differs: mixed int/double arguments widen"),
        case("T(Math).min(2, 3)", is!(2), "2 (Integer)", ""),
        case("T(Math).abs(-3)", is!(3), "3 (Integer)", ""),
        case("T(Math).round(2.5)", is!(3), "3 (Long)", ""),
        case("T(Math).round(-2.5)", is!(-2), "-2 (Long)", ""),
        case("T(Math).floor(2.7)", is!(2), "2.0 (Double)", "JSON has one number type"),
        case("T(Math).ceil(2.2)", is!(3), "3.0 (Double)", ""),
        case("T(Math).pow(2, 3)", is!(8), "8.0 (Double)", ""),
        case("T(Math).sqrt(9)", is!(3), "3.0 (Double)", ""),
        case("T(String).format('%.2f', 2.5)", fails(TYPE), "'2.50' (String)", "not implemented: only T(Math) (the corpus has no `T(`)"),
        // --- string methods ---
        case("input.text.contains('42')", is!(true), "true (Boolean)", ""),
        case("'abc'.startsWith('a')", is!(true), "true (Boolean)", ""),
        case("'abc'.endsWith('c')", is!(true), "true (Boolean)", ""),
        case("'abc'.substring(1, 2)", is!("b"), "'b' (String)", ""),
        case("'abc'.substring(1)", is!("bc"), "'bc' (String)", ""),
        case("'abc'.toUpperCase()", is!("ABC"), "'ABC' (String)", ""),
        case("'abc'.length()", is!(3), "3 (Integer)", ""),
        case("'a😀b'.length()", is!(3), "4 (Integer)", "fluxo differs: string methods count characters, Java counts UTF-16 units (only text outside the Basic Multilingual Plane, such as emoji, tells them apart)"),
        case("'abc'.size()", fails(UNKNOWN), "EL1004E size() cannot be found on String", "`size()` is the builder's"),
        case("' a '.trim()", is!("a"), "'a' (String)", ""),
        case("'abc'.equalsIgnoreCase('ABC')", is!(true), "true (Boolean)", ""),
        case("'abc'.isEmpty()", is!(false), "false (Boolean)", ""),
        case("'abc'.charAt(1)", is!("b"), "b (Character)", ""),
        case("'abc'.indexOf('c')", is!(2), "2 (Integer)", ""),
        case("'a,b'.split(',')", is!(["a", "b"]), "String[] of 2", ""),
        // --- SpEL's textual operators (case-insensitive) ---
        case("'123' matches '[0-9]+'", is!(true), "true (Boolean)", ""),
        case("input.text matches '.*[0-9]+.*'", is!(true), "true (Boolean)", "the whole text matches"),
        case("'12a' matches '[0-9]+'", is!(false), "false (Boolean)", ""),
        case("'1' matches '('", fails(ErrorKind::ExpressionRegex), "EL1065E unexpected exception (PatternSyntaxException)", ""),
        case("$n matches '7'", fails(TYPE), "EL1066E invalid first operand for matches operator", ""),
        case("1 eq 1", is!(true), "true (Boolean)", ""),
        case("1 EQ 1", is!(true), "true (Boolean)", ""),
        case("'a' ne 'b'", is!(true), "true (Boolean)", ""),
        case("1 lt 2 and 2 gt 1", is!(true), "true (Boolean)", ""),
        case("2 le 2 or false", is!(true), "true (Boolean)", ""),
        case("1 ge 2", is!(false), "false (Boolean)", ""),
        case("not (1 ge 2)", is!(true), "true (Boolean)", ""),
        case("$n div 2", is!(3), "3 (Integer) [context.n div 2]", ""),
        case("$n mod 4", is!(3), "3 (Integer) [context.n mod 4]", ""),
        case("7 DIV 2 + 1", is!(4), "4 (Integer)", "`div` binds as `/`"),
        case("$n lt 10 ? 'small' : 'big'", is!("small"), "'small' (String)", ""),
        case("$toppings.![#this eq 'ham']", is!([true, false]), "[true, false] (ArrayList)", ""),
        case("'123'.matches('[0-9]+')", is!(true), "true (Boolean)", ""),
        case("input.text.matches('.*[0-9]+.*')", is!(true), "true (Boolean) [input.text matches '.*[0-9]+.*']", ""),
        case("input.text.matches('[0-9]+')", is!(false), "false (Boolean)", "matches the whole text"),
        case("$n.toString()", is!("7"), "'7' (String) [context.n.toString()]", ""),
        // --- Elvis, safe navigation, ternary ---
        case("$name ?: 'friend'", is!("Maria"), "'Maria' (String)", ""),
        case("$nope ?: 'friend'", is!("friend"), "'friend' (String)", ""),
        case("$empty ?: 'friend'", is!("friend"), "'friend' (String)", "Spring 4.3's Elvis also skips the empty text"),
        case("null ?: 'x'", is!("x"), "'x' (String)", ""),
        case("$nope?.length()", is!(null), "null", ""),
        case("$user?.first_name", is!("Ana"), "'Ana' (String)", ""),
        case("$nope?.first_name", is!(null), "EL1008E property 'nope' cannot be found [context.nope?.first_name]", MISSING_IS_NULL),
        case("$nope.first_name", is!(null), "EL1008E [context.nope.first_name]", MISSING_IS_NULL),
        case("true ? 'a' : 'b'", is!("a"), "'a' (String)", ""),
        case("$n > 5 ? 'big' : 'small'", is!("big"), "'big' (String) [context.n > 5 ? …]", ""),
        // --- dates (the clock is system.__now, 2026-01-05T12:00:00Z, a Monday) ---
        case("now()", is!("2026-01-05 12:00:00"), "EL1006E function 'now' could not be found", WATSON_DATES),
        case("today()", is!("2026-01-05"), "EL1006E", WATSON_DATES),
        case("now().reformatDateTime('hh:mm a')", is!("12:00 PM"), "'12:00 PM' (SimpleDateFormat)", SIMPLE_DATE_FORMAT),
        case("'20:05:00'.reformatDateTime('h:mm a')", is!("8:05 PM"), "'8:05 PM' (SimpleDateFormat, on 1970-01-01)", SIMPLE_DATE_FORMAT),
        case("'00:30:00'.reformatDateTime('h a')", is!("12 AM"), "'12 AM' (SimpleDateFormat)", SIMPLE_DATE_FORMAT),
        case("'2017-12-29'.reformatDateTime('EEE, d MMM yyyy')", is!("Fri, 29 Dec 2017"), "'Fri, 29 Dec 2017'", SIMPLE_DATE_FORMAT),
        case("'2017-12-29'.reformatDateTime('EEE, MMM d, yyyy')", is!("Fri, Dec 29, 2017"), "'Fri, Dec 29, 2017'", SIMPLE_DATE_FORMAT),
        case("'2017-12-29'.reformatDateTime(\"EEEEE\")", is!("Friday"), "'Friday'", SIMPLE_DATE_FORMAT),
        case("'2017-12-29'.reformatDateTime('EEE, MMM d')", is!("Fri, Dec 29"), "'Fri, Dec 29'", SIMPLE_DATE_FORMAT),
        case("'2017-12-29'.reformatDateTime('MM-dd')", is!("12-29"), "'12-29'", SIMPLE_DATE_FORMAT),
        case("'2017-12-29'.reformatDateTime('MMM d, yyyy')", is!("Dec 29, 2017"), "'Dec 29, 2017'", SIMPLE_DATE_FORMAT),
        case("'2017-12-29'.reformatDateTime('EEEE, MMMM d')", is!("Friday, December 29"), "'Friday, December 29'", SIMPLE_DATE_FORMAT),
        case("'2017-12-29'.reformatDateTime('MMMM')", is!("December"), "'December'", SIMPLE_DATE_FORMAT),
        case("now().reformatDateTime('MMMM yyyy')", is!("January 2026"), "'January 2026'", SIMPLE_DATE_FORMAT),
        case("now().reformatDateTime('yyyy-MM-dd')", is!("2026-01-05"), "'2026-01-05'", SIMPLE_DATE_FORMAT),
        case("now().reformatDateTime('u Y')", is!("1 2026"), "'1 2026'", SIMPLE_DATE_FORMAT),
        case("'2026-12-29'.reformatDateTime('Y')", is!("2027"), "'2027' (SimpleDateFormat: `Y` is the week year)", "`Y` is the week year (US weeks): IBM's `now().reformatDateTime('Y')` example gives next year in the last days of December"),
        case("'2026-01-31'.plusMonths(1)", is!("2026-02-28"), "'2026-02-28' [LocalDate.parse('2026-01-31').plusMonths(1)]", WATSON_DATES),
        case("'2026-03-31'.minusMonths(1)", is!("2026-02-28"), "'2026-02-28' [LocalDate…minusMonths(1)]", WATSON_DATES),
        case("'2024-02-29'.plusYears(1)", is!("2025-02-28"), "'2025-02-28' [LocalDate…plusYears(1)]", WATSON_DATES),
        case("'2026-01-31'.plusDays(1)", is!("2026-02-01"), "'2026-02-01' [LocalDate…plusDays(1)]", WATSON_DATES),
        case("'2026-01-05 12:00:00'.minusDays(5)", is!("2025-12-31 12:00:00"), "'2025-12-31T12:00' [LocalDateTime…minusDays(5)]", "Watson's form `yyyy-MM-dd HH:mm:ss` (research §5.7)"),
        case("'23:30:00'.plusHours(1)", is!("00:30:00"), "'00:30' [LocalTime.parse('23:30:00').plusHours(1)]", "Watson's time form keeps seconds (research §5.7)"),
        case("'2026-01-05 12:00:00'.plusMinutes(90)", is!("13:30:00"), "'2026-01-05T13:30' [LocalDateTime…plusMinutes(90)]", "fluxo differs: IBM's examples shift times only; a time shift gives `HH:mm:ss` (src/expr/dates.rs)"),
        case("now().plusMonths(3).reformatDateTime('MMMM yyyy')", is!("April 2026"), "n/a", "corpus: `<?now().plusMonths(3)?>`"),
        case("'2026-01-01'.before('2026-02-01')", is!(true), "EL1004E before(String) cannot be found on String", WATSON_DATES),
        case("'2026-03-01'.after('2026-02-01')", is!(true), "EL1004E", WATSON_DATES),
        case_in(SYS_DATE, "@sys-date.before(today())", is!(true), "EL1004E", WATSON_DATES),
        case_in(SYS_DATE, "@sys-date.after(today())", is!(false), "EL1004E", WATSON_DATES),
        case("now().before('12:00:01')", is!(true), "EL1004E", "a date-time against a time compares the times (research §5.7)"),
        case("now().after('2026-01-01')", is!(true), "EL1004E", WATSON_DATES),
        case("'12:00:00'.before('2026-01-01')", fails(TYPE), "EL1004E", "date against time: false and a log message (research §5.7)"),
        case("'12:00:00'.sameOrAfter('11:00:00')", is!(true), "EL1004E", WATSON_DATES),
        case("'12:00:00'.sameOrBefore('12:00:00')", is!(true), "EL1004E", WATSON_DATES),
        case("'12:00:00'.sameMoment('12:00')", is!(true), "EL1004E", WATSON_DATES),
    ]
}

fn merged(overrides: &str) -> Value {
    let mut scope = default_scope();
    if !overrides.is_empty() {
        let extra: Value = serde_json::from_str(overrides).expect("scope overrides are JSON");
        if let (Some(s), Some(e)) = (scope.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
    }
    scope
}

fn run(expr: &str, root: &Value) -> Result<Value, fluxo::Error> {
    let scope = Scope {
        context: &root["context"],
        input: &root["input"],
        intents: &root["intents"],
        entities: &root["entities"],
        system: &root["system"],
        ..Scope::empty()
    };
    evaluate(expr, Dialect::Watson, &scope)
}

#[test]
fn watson_dialect_matches_the_recorded_results() {
    let mut wrong = Vec::new();
    for c in cases() {
        let root = merged(c.scope);
        let got = run(c.expr, &root);
        let ok = match (&c.want, &got) {
            (Want::Is(v), Ok(g)) => v == g,
            (Want::Fails(k), Err(e)) => *k == e.kind(),
            _ => false,
        };
        if !ok {
            let want = match &c.want {
                Want::Is(v) => v.to_string(),
                Want::Fails(k) => format!("error {k:?}"),
            };
            let got = match got {
                Ok(v) => v.to_string(),
                Err(e) => format!("error {:?}: {e}", e.kind()),
            };
            wrong.push(format!(
                "`{}`: want {want}, got {got} (Spring: {}; {})",
                c.expr, c.spring, c.note
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cases differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_case_records_spring_and_every_difference_its_source() {
    let all = cases();
    assert!(all.len() > 150, "{} cases", all.len());
    for c in &all {
        assert!(!c.spring.is_empty(), "`{}` has no Spring result", c.expr);
        if c.note.starts_with("Watson differs") {
            assert!(
                c.note.contains('§') || c.note.contains("IBM docs"),
                "`{}`: a difference names its source",
                c.expr
            );
        }
    }
}

#[test]
fn the_builder_dialect_keeps_javascript_answers() {
    // The same texts in a builder flow: loose `==`, float division, first-match `replace`.
    let root = default_scope();
    let scope = Scope {
        context: &root["context"],
        ..Scope::empty()
    };
    for (expr, want) in [
        ("1 == '1'", json!(true)),
        ("7/2", json!(3.5)),
        ("'aXbX'.replace('X', '-')", json!("a-bX")),
        ("'5' * 2", json!(10)),
    ] {
        assert_eq!(
            evaluate(expr, Dialect::Builder, &scope).unwrap(),
            want,
            "{expr}"
        );
    }
}

#[test]
fn a_segment_keeps_the_numeric_entity_type() {
    let root = default_scope();
    let scope = Scope {
        input: &root["input"],
        entities: &root["entities"],
        ..Scope::empty()
    };
    assert_eq!(
        render("<? @sys-number + 1 ?>", Dialect::Watson, &scope).unwrap(),
        json!(43)
    );
    assert_eq!(
        render("You said <? @food.literal ?>.", Dialect::Watson, &scope).unwrap(),
        json!("You said pizzas.")
    );
}
