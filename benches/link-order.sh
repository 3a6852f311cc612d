#!/usr/bin/env bash
# Writes link/order.txt, the list of functions `fluxo lint` runs that build.rs gives the linker
# so that they sit next to each other in the binary (docs/benchmarks.md, "Lint and load in one
# run"). The names are mangled symbols of one compiler version and one set of dependencies:
# run this again after changing either, or a dependency's features, which are part of the hash
# every name carries (names the binary no longer has are skipped, so a stale
# list costs nothing but its gain). A change to fluxo's own code keeps the names (the crate is
# one code generation unit in release, Cargo.toml). Needs valgrind and nm.
# Run from the project root: `bash benches/link-order.sh`.
set -euo pipefail

# The examples first: built with them, the binary has the dev-dependencies' features and so
# other symbol names than the binary `cargo build --release` and `cargo install` make, which is
# the one profiled and linked here.
cargo build --release --quiet --example bench_files
files=$(cargo run --release --quiet --example bench_files -- target/bench-files)
cargo build --release --quiet --bin fluxo
fluxo=target/release/fluxo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The lints whose code is placed: a large flow read a window at a time (pretty-printed, whose
# report holds excerpts of its text, and minified, whose report holds pieces of its one line),
# many small flows, the project's fixtures (all file kinds), in each output format.
n=0
profile() {
    n=$((n + 1))
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$tmp/run.$n" \
        "$fluxo" "$@" >/dev/null 2>&1 || true
}
profile lint "$files/flow-10k.json"
profile lint "$files/flow-10k.min.json"
profile lint "$files/set"
for format in human json sarif github; do
    profile lint --format "$format" tests/fixtures
done

# Every function named in the profiles that the binary defines, once, in the order first met.
nm --defined-only "$fluxo" | awk '{ print $3 }' | sort -u >"$tmp/defined"
cat "$tmp"/run.* |
    grep -oE '^c?fn=\([0-9]+\) [^ ]+' |
    sed -E "s/^c?fn=\([0-9]+\) //; s/'[0-9]+$//" |
    awk '!seen[$0]++' |
    awk 'NR == FNR { defined[$0] = 1; next } defined[$0]' "$tmp/defined" - >link/order.txt
echo "link/order.txt: $(wc -l <link/order.txt) functions"

# Link again with the new list (build.rs watches the file).
cargo build --release --quiet --bin fluxo
