//! The committed header equals the generated one, compiles cleanly as C and C++, and carries
//! the crate's version.

use std::path::Path;
use std::process::Command;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/include/ocrcloud.h");
const GENERATED: &str = concat!(env!("OUT_DIR"), "/ocrcloud.h");

#[test]
fn the_committed_header_is_current() {
    let generated = std::fs::read_to_string(GENERATED).expect("build.rs generated the header");
    if std::env::var_os("OCRCLOUD_BLESS").is_some() {
        std::fs::write(COMMITTED, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "include/ocrcloud.h is stale: run `OCRCLOUD_BLESS=1 cargo test --test header` and commit it"
    );
}

fn compiles(compiler: &str, args: &[&str]) {
    let source = Path::new(env!("OUT_DIR")).join(format!("header-check-{compiler}.c"));
    std::fs::write(
        &source,
        "#include \"ocrcloud.h\"\nint main(void) { return ocr_version() == 0; }\n",
    )
    .unwrap();
    let output = Command::new(compiler)
        .args(args)
        .args([
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
            "-I",
        ])
        .arg(Path::new(COMMITTED).parent().unwrap())
        .arg(&source)
        .output()
        .unwrap_or_else(|e| panic!("{compiler} runs: {e}"));
    assert!(
        output.status.success(),
        "{compiler} {args:?}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_header_compiles_as_c99_and_cpp() {
    compiles("gcc", &["-std=c99"]);
    compiles("gcc", &["-std=c11"]);
    compiles("g++", &["-x", "c++", "-std=c++17"]);
}

#[test]
fn the_header_version_is_the_crates() {
    let header = std::fs::read_to_string(COMMITTED).unwrap();
    for (name, value) in [
        ("OCR_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("OCR_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("OCR_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
        (
            "OCR_VERSION_STRING",
            &format!("\"{}\"", env!("CARGO_PKG_VERSION")),
        ),
    ] {
        assert!(
            header.contains(&format!("#define {name} {value}\n")),
            "{name} {value}"
        );
    }
}
