//! Places the functions a lint runs next to each other in the `fluxo` binary, where the linker
//! can: the kernel maps a program's code 64 KiB at a time around each page it touches, and a
//! lint's few thousand functions, spread over the 21 MiB of code, made a lint map 13 to 18 MB of
//! it (a third of a 10,000-node lint's peak memory). `link/order.txt` lists them by symbol, as
//! profiles of lints name them (`bash benches/link-order.sh` writes it; see
//! `docs/benchmarks.md`).
//!
//! The list is given to the linker only where it is understood: LLD (the default linker of Rust
//! 1.90 and later on x86_64 Linux) takes `--symbol-ordering-file`; the GNU linker does not. So
//! it is passed on x86_64 Linux with Rust 1.90 or later, when no linker or linker flavour is set
//! by the configuration, and not when `FLUXO_LINK_ORDER=0`. Names the binary does not have (the
//! list is of one compiler version and one set of dependencies) are skipped without a word: the
//! binary is then the same as without the list. The crate is built as one code generation unit
//! in release (`Cargo.toml`), so that a change to its code does not rename the functions the
//! list names.
//!
//! With the same linker, when the C library of the machine that builds is glibc 2.36 or later
//! (`getconf GNU_LIBC_VERSION`), the binary's relative relocations are packed
//! (`-z pack-relative-relocs`, `DT_RELR`): the loader reads every relocation of a program at
//! start, and packed they take some 12 KiB instead of some 1 MiB (a twentieth of a
//! 10,000-node lint's peak memory). Such a binary needs glibc 2.36 or later to run, so it is
//! not packed for a build meant for older systems: `FLUXO_PACK_RELOCS=0`, or a build on one.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/order.txt");
    // What decides whether the list applies: a linker or linker flags set later must be seen.
    for var in [
        "FLUXO_LINK_ORDER",
        "FLUXO_PACK_RELOCS",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER",
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let Ok(dir) = std::env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    let order = Path::new(&dir).join("link").join("order.txt");
    let lld = lld();
    if lld && std::env::var("FLUXO_LINK_ORDER").as_deref() != Ok("0") && order.is_file() {
        println!(
            "cargo:rustc-link-arg-bin=fluxo=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bin=fluxo=-Wl,--no-warn-symbol-ordering");
    }
    if lld && std::env::var("FLUXO_PACK_RELOCS").as_deref() != Ok("0") && glibc_has_relr() {
        println!("cargo:rustc-link-arg-bin=fluxo=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the C library here is glibc 2.36 or later, the first to load packed relocations.
fn glibc_has_relr() -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    // `glibc 2.36`
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    out.status.success() && major_minor(version) >= (2, 36)
}

/// The first two numbers of a version (`1.95.0`, `2.36`, `1.96.0-nightly`), 0 where missing.
fn major_minor(version: &str) -> (u32, u32) {
    let mut parts = version
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Whether the linker is the one Rust uses by default on x86_64 Linux from 1.90, LLD.
fn lld() -> bool {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("TARGET") != "x86_64-unknown-linux-gnu" {
        return false;
    }
    // A linker chosen in the configuration, or flags about the linker, may not be LLD.
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    if std::env::var_os("RUSTC_LINKER").is_some()
        || ["linker", "fuse-ld", "link-self-contained"]
            .iter()
            .any(|f| flags.contains(f))
    {
        return false;
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("-vV").output() else {
        return false;
    };
    let version = String::from_utf8_lossy(&out.stdout);
    let Some(release) = version.lines().find_map(|l| l.strip_prefix("release: ")) else {
        return false;
    };
    major_minor(release) >= (1, 90)
}
