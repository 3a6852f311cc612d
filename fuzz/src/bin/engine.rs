//! AFL++ target: `targets::engine` over the shipped example flows.

#[path = "../targets.rs"]
#[allow(dead_code)]
mod targets;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bots = targets::shipped_bots(&root);
    assert!(!bots.is_empty(), "the shipped flows load");
    afl::fuzz!(|data: &[u8]| targets::engine(&bots, data));
}
