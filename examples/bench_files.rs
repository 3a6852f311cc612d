//! Writes the files `benches/figures.sh` times whole commands on: a 10,000-node flow (pretty and
//! minified), a 100,000-node flow, and a set of 200 flows of 5 to 44 nodes (the flows of a
//! real project are of the size of `flows/*.json`: about 14 nodes, 7.5 KB).
//!
//! Run: `cargo run --release --example bench_files -- DIR`.

#[path = "../benches/support/flows.rs"]
mod flows;

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/bench-files".into()),
    );
    std::fs::create_dir_all(dir.join("set"))?;
    let ten = flows::generated_flow(10_000);
    std::fs::write(dir.join("flow-10k.json"), &ten)?;
    std::fs::write(dir.join("flow-10k.min.json"), flows::minified(&ten))?;
    std::fs::write(dir.join("flow-100k.json"), flows::generated_flow(100_000))?;
    for i in 0..200 {
        // Sizes spread around those of `flows/*.json`.
        let n = 5 + (i * i * 7) % 40;
        std::fs::write(
            dir.join(format!("set/flow-{i:03}.json")),
            flows::generated_flow(n),
        )?;
    }
    println!("{}", dir.display());
    Ok(())
}
