//! The parse floor the lint and load figures are measured against: a file read and parsed
//! into a `serde_json::Value` with the crate's features (`preserve_order`) and the binary's
//! allocator. Run: `cargo run --release --example parse_floor -- FILE`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    let bytes = std::fs::read(&path).unwrap_or_default();
    let value = serde_json::from_slice::<serde_json::Value>(&bytes);
    println!(
        "{}",
        value.map_or(0, |v| v.as_object().map_or(0, |o| o.len()))
    );
}
