//! The method table's data: every method and function of the expression language, one row
//! each (name, receiver, arity, dialects, doc, example, implementation). The evaluator, the
//! linter, `fluxo rule unknown-method` and `docs/expressions.md` all read it.

use super::*;

#[allow(clippy::too_many_lines)]
pub(super) fn table() -> Vec<Method> {
    use dates::Unit;
    vec![
        // --- strings ---
        m!("length", String, 0..0, Both, "number of characters", "'abc'.length()", |_, o, _| Ok(count(string(&o).chars().count()))),
        m!("size", String, 0..0, Builder, "number of characters", "'abc'.size()", |_, o, _| Ok(count(string(&o).chars().count()))),
        m!("toLowerCase", String, 0..0, Both, "the text in lower case", "'ABC'.toLowerCase()", |_, o, _| Ok(owned(string(&o).to_lowercase()))),
        m!("toUpperCase", String, 0..0, Both, "the text in upper case", "'abc'.toUpperCase()", |_, o, _| Ok(owned(string(&o).to_uppercase()))),
        m!("trim", String, 0..0, Both, "the text without surrounding whitespace", "' a '.trim()", |_, o, _| Ok(owned(string(&o).trim().to_owned()))),
        m!("includes", String, 1..1, Builder, "true when the text contains the argument", "'abc'.includes('b')", |_, o, a| Ok(Val::Bool(string(&o).contains(&*text(a, 0))))),
        m!("contains", String, 1..1, Both, "true when the text contains the argument", "'abc'.contains('b')", |_, o, a| Ok(Val::Bool(string(&o).contains(&*text(a, 0))))),
        m!("startsWith", String, 1..1, Both, "true when the text starts with the argument", "'abc'.startsWith('a')", |_, o, a| Ok(Val::Bool(string(&o).starts_with(&*text(a, 0))))),
        m!("endsWith", String, 1..1, Both, "true when the text ends with the argument", "'abc'.endsWith('c')", |_, o, a| Ok(Val::Bool(string(&o).ends_with(&*text(a, 0))))),
        m!("indexOf", String, 1..1, Both, "position (in characters) of the argument, or -1", "'abc'.indexOf('c')", |_, o, a| {
            let s = string(&o);
            Ok(match s.find(&*text(a, 0)) {
                Some(b) => count(s[..b].chars().count()),
                None => Val::Int(-1),
            })
        }),
        m!("substring", String, 1..2, Both, "the characters from the first index up to the second", "'abcdef'.substring(1, 3)", |_, o, a| {
            let chars: Vec<char> = string(&o).chars().collect();
            let len = chars.len();
            // substring clamps negatives to 0 and swaps reversed bounds.
            let clamp = |i: usize, v: Option<&Val<'_>>| match v {
                Some(v) if v.to_num() < 0.0 => 0,
                _ => i,
            };
            let mut x = clamp(js_index(a, 0, len, 0), a.first());
            let mut y = clamp(js_index(a, 1, len, len), a.get(1));
            if x > y {
                std::mem::swap(&mut x, &mut y);
            }
            Ok(owned(chars.get(x..y).map(|c| c.iter().collect()).unwrap_or_default()))
        }),
        m!("slice", String, 0..2, Builder, "the characters between two indexes (negative counts from the end)", "'abcdef'.slice(-3)", |_, o, a| {
            let chars: Vec<char> = string(&o).chars().collect();
            let len = chars.len();
            let (x, y) = (js_index(a, 0, len, 0), js_index(a, 1, len, len));
            Ok(owned(chars.get(x..y).map(|c| c.iter().collect()).unwrap_or_default()))
        }),
        m!("charAt", String, 1..1, Both, "the character at an index", "'abc'.charAt(1)", |_, o, a| {
            Ok(position(&arg(a, 0))
                .and_then(|i| string(&o).chars().nth(i))
                .map_or(owned(String::new()), |ch| owned(ch.to_string())))
        }),
        m!("concat", String, 1..1, Both, "the text followed by the argument", "'ab'.concat('c')", |c, o, a| checked(c, format!("{}{}", string(&o), text(a, 0)))),
        m!("append", String, 1..1, Watson, "the text followed by the argument", "'ab'.append('c')", |c, o, a| checked(c, format!("{}{}", string(&o), arg(a, 0).java_string()))),
        m!("replace", String, 2..2, Both, "builder: the first match (a string or regex) replaced; Watson: every occurrence of a literal string replaced", "'aXbX'.replace('X', '-')", |c, o, a| {
            let with = text(a, 1);
            let all = c.dialect == Dialect::Watson;
            replace_checked(c, string(&o), &arg(a, 0), &with, all, false)
        }),
        m!("replaceAll", String, 2..2, Both, "every match replaced (builder: a string or regex; Watson: a regex)", "'aXbX'.replaceAll('X', '-')", |c, o, a| {
            let with = text(a, 1);
            let watson = c.dialect == Dialect::Watson;
            replace_checked(c, string(&o), &arg(a, 0), &with, true, watson)
        }),
        m!("replaceFirst", String, 2..2, Watson, "the first match of the regex replaced", "'aXbX'.replaceFirst('X', '-')", |c, o, a| {
            let with = text(a, 1);
            replace_checked(c, string(&o), &arg(a, 0), &with, false, true)
        }),
        m!("split", String, 0..1, Both, "the pieces between separators (a string or regex; Watson: a regex)", "'a,b'.split(',')", |c, o, a| split(c, string(&o), &arg(a, 0))),
        m!("matches", String, 1..1, Both, "true when the whole text matches the regex", "'123'.matches('[0-9]+')", |c, o, a| {
            Ok(Val::Bool(regex(c, &text(a, 0), true)?.is_match(string(&o))))
        }),
        m!("find", String, 1..1, Both, "true when some part of the text matches the regex", "'a1'.find('[0-9]')", |c, o, a| {
            Ok(Val::Bool(regex(c, &text(a, 0), false)?.is_match(string(&o))))
        }),
        m!("extract", String, 2..2, Watson, "the given group of the first match of the regex, or \"\"", "'ab12'.extract('([a-z]+)([0-9]+)', 2)", |c, o, a| {
            let re = regex(c, &text(a, 0), false)?;
            let group = position(&arg(a, 1)).unwrap_or(0);
            let found = re.captures(string(&o)).and_then(|cap| cap.get(group)).map(|m| m.as_str().to_owned());
            Ok(owned(found.unwrap_or_default()))
        }),
        m!("getMatch", String, 2..2, Watson, "the n-th match of the regex, or \"\"", "'a1b2'.getMatch('[0-9]', 1)", |c, o, a| {
            let re = regex(c, &text(a, 0), false)?;
            let n = position(&arg(a, 1)).unwrap_or(0);
            let found = re.find_iter(string(&o)).nth(n).map(|m| m.as_str().to_owned());
            Ok(owned(found.unwrap_or_default()))
        }),
        m!("equals", String, 1..1, Both, "true when the text equals the argument", "'a'.equals('a')", |_, o, a| Ok(Val::Bool(strict_eq(&o, &arg(a, 0))))),
        m!("equalsIgnoreCase", String, 1..1, Both, "true when the texts are equal ignoring case", "'abc'.equalsIgnoreCase('ABC')", |_, o, a| {
            Ok(Val::Bool(string(&o).to_lowercase() == text(a, 0).to_lowercase()))
        }),
        m!("isEmpty", String, 0..0, Both, "true for the empty text", "''.isEmpty()", |_, o, _| Ok(Val::Bool(string(&o).is_empty()))),
        m!("toString", String, 0..0, Both, "the text itself", "'a'.toString()", |_, o, _| Ok(owned(string(&o).to_owned()))),
        m!("toInt", String, 0..0, Both, "the text as a whole number (Watson: null when it is not one)", "'42'.toInt()", |c, o, _| Ok(match c.dialect {
            Dialect::Watson => to_number(&o, true),
            Dialect::Builder => Val::Num(o.to_num()),
        })),
        m!("toLong", String, 0..0, Both, "the text as a whole number (Watson: null when it is not one)", "'42'.toLong()", |c, o, _| Ok(match c.dialect {
            Dialect::Watson => to_number(&o, true),
            Dialect::Builder => Val::Num(o.to_num()),
        })),
        m!("toDouble", String, 0..0, Both, "the text as a number (Watson: null when it is not one)", "'4.2'.toDouble()", |c, o, _| Ok(match c.dialect {
            Dialect::Watson => to_number(&o, false),
            Dialect::Builder => Val::Num(o.to_num()),
        })),
        m!("toJson", String, 0..0, Watson, "the text parsed as JSON (null when it is not JSON)", "'{\"a\": 1}'.toJson()", |c, o, _| {
            let s = string(&o);
            if s.len() > c.max_len {
                return Err(too_large(c.span, c.max_len));
            }
            Ok(serde_json::from_str::<Json>(s).map_or(Val::Null, |j| Val::Own(j).normalize()))
        }),
        // Watson's date and time helpers, on `yyyy-MM-dd`, `yyyy-MM-dd HH:mm:ss` and `HH:mm[:ss]` text.
        m!("before", String, 1..1, Watson, "true when the date/time is before the argument", "'2026-01-01'.before('2026-02-01')", |c, o, a| date_compare(c, &o, a, std::cmp::Ordering::is_lt)),
        m!("after", String, 1..1, Watson, "true when the date/time is after the argument", "'2026-03-01'.after('2026-02-01')", |c, o, a| date_compare(c, &o, a, std::cmp::Ordering::is_gt)),
        m!("sameMoment", String, 1..1, Watson, "true when the date/time equals the argument", "'12:00:00'.sameMoment('12:00')", |c, o, a| date_compare(c, &o, a, std::cmp::Ordering::is_eq)),
        m!("sameOrAfter", String, 1..1, Watson, "true when the date/time is the argument or after it", "'12:00:00'.sameOrAfter('11:00:00')", |c, o, a| date_compare(c, &o, a, std::cmp::Ordering::is_ge)),
        m!("sameOrBefore", String, 1..1, Watson, "true when the date/time is the argument or before it", "'12:00:00'.sameOrBefore('13:00:00')", |c, o, a| date_compare(c, &o, a, std::cmp::Ordering::is_le)),
        m!("reformatDateTime", String, 1..1, Watson, "the date/time in a Java SimpleDateFormat pattern", "'2017-12-29'.reformatDateTime('EEEE, MMMM d')", |c, o, a| {
            dates::reformat(string(&o), &text(a, 0)).map(owned).map_err(|m| date_error(c, m))
        }),
        m!("plusDays", String, 1..1, Watson, "the date n days later", "'2026-01-31'.plusDays(1)", |c, o, a| date_shift(c, &o, a, Unit::Days, 1)),
        m!("minusDays", String, 1..1, Watson, "the date n days earlier", "'2026-03-01'.minusDays(1)", |c, o, a| date_shift(c, &o, a, Unit::Days, -1)),
        m!("plusMonths", String, 1..1, Watson, "the date n months later", "'2026-01-31'.plusMonths(1)", |c, o, a| date_shift(c, &o, a, Unit::Months, 1)),
        m!("minusMonths", String, 1..1, Watson, "the date n months earlier", "'2026-03-31'.minusMonths(1)", |c, o, a| date_shift(c, &o, a, Unit::Months, -1)),
        m!("plusYears", String, 1..1, Watson, "the date n years later", "'2024-02-29'.plusYears(1)", |c, o, a| date_shift(c, &o, a, Unit::Years, 1)),
        m!("minusYears", String, 1..1, Watson, "the date n years earlier", "'2024-02-29'.minusYears(1)", |c, o, a| date_shift(c, &o, a, Unit::Years, -1)),
        m!("plusHours", String, 1..1, Watson, "the time n hours later", "'23:30:00'.plusHours(1)", |c, o, a| date_shift(c, &o, a, Unit::Hours, 1)),
        m!("minusHours", String, 1..1, Watson, "the time n hours earlier", "'00:30:00'.minusHours(1)", |c, o, a| date_shift(c, &o, a, Unit::Hours, -1)),
        m!("plusMinutes", String, 1..1, Watson, "the time n minutes later", "'08:00:00'.plusMinutes(30)", |c, o, a| date_shift(c, &o, a, Unit::Minutes, 1)),
        m!("minusMinutes", String, 1..1, Watson, "the time n minutes earlier", "'08:00:00'.minusMinutes(30)", |c, o, a| date_shift(c, &o, a, Unit::Minutes, -1)),
        m!("plusSeconds", String, 1..1, Watson, "the time n seconds later", "'08:00:00'.plusSeconds(30)", |c, o, a| date_shift(c, &o, a, Unit::Seconds, 1)),
        m!("minusSeconds", String, 1..1, Watson, "the time n seconds earlier", "'08:00:00'.minusSeconds(30)", |c, o, a| date_shift(c, &o, a, Unit::Seconds, -1)),
        // --- regexes ---
        m!("test", Regex, 1..1, Builder, "true when the regex matches some part of the argument", "/[0-9]/.test('a1')", |_, o, a| Ok(Val::Bool(match &o {
            Val::Regex(re, _) => re.is_match(&text(a, 0)),
            _ => false,
        }))),
        // --- numbers and booleans ---
        m!("toFixed", Number, 0..1, Builder, "the number with a fixed count of decimals", "(2.5).toFixed(2)", |_, o, a| {
            let digits = match a.first() {
                Some(v) => index_of(v.to_num().clamp(0.0, 100.0)).unwrap_or(0),
                None => 0,
            };
            Ok(owned(format!("{:.*}", digits, o.to_num())))
        }),
        m!("toString", Number, 0..0, Both, "the number as text", "(42).toString()", |_, o, _| Ok(owned(o.js_string()))),
        m!("toInt", Number, 0..0, Watson, "the number truncated to a whole number", "(4.7).toInt()", |_, o, _| Ok(to_number(&o, true))),
        m!("toLong", Number, 0..0, Watson, "the number truncated to a whole number", "(4.7).toLong()", |_, o, _| Ok(to_number(&o, true))),
        m!("toDouble", Number, 0..0, Watson, "the number as a double", "(4).toDouble()", |_, o, _| Ok(Val::Num(o.to_num()))),
        m!("toString", Boolean, 0..0, Both, "`true` or `false`", "true.toString()", |_, o, _| Ok(owned(o.js_string()))),
        // --- arrays ---
        m!("length", Array, 0..0, Both, "number of items", "[1, 2].length()", |_, o, _| Ok(count(array(&o).len()))),
        m!("size", Array, 0..0, Both, "number of items", "[1, 2].size()", |_, o, _| Ok(count(array(&o).len()))),
        m!("includes", Array, 1..1, Builder, "true when an item equals the argument", "[1, 2].includes(2)", |_, o, a| {
            let x = arg(a, 0);
            Ok(Val::Bool(array(&o).iter().any(|i| strict_eq(&Val::from_json(i), &x))))
        }),
        m!("contains", Array, 1..1, Both, "true when an item equals the argument", "[1, 2].contains(2)", |_, o, a| {
            let x = arg(a, 0);
            Ok(Val::Bool(array(&o).iter().any(|i| strict_eq(&Val::from_json(i), &x))))
        }),
        m!("containsIgnoreCase", Array, 1..1, Watson, "true when an item equals the argument ignoring case", "['Ab'].containsIgnoreCase('aB')", |_, o, a| {
            let x = text(a, 0).to_lowercase();
            Ok(Val::Bool(array(&o).iter().any(|i| i.as_str().is_some_and(|s| s.to_lowercase() == x))))
        }),
        m!("containsIntent", Array, 1..3, Watson, "true when the named intent is in the list with at least the given confidence (and among the first n)", "[].containsIntent('saudacao', 0.5)", |_, o, a| {
            let name = text(a, 0);
            let min = a.get(1).map_or(0.0, Val::to_num);
            let top = a.get(2).and_then(position).unwrap_or(usize::MAX);
            Ok(Val::Bool(array(&o).iter().take(top).any(|i| {
                i.get("intent").and_then(Json::as_str) == Some(name.as_str())
                    && i.get("confidence").and_then(Json::as_f64).unwrap_or(0.0) >= min
            })))
        }),
        m!("indexOf", Array, 1..1, Both, "position of the first item equal to the argument, or -1", "['a', 'b'].indexOf('b')", |_, o, a| {
            let x = arg(a, 0);
            Ok(array(&o).iter().position(|i| strict_eq(&Val::from_json(i), &x)).map_or(Val::Int(-1), count))
        }),
        m!("join", Array, 0..1, Both, "the items as text, with a separator (default `,`)", "['a', 'b'].join('-')", |c, o, a| join(c, array(&o), &arg(a, 0))),
        m!("get", Array, 1..1, Both, "the item at an index, or undefined", "['a', 'b'].get(1)", |_, o, a| {
            Ok(position(&arg(a, 0)).and_then(|i| array(&o).get(i)).map_or(Val::Undefined, |v| Val::Own(v.clone()).normalize()))
        }),
        m!("append", Array, 1..1, Both, "the array with the argument added at the end", "['a'].append('b')", |c, o, a| with_item(c, array(&o), arg(a, 0).into_json())),
        m!("addAll", Array, 1..1, Watson, "the array with every item of the argument added", "['a'].addAll(['b'])", |c, o, a| {
            let (items, more) = (array(&o), arg(a, 0));
            let more = more.array().cloned().unwrap_or_default();
            if items.len().saturating_add(more.len()) > c.max_len {
                return Err(too_large(c.span, c.max_len));
            }
            Ok(Val::Own(Json::Array(items.iter().cloned().chain(more).collect())))
        }),
        m!("clear", Array, 0..0, Watson, "an empty array", "['a'].clear()", |_, _, _| Ok(Val::Own(Json::Array(Vec::new())))),
        m!("remove", Array, 1..1, Watson, "the array without the item at an index", "['a', 'b'].remove(0)", |_, o, a| {
            let mut v = array(&o).to_vec();
            if let Some(i) = position(&arg(a, 0)).filter(|i| *i < v.len()) {
                v.remove(i);
            }
            Ok(Val::Own(Json::Array(v)))
        }),
        m!("removeValue", Array, 1..1, Watson, "the array without the items equal to the argument", "['a', 'b'].removeValue('a')", |_, o, a| {
            let x = arg(a, 0);
            Ok(Val::Own(Json::Array(array(&o).iter().filter(|i| !strict_eq(&Val::from_json(i), &x)).cloned().collect())))
        }),
        m!("set", Array, 2..2, Watson, "the array with the item at an index replaced", "['a', 'b'].set(0, 'c')", |_, o, a| {
            let mut v = array(&o).to_vec();
            if let Some(slot) = position(&arg(a, 0)).and_then(|i| v.get_mut(i)) {
                *slot = arg(a, 1).into_json();
            }
            Ok(Val::Own(Json::Array(v)))
        }),
        m!("getRandomItem", Array, 0..0, Watson, "an item of the array (chosen from the conversation's seed, so tests repeat)", "['a'].getRandomItem()", |c, o, _| {
            let items = array(&o);
            if items.is_empty() {
                return Ok(Val::Undefined);
            }
            let seed = c.scope.system.get("__seed").and_then(Json::as_u64).unwrap_or(0);
            let i = usize::try_from(seed % u64::try_from(items.len()).unwrap_or(1)).unwrap_or(0);
            Ok(items.get(i).map_or(Val::Undefined, |v| Val::Own(v.clone()).normalize()))
        }),
        m!("isEmpty", Array, 0..0, Both, "true for an empty array", "[].isEmpty()", |_, o, _| Ok(Val::Bool(array(&o).is_empty()))),
        m!("toJson", Array, 0..0, Watson, "the array itself", "['a'].toJson()", |_, o, _| Ok(o)),
        m!("toString", Array, 0..0, Both, "the items as text joined by commas", "['a', 'b'].toString()", |_, o, _| Ok(owned(o.js_string()))),
        // --- objects ---
        m!("get", Object, 1..1, Both, "the member with that name, or undefined", "$obj.get('a')", |_, o, a| {
            Ok(object(&o).and_then(|m| m.get(&*text(a, 0))).map_or(Val::Undefined, |v| Val::Own(v.clone()).normalize()))
        }),
        m!("has", Object, 1..1, Both, "true when the object has a member with that name", "$obj.has('a')", |_, o, a| Ok(Val::Bool(object(&o).is_some_and(|m| m.contains_key(&*text(a, 0)))))),
        m!("containsKey", Object, 1..1, Both, "true when the object has a member with that name", "$obj.containsKey('a')", |_, o, a| Ok(Val::Bool(object(&o).is_some_and(|m| m.contains_key(&*text(a, 0)))))),
        m!("size", Object, 0..0, Both, "number of members", "$obj.size()", |_, o, _| Ok(count(object(&o).map_or(0, Map::len)))),
        m!("isEmpty", Object, 0..0, Both, "true for an object without members", "$obj.isEmpty()", |_, o, _| Ok(Val::Bool(object(&o).is_none_or(Map::is_empty)))),
        m!("keySet", Object, 0..0, Watson, "the member names", "$obj.keySet()", |_, o, _| {
            Ok(Val::Own(Json::Array(object(&o).map(|m| m.keys().map(|k| Json::String(k.clone())).collect()).unwrap_or_default())))
        }),
        m!("remove", Object, 1..1, Watson, "the object without the named member", "$obj.remove('a')", |_, o, a| {
            let mut m = object(&o).cloned().unwrap_or_default();
            m.shift_remove(&*text(a, 0));
            Ok(Val::Own(Json::Object(m)))
        }),
        m!("clear", Object, 0..0, Watson, "an empty object", "$obj.clear()", |_, _, _| Ok(Val::Own(Json::Object(Map::new())))),
        m!("toJson", Object, 0..0, Watson, "the object itself", "$obj.toJson()", |_, o, _| Ok(o)),
        // --- T(Math) ---
        m!("abs", Math, 1..1, Watson, "the absolute value", "T(Math).abs(-3)", |_, _, a| Ok(math_result(a, math_args(a)[0].abs()))),
        m!("max", Math, 2..2, Watson, "the larger of two numbers", "T(Math).max(2, 3)", |_, _, a| {
            let [x, y] = math_args(a);
            Ok(math_result(a, x.max(y)))
        }),
        m!("min", Math, 2..2, Watson, "the smaller of two numbers", "T(Math).min(2, 3)", |_, _, a| {
            let [x, y] = math_args(a);
            Ok(math_result(a, x.min(y)))
        }),
        m!("round", Math, 1..1, Watson, "the nearest whole number (halves round up)", "T(Math).round(2.5)", |_, _, a| {
            let x = math_args(a)[0];
            Ok(whole((x + 0.5).floor()).map_or(Val::Num(x), Val::Int))
        }),
        m!("floor", Math, 1..1, Watson, "the largest whole number not above", "T(Math).floor(2.7)", |_, _, a| Ok(Val::Num(math_args(a)[0].floor()))),
        m!("ceil", Math, 1..1, Watson, "the smallest whole number not below", "T(Math).ceil(2.2)", |_, _, a| Ok(Val::Num(math_args(a)[0].ceil()))),
        m!("pow", Math, 2..2, Watson, "the first number raised to the second", "T(Math).pow(2, 3)", |_, _, a| {
            let [x, y] = math_args(a);
            Ok(Val::Num(x.powf(y)))
        }),
        m!("sqrt", Math, 1..1, Watson, "the square root", "T(Math).sqrt(9)", |_, _, a| Ok(Val::Num(math_args(a)[0].sqrt()))),
        // --- functions ---
        m!("now", Function, 0..1, Both, "the conversation's clock as `yyyy-MM-dd HH:mm:ss` (Watson: in `$timezone` or the given zone, GMT by default)", "now()", |c, _, a| {
            let zone = a.first().map(Val::js_string).or_else(|| c.scope.context.get("timezone").and_then(Json::as_str).map(str::to_owned));
            dates::now(c.scope.system, zone.as_deref(), false).map_or(Ok(Val::Undefined), |s| Ok(owned(s)))
        }),
        m!("today", Function, 0..0, Both, "the conversation's date as `yyyy-MM-dd`", "today()", |c, _, _| {
            let zone = c.scope.context.get("timezone").and_then(Json::as_str).map(str::to_owned);
            dates::now(c.scope.system, zone.as_deref(), true).map_or(Ok(Val::Undefined), |s| Ok(owned(s)))
        }),
    ]
}
