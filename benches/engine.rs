//! Engine throughput: turns per second through the LivePerson hand-over flow, and the size of
//! the serialised session mid-chat.
//!
//! Run: `cargo bench --bench engine`. Figures go in docs/benchmarks.md.

// The allocator the `fluxo` binary uses, so that figures are what users see; the baselines in
// the same run use it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fluxo::engine::{Bot, Event};
use serde_json::{json, Value};
use std::hint::black_box;

fn read(p: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(p))
        .unwrap_or_default()
}

fn events() -> Vec<Event> {
    let script: Vec<Value> = vec![
        json!({ "type": "start", "contact": { "name": "Maria Silva", "email": "maria@exemplo.com.br" } }),
        json!({ "type": "user", "text": "529.982.247-25" }),
        json!({ "type": "user", "text": "2" }),
        json!({ "type": "provider_opened", "remote_id": "8602" }),
        json!({ "type": "agent_join", "name": "Carla" }),
        json!({ "type": "agent_message", "text": "Olá, sou a Carla. Como posso ajudar?" }),
        json!({ "type": "user", "text": "Minha fatura veio em dobro" }),
        json!({ "type": "agent_message", "text": "Já estornei a cobrança duplicada." }),
        json!({ "type": "agent_close", "wrap_up": "resolvido" }),
        json!({ "type": "user", "text": "5" }),
    ];
    script
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}

fn engine(c: &mut Criterion) {
    let Ok(bot) = Bot::from_json(
        &read("flows/liveperson.json"),
        Some(&read("flows/integrations.json")),
    ) else {
        eprintln!("SKIPPED: flows/liveperson.json did not load");
        return;
    };
    let script = events();
    let now = 1_795_453_200_000;

    // Session size mid-chat: after the agent's first message.
    let mut s = bot.new_session("maria-42");
    for e in script.iter().take(6) {
        bot.handle(&mut s, e.clone(), now);
    }
    let mid = serde_json::to_vec(&s).map(|v| v.len()).unwrap_or(0);
    eprintln!("serialised session mid-chat: {mid} bytes");

    let mut g = c.benchmark_group("engine_liveperson");
    g.throughput(Throughput::Elements(script.len() as u64));
    g.bench_function("conversation_10_turns", |b| {
        b.iter_batched(
            || bot.new_session("maria-42"),
            |mut s| {
                for e in &script {
                    black_box(bot.handle(&mut s, e.clone(), now));
                }
                s
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("save_and_restore_mid_chat", |b| {
        b.iter(|| {
            let text = serde_json::to_string(black_box(&s)).unwrap_or_default();
            black_box(bot.restore(&text).ok())
        })
    });
    g.finish();

    // Per-turn cost as a session ages: ten turns handled by a session 10 turns old and by one
    // 990 turns old, talking with the bot (unrecognised messages at the menu) and in a live chat
    // (user and agent messages relayed). Capped history and bounded values keep them equal.
    let user = |t: &str| -> Event {
        serde_json::from_value(json!({ "type": "user", "text": t })).expect("event")
    };
    let agent = |t: &str| -> Event {
        serde_json::from_value(json!({ "type": "agent_message", "text": t })).expect("event")
    };
    let bot_turn = |i: usize| user(&format!("não entendi a opção {i}"));
    let chat_turn = |i: usize| {
        if i.is_multiple_of(2) {
            user(&format!("mensagem {i}"))
        } else {
            agent(&format!("resposta {i}"))
        }
    };
    let mut g = c.benchmark_group("engine_aging");
    g.throughput(Throughput::Elements(10));
    for (name, prefix, turn) in [
        ("bot", 2usize, &bot_turn as &dyn Fn(usize) -> Event),
        ("live_chat", 5, &chat_turn),
    ] {
        for age in [10usize, 990] {
            let mut aged = bot.new_session("maria-42");
            for e in script.iter().take(prefix) {
                bot.handle(&mut aged, e.clone(), now);
            }
            for i in 0..age {
                bot.handle(&mut aged, turn(i), now);
            }
            let next: Vec<Event> = (age..age + 10).map(turn).collect();
            g.bench_function(format!("{name}/10_turns_at_age_{age}"), |b| {
                b.iter_batched(
                    || aged.clone(),
                    |mut s| {
                        for e in &next {
                            black_box(bot.handle(&mut s, e.clone(), now));
                        }
                        s
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
