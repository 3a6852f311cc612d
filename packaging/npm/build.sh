#!/usr/bin/env bash
# Builds the npm packages of fluxo for this platform into packaging/npm/dist/:
#   - the platform package (@fluxo-dev/fluxo-<os>-<cpu>[-musl]) holding this platform's binary;
#   - the `fluxo` launcher package, which runs the platform package's binary.
# Both are packed as .tgz files ready for `npm publish` or `npm install`.
#
# The binary is target/release/fluxo, built (or found up to date) by
# `FLUXO_PACK_RELOCS=0 cargo build --release --locked`: without packed relocations (build.rs), so
# that it runs on any glibc from 2.34 (Ubuntu 22.04 has 2.35), not only from 2.36; or the one
# named by FLUXO_BINARY (CI reuses the binary it already built).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dist="$here/dist"

exe=fluxo
case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    MINGW* | MSYS* | CYGWIN*) os=win32; exe=fluxo.exe ;;
    *) echo "error: no npm platform for $(uname -s)" >&2; exit 2 ;;
esac
case "$(uname -m)" in
    x86_64 | amd64) cpu=x64 ;;
    aarch64 | arm64) cpu=arm64 ;;
    *) echo "error: no npm platform for $(uname -m)" >&2; exit 2 ;;
esac
libc=""
if [ "$os" = linux ] && ldd --version 2>&1 | grep -qi musl; then
    libc="-musl"
fi
platform="$os-$cpu$libc"

binary="${FLUXO_BINARY:-$root/target/release/$exe}"
if [ -z "${FLUXO_BINARY:-}" ]; then
    (cd "$root" && FLUXO_PACK_RELOCS=0 cargo build --release --locked --bin fluxo)
fi
if [ ! -x "$binary" ]; then
    echo "error: $binary is not an executable fluxo binary" >&2
    exit 2
fi
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"

rm -rf "$dist"
mkdir -p "$dist/platform/bin" "$dist/fluxo"

# The platform package: the binary and a manifest that npm installs only on this platform.
cp "$binary" "$dist/platform/bin/$exe"
chmod +x "$dist/platform/bin/$exe"
cp "$root/LICENSE" "$dist/platform/"
node - "$dist/platform/package.json" "$platform" "$os" "$cpu" "$libc" "$version" <<'JS'
const [file, platform, os, cpu, libc, version] = process.argv.slice(2);
const manifest = {
  name: `@fluxo-dev/fluxo-${platform}`,
  version,
  description: `The fluxo binary for ${platform}`,
  license: "Apache-2.0",
  repository: { type: "git", url: "git+https://github.com/fluxo-dev/fluxo.git" },
  os: [os],
  cpu: [cpu],
  files: ["bin", "LICENSE"],
};
if (libc) manifest.libc = ["musl"];
else if (os === "linux") manifest.libc = ["glibc"];
require("node:fs").writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n");
JS

# The launcher package, at the crate's version, naming every platform package at it too.
cp -R "$here/fluxo/." "$dist/fluxo/"
cp "$root/LICENSE" "$dist/fluxo/"
sed -n '1,/^## Install/p' "$root/README.md" | sed '$d' > "$dist/fluxo/README.md"
node - "$dist/fluxo/package.json" "$version" <<'JS'
const fs = require("node:fs");
const [file, version] = process.argv.slice(2);
const manifest = JSON.parse(fs.readFileSync(file, "utf8"));
manifest.version = version;
for (const name of Object.keys(manifest.optionalDependencies)) {
  manifest.optionalDependencies[name] = version;
}
manifest.files = ["bin/fluxo", "README.md", "LICENSE"];
fs.writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n");
JS

(cd "$dist" && npm pack --silent ./platform ./fluxo >/dev/null)
ls "$dist"/*.tgz
