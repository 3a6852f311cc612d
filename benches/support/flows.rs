//! Generated flows for the benchmarks (`benches/lint.rs`) and the whole-command figures
//! (`benches/figures.sh`, through `examples/bench_files.rs`).

use serde_json::json;

/// A realistic generated flow of `n` nodes: menus with intents, inputs with masks, context
/// templates, conditional responses, analytics events, and a hand-over every 50 nodes.
pub fn generated_flow(n: usize) -> Vec<u8> {
    let mut nodes = Vec::with_capacity(n);
    nodes.push(json!({ "id": "n0", "condition": "start", "context": { "tentativas": 0 },
        "output": [ { "default": { "type": "text", "text": "Olá <? contact.name ?>! Como posso ajudar?" } } ],
        "input": { "default": { "type": "text_input" } }, "next": [ { "goto": "n1" } ] }));
    for i in 1..n {
        let next = (i + 1) % n;
        let mut node = json!({
            "id": format!("n{i}"),
            "name": format!("Passo {i}"),
            "condition": format!("#intencao_{} || (@produto:item{} && $tentativas < 3)", i % 40, i % 17),
            "context": { format!("v{}", i % 30): "<? input.text.trim().toLowerCase() ?>", "tentativas": "<? $tentativas + 1 ?>" },
            "output": [ { "default": { "type": "text", "text": format!("Resposta {i}: <? $v{} ?? 'sem valor' ?> em <? contact.name ?>", i % 30) },
                          "Whatsapp": { "type": "text", "text": format!("Resposta {i}") } } ],
            "responses": [ { "condition": "score_level == 'low'", "output": [ { "default": { "type": "text", "text": "Não entendi bem." } } ] } ],
            "events": [ { "event_name": "passo", "details": { "field1": format!("<? $v{} ?>", i % 30), "field2": "x" } } ],
            "next": [ { "condition": format!("input.text.matches('^[0-9]{{{}}}$')", 3 + i % 5), "goto": format!("n{next}") }, { "goto": format!("n{}", (i * 7) % n) } ]
        });
        if i % 3 == 0 {
            node["input"] = json!({ "default": { "type": "text_input", "payload": { "mandatory": true, "mask": "cpf", "tries": 3, "error_message": ["CPF inválido"] } } });
        }
        if i % 50 == 0 {
            node["actions"] = json!([ { "name": "start_live_chat", "parameters": { "integration_id": 7, "extra_info": { "cpf": "<? contact.cpf ?>" } }, "result_variable": "lp" } ]);
            node["input"] = json!({ "default": { "type": "text_input" } });
            node["next"] = json!([ { "condition": "input.live_chat.status == 'agent_closed'", "goto": "n1" }, { "goto": "n0" } ]);
        }
        nodes.push(node);
    }
    serde_json::to_vec_pretty(&json!({ "name": "gerado", "start_context": ["v0"], "nodes": nodes }))
        .unwrap_or_default()
}

/// The same flow on one line (as 14 of the 58 real Watson exports are).
pub fn minified(pretty: &[u8]) -> Vec<u8> {
    serde_json::from_slice::<serde_json::Value>(pretty)
        .and_then(|v| serde_json::to_vec(&v))
        .unwrap_or_default()
}
