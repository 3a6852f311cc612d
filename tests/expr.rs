//! The expression language's semantics, as a flow author relies on them.

use fluxo::expr::{render, Dialect, Expression, Scope};
use fluxo::ErrorKind;
use serde_json::{json, Value};

struct Env {
    context: Value,
    contact: Value,
    input: Value,
    intents: Value,
    entities: Value,
}

impl Env {
    fn new() -> Self {
        Env {
            context: json!({ "nome": "Maria", "n": 2, "vazio": "", "lista": ["a", "b"], "obj": { "x": { "y": 1 } }, "zero": 0, "cep": "01001000" }),
            contact: json!({ "name": "Maria Silva", "cpf": "123" }),
            input: json!({ "text": "  Quero Falar  ", "live_chat": { "status": "agent_closed" } }),
            intents: json!([{ "intent": "transbordo", "confidence": 0.93 }, { "intent": "menu", "confidence": 0.4 }]),
            entities: json!([{ "entity": "cidade", "value": "São Paulo" }, { "entity": "cor", "value": "azul" }]),
        }
    }
    fn scope(&self) -> Scope<'_> {
        Scope {
            context: &self.context,
            contact: &self.contact,
            input: &self.input,
            intents: &self.intents,
            entities: &self.entities,
            ..Scope::empty()
        }
    }
    fn eval(&self, src: &str) -> Value {
        Expression::parse(src, Dialect::Builder)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .evaluate(&self.scope())
            .unwrap_or_else(|e| panic!("{src}: {e}"))
    }
    fn cond(&self, src: &str) -> bool {
        Expression::parse(src, Dialect::Builder)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .condition(&self.scope())
            .expect("evaluates")
    }
    fn error(&self, src: &str) -> ErrorKind {
        Expression::parse(src, Dialect::Builder)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .evaluate(&self.scope())
            .expect_err("fails")
            .kind()
    }
    fn render(&self, s: &str) -> Value {
        render(s, Dialect::Builder, &self.scope()).expect("renders")
    }
}

#[test]
fn javascript_truthiness() {
    let e = Env::new();
    for falsy in [
        "''",
        "0",
        "null",
        "undefined",
        "$vazio",
        "$zero",
        "0/0",
        "false",
        "$nada",
    ] {
        assert!(!e.cond(falsy), "{falsy} should be falsy");
    }
    for truthy in ["'0'", "[]", "$obj", "$lista", "1", "'a'", "$nome", "-1"] {
        assert!(e.cond(truthy), "{truthy} should be truthy");
    }
}

#[test]
fn member_access_on_undefined_is_undefined() {
    let e = Env::new();
    assert_eq!(e.eval("$nada.x.y.z"), Value::Null);
    assert!(e.cond("$nada.x.y === undefined"));
    assert_eq!(e.eval("$obj.x.y"), json!(1));
    assert_eq!(e.eval("$obj?.x?.['y']"), json!(1));
    assert_eq!(
        e.eval("$nada.trim()"),
        Value::Null,
        "methods on undefined give undefined"
    );
    assert_eq!(e.eval("context['nome']"), json!("Maria"));
    assert_eq!(e.eval("$lista[1]"), json!("b"));
    assert_eq!(e.eval("$lista.length"), json!(2));
}

#[test]
fn operators() {
    let e = Env::new();
    assert_eq!(e.eval("'a' + 1"), json!("a1"));
    assert_eq!(e.eval("1 + 2 * 3 - 4 / 2"), json!(5));
    assert_eq!(e.eval("7 % 3"), json!(1));
    assert!(e.cond("$n == '2'") && !e.cond("$n === '2'") && e.cond("$n === 2"));
    assert!(e.cond("null == undefined") && !e.cond("null === undefined"));
    assert!(e.cond("$n >= 2 && $n < 3") && e.cond("'abc' < 'abd'"));
    assert_eq!(e.eval("$nada ?? 'x'"), json!("x"));
    assert_eq!(e.eval("$zero ?? 'x'"), json!(0));
    assert_eq!(e.eval("$vazio ?: 'padrão'"), json!("padrão"));
    assert_eq!(e.eval("$n > 1 ? 'muitos' : 'um'"), json!("muitos"));
    assert_eq!(
        e.eval("$nome || 'x'"),
        json!("Maria"),
        "|| returns the operand"
    );
    assert!(e.cond("$n > 1 and not ($n > 5) or false"));
    assert_eq!(e.eval("-$n"), json!(-2));
}

#[test]
fn sigils() {
    let e = Env::new();
    assert!(
        e.cond("#transbordo") && !e.cond("#menu"),
        "#intent is the top intent"
    );
    assert!(e.cond("@cidade") && !e.cond("@bairro"));
    assert!(e.cond("@cidade:(São Paulo)") && e.cond("@cor:azul") && !e.cond("@cor:verde"));
    assert_eq!(e.eval("@cidade"), json!("São Paulo"));
    assert!(e.cond("$nome:Maria") && !e.cond("$nome:Joana"));
    assert_eq!(e.eval("intent"), json!("transbordo"));
    assert_eq!(e.eval("confidence"), json!(0.93));
    assert_eq!(e.eval("entities[0].value"), json!("São Paulo"));
    assert!(e.cond("input.live_chat.status == 'agent_closed'"));
}

