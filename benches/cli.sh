#!/usr/bin/env bash
# Whole-command figures for docs/benchmarks.md: `fluxo lint` against schema-only validators on
# the same files, peak memory, and `fluxo run` start-up on a 100,000-node flow.
#
# Needs: hyperfine (`cargo install hyperfine --version "~1.20"`; 2.x needs a newer rustc), jsonschema-cli (`cargo install jsonschema-cli`),
# ajv-cli (`npm install -g ajv-cli`) and GNU time (`/usr/bin/time`). A missing tool skips its
# rows. Run from the project root: `bash benches/cli.sh`.
set -euo pipefail

cargo build --release --quiet
files=$(cargo run --release --quiet --example bench_files -- target/bench-files)
fluxo=target/release/fluxo
schema=schemas/flow.schema.json
have() { command -v "$1" >/dev/null 2>&1; }

echo "== lint of 200 flows: fluxo (all stages) vs schema-only validators"
cmds=("$fluxo lint $files/set")
have jsonschema-cli && cmds+=("jsonschema-cli validate $schema $(printf -- '-i %s ' "$files"/set/*.json)")
have ajv && cmds+=("ajv validate --spec=draft2020 --strict=false -s $schema $(printf -- '-d %s ' "$files"/set/*.json)")
if have hyperfine; then
    # Lint exits 1 when it reports findings; the figure is the time either way.
    hyperfine --warmup 2 --runs 10 -i -N "${cmds[@]}"
else
    echo "SKIPPED: hyperfine is not installed"
fi

echo "== peak memory (max RSS) of fluxo lint"
for f in "$files/flow-10k.json" "$files/flow-10k.min.json"; do
    size=$(stat -c %s "$f")
    /usr/bin/time -f '%M' -o target/bench-files/rss "$fluxo" lint "$f" >/dev/null 2>&1 || true
    rss=$(tail -1 target/bench-files/rss)
    echo "$(basename "$f"): file $((size / 1024)) KiB, peak $rss KiB, ratio $(awk "BEGIN { printf \"%.1f\", $rss * 1024 / $size }")x"
done

echo "== fluxo run start-up on a 100,000-node flow (load, compile, first turn)"
echo '{"type":"start"}' | /usr/bin/time -f 'wall %e s, peak %M KiB' "$fluxo" run "$files/flow-100k.json" >/dev/null
