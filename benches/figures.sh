#!/usr/bin/env bash
# The lint and load figures of docs/benchmarks.md, every one from this one run: `fluxo lint` and
# `fluxo run` against their anchors, measured alternately (paired runs, medians), as CPU time
# (user + system) and peak memory, so a busy machine moves both sides of each ratio alike.
#
# Anchors: the parse floor (`examples/parse_floor.rs`: `serde_json::from_slice::<Value>` with the
# same features and allocator as fluxo), `jsonschema-cli`, `check-jsonschema` and `ajv-cli` when installed
# (schema only; a missing one skips its rows). Needs python3 (for `wait4`) and GNU time (for the
# peak memory).
# Run from the project root: `bash benches/figures.sh [RUNS]` (default 7).
set -euo pipefail

runs=${1:-7}
cargo build --release --quiet --example bench_files --example parse_floor
files=$(cargo run --release --quiet --example bench_files -- target/bench-files)
# The binary as `cargo build --release` and `cargo install` make it (built with the examples, it
# would have the dev-dependencies' features, and the symbols build.rs orders by other names).
cargo build --release --quiet --bin fluxo
fluxo=target/release/fluxo
floor=target/release/examples/parse_floor
schema=schemas/flow.schema.json
have() { command -v "$1" >/dev/null 2>&1; }

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/ {print $2}') GiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "fluxo: $(git rev-parse --short HEAD 2>/dev/null || echo unknown), release build; runs per figure: $runs"
# How much of link/order.txt (build.rs) the binary still has: a compiler or dependency update
# renames the functions it lists, and the lint's code is then spread over the binary again.
if have nm && [ -f link/order.txt ]; then
    listed=$(sort -u link/order.txt | wc -l)
    found=$(nm --defined-only "$fluxo" | awk '{ print $3 }' | sort -u | comm -12 - <(sort -u link/order.txt) | wc -l)
    echo "link order: $found of the $listed functions in link/order.txt are in the binary (bash benches/link-order.sh writes it again)"
fi

# one CMD...: prints "CPU-ms peak-KiB wall-ms" of the command. CPU and wall time come from one run,
# from the kernel's accounting of the child (`wait4`: microseconds, where GNU time rounds to
# 10 ms); the peak memory from a second run under GNU time. A child of Python inherits Python's
# own peak (about 14 MiB, recorded when the forked child execs), so a peak read by `wait4`
# could never be lower than that; GNU time's own is about 2 MiB. The exit status is ignored:
# lint exits 1 when it reports findings.
one() {
    local cpu wall peak
    read -r cpu wall < <(python3 -c '
import os, subprocess, sys, time
t = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, _, ru = os.wait4(p.pid, 0)
print("%.2f %.2f" % ((ru.ru_utime + ru.ru_stime) * 1000, (time.monotonic() - t) * 1000))
' "$@" </dev/null)
    peak=$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null </dev/null | tail -n 1)
    echo "$cpu $peak $wall"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# pair NAME_A "CMD A" NAME_B "CMD B": alternating runs; medians of CPU time, wall time and peak
# memory, and the ratios A / B of the CPU and wall medians.
pair() {
    local na=$1 a=$2 nb=$3 b=$4 ta=() tb=() ma=() mb=() wa=() wb=()
    for _ in $(seq "$runs"); do
        read -r t m w < <(eval "one $a"); ta+=("$t"); ma+=("$m"); wa+=("$w")
        read -r t m w < <(eval "one $b"); tb+=("$t"); mb+=("$m"); wb+=("$w")
    done
    local cta ctb mma mmb wwa wwb
    cta=$(printf '%s\n' "${ta[@]}" | median); ctb=$(printf '%s\n' "${tb[@]}" | median)
    mma=$(printf '%s\n' "${ma[@]}" | median); mmb=$(printf '%s\n' "${mb[@]}" | median)
    wwa=$(printf '%s\n' "${wa[@]}" | median); wwb=$(printf '%s\n' "${wb[@]}" | median)
    printf '%-44s %9.1f ms CPU %9.1f ms wall %9d KiB\n' "$na" "$cta" "$wwa" "$mma"
    printf '%-44s %9.1f ms CPU %9.1f ms wall %9d KiB\n' "$nb" "$ctb" "$wwb" "$mmb"
    awk -v a="$cta" -v b="$ctb" -v wa="$wwa" -v wb="$wwb" -v n="$na / $nb" \
        'BEGIN { printf "ratio %s: %.2fx CPU, %.2fx wall\n", n, a / b, wa / wb }'
}

size() { stat -c %s "$1"; }
for f in flow-10k.json flow-10k.min.json flow-100k.json; do
    printf '%s: %.1f MiB\n' "$f" "$(awk -v s="$(size "$files/$f")" 'BEGIN { print s / 1048576 }')"
done

echo "== lint of the 10,000-node flow against the parse floor"
for f in flow-10k.json flow-10k.min.json; do
    pair "fluxo lint $f" "$fluxo lint $files/$f" "parse $f" "$floor $files/$f"
    read -r _ m _ < <(one "$fluxo" lint "$files/$f")
    awk -v m="$m" -v s="$(size "$files/$f")" -v f="$f" 'BEGIN { printf "peak memory of fluxo lint %s: %.1f MiB = %.2fx the file\n", f, m / 1024, m * 1024 / s }'
done

echo "== fluxo run start-up on the 100,000-node flow (load, compile, first turn)"
# The start event from a file: a JSON string inside the eval'd command would lose its quotes.
echo '{"type":"start"}' >"$files/start.jsonl"
start="$fluxo run --events $files/start.jsonl $files/flow-100k.json"
pair "fluxo run flow-100k.json" "$start" "parse flow-100k.json" "$floor $files/flow-100k.json"
read -r _ m _ < <(eval "one $start")
awk -v m="$m" -v s="$(size "$files/flow-100k.json")" 'BEGIN { printf "peak memory of fluxo run: %.1f MiB = %.2fx the file\n", m / 1024, m * 1024 / s }'

echo "== lint of the 200-flow set against schema-only validators"
set_files=$(printf '%s ' "$files"/set/*.json)
if have jsonschema-cli; then
    pair "fluxo lint set (200 files)" "$fluxo lint $files/set" "jsonschema-cli" "jsonschema-cli validate $schema $(printf -- '-i %s ' $set_files)"
else
    echo "SKIPPED: jsonschema-cli is not installed"
fi
if have check-jsonschema; then
    pair "fluxo lint set (200 files)" "$fluxo lint $files/set" "check-jsonschema" "check-jsonschema --schemafile $schema $set_files"
else
    echo "SKIPPED: check-jsonschema is not installed"
fi
if have ajv; then
    # ajv-cli (npm), with the formats the schema uses; the ratio that matters is wall time.
    pair "fluxo lint set (200 files)" "$fluxo lint $files/set" "ajv-cli" "ajv validate --spec=draft2020 -c ajv-formats --strict=false -s $schema $(printf -- '-d %s ' $set_files)"
else
    echo "SKIPPED: ajv-cli is not installed"
fi