#[test]
fn methods() {
    let e = Env::new();
    assert_eq!(
        e.eval("input.text.trim().toLowerCase()"),
        json!("quero falar")
    );
    assert!(e.cond("input.text.includes('Falar') && input.text.trim().startsWith('Quero')"));
    assert_eq!(
        e.eval("$cep.substring(0, 5) + '-' + $cep.slice(-3)"),
        json!("01001-000")
    );
    assert_eq!(e.eval("'a,b,c'.split(',').join(' ')"), json!("a b c"));
    assert_eq!(e.eval("$lista.append('c').size()"), json!(3));
    assert_eq!(e.eval("$lista.get(0)"), json!("a"));
    assert_eq!(e.eval("$lista.indexOf('b')"), json!(1));
    assert_eq!(e.eval("(2.5).toFixed(2)"), json!("2.50"));
    assert!(
        e.cond("/^[0-9]{8}$/.test($cep)")
            && e.cond("$cep.matches('\\d{8}')")
            && !e.cond("$cep.matches('\\d{5}')")
    );
    assert_eq!(e.eval("'olá mundo'.replace(/o/g, '0')"), json!("0lá mund0"));
    assert_eq!(e.eval("'olá mundo'.replace('o', '0')"), json!("0lá mundo"));
    assert_eq!(
        e.error("$nome.nope()"),
        ErrorKind::ExpressionUnknownMethod,
        "unknown methods are errors"
    );
}

#[test]
fn escaped_dollar_is_a_dollar() {
    // The builder writes `\$` where a `$` would otherwise start a variable: in strings, and in
    // regexes, where its own docs check digits with `/^[0-9]+\$/`.
    let e = Env::new();
    assert_eq!(e.eval(r"'R\$ 10'"), json!("R$ 10"));
    assert!(e.cond(r"/^[0-9]+\$/.test('123')"));
    assert!(!e.cond(r"/^[0-9]+\$/.test('123a')"));
    assert_eq!(e.render(r"Total: <? 'R\$ ' + $n ?>"), json!("Total: R$ 2"));
}

#[test]
fn templates_keep_type_and_render_once() {
    let e = Env::new();
    assert_eq!(
        e.render("<? $n ?>"),
        json!(2),
        "a single segment keeps its type"
    );
    assert_eq!(e.render("<?$obj?>"), json!({ "x": { "y": 1 } }));
    assert_eq!(e.render("<? (/^\\d+$/).test($cep) ?>"), json!(true));
    assert_eq!(
        e.render("Olá <? contact.name ?>! <? $nada ?>(<? $n ?>) <? $obj ?>"),
        json!("Olá Maria Silva! (2) {\"x\":{\"y\":1}}")
    );
    assert_eq!(e.render("sem segmentos"), json!("sem segmentos"));
    // A user who types a template gets it back literally: rendering is one pass.
    let typed = Env {
        input: json!({ "text": "<? $senha ?>" }),
        context: json!({ "senha": "segredo" }),
        ..Env::new()
    };
    assert_eq!(
        typed.render("Você disse: <? input.text ?>"),
        json!("Você disse: <? $senha ?>")
    );
    assert_eq!(typed.render("<? input.text ?>"), json!("<? $senha ?>"));
}

#[test]
fn evaluation_is_bounded() {
    let big = "x".repeat(600_000);
    let env = Env {
        context: json!({ "big": big }),
        ..Env::new()
    };
    for src in [
        "$big + $big + $big",
        "$big.split('').join($big)",
        &format!("[{}]", vec!["$big"; 200].join(", ")),
        "'ab'.replace(/b/g, $big).replace(/a/g, $big)",
    ] {
        assert_eq!(
            env.error(src),
            ErrorKind::ExpressionTooLarge,
            "{}",
            &src[..20.min(src.len())]
        );
    }
    // Work over a large list runs out of fuel: 100,000 steps at most.
    let many = Env {
        context: json!({ "list": (0..200_000).collect::<Vec<u32>>() }),
        ..Env::new()
    };
    assert_eq!(many.error("$list.![#this + 1]"), ErrorKind::ExpressionFuel);
}

/// What is parsed is written back as text that reads the same (found by fuzzing: calls on a
/// non-method, negative receivers, `$(name)`, quotes per dialect, `\\$` in a builder regex).
#[test]
fn written_back_reads_the_same() {
    let cases = [
        (Dialect::Builder, "$nT(Math)", "$nT(Math)"),
        (Dialect::Builder, "(-5).toFixed(1)", "(-5).toFixed(1)"),
        (Dialect::Watson, "5.0 / 2", "5.0 / 2"),
        (Dialect::Builder, "x > -0.0", "x > -0.0"),
        (Dialect::Builder, "(!$a).length", "(!$a).length"),
        (
            Dialect::Builder,
            "$(first-name) == 'x'",
            "$(first-name) == 'x'",
        ),
        (Dialect::Builder, r#""it's""#, r"'it\'s'"),
        (Dialect::Watson, r#""it's""#, "'it''s'"),
        (Dialect::Watson, r"'\d+'", r"'\d+'"),
        (
            Dialect::Builder,
            r"/^[0-9]+\$/.test(input.text)",
            r"/^[0-9]+$/.test(input.text)",
        ),
        (
            Dialect::Builder,
            r"/a\\$/.test(input.text)",
            r"/a\\$/.test(input.text)",
        ),
    ];
    for (dialect, src, shown) in cases {
        let e = Expression::parse(src, dialect).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(e.display(), shown, "{src}");
        let again = Expression::parse(shown, dialect).unwrap_or_else(|e| panic!("{shown}: {e}"));
        assert_eq!(again.display(), shown, "{src}");
    }
}
