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

/// The names a C file sees once it includes `header`, beyond those of the system headers it
/// includes: the macros it defines and the names its top-level declarations declare
/// (functions, typedefs, struct, enum and union tags, enum constants).
fn declared_names(header: &Path) -> Vec<String> {
    // Asked once: the tests run at once, and a second writer of the file would truncate it
    // under the first one's gcc.
    static SYSTEM_NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let theirs = SYSTEM_NAMES.get_or_init(|| {
        let system = Path::new(env!("OUT_DIR")).join("header-check-system.h");
        std::fs::write(&system, "#include <stddef.h>\n#include <stdint.h>\n").unwrap();
        names_of(&system)
    });
    let ours = names_of(header);
    ours.into_iter().filter(|n| !theirs.contains(n)).collect()
}

/// The macros `source` defines (asked of the preprocessor) and the names its top-level
/// declarations declare, with those of what it includes.
fn names_of(source: &Path) -> Vec<String> {
    let output = Command::new("gcc")
        .args(["-E", "-dM", "-x", "c"])
        .arg(source)
        .output()
        .expect("gcc runs");
    assert!(output.status.success());
    let mut names: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("#define "))
        .map(|rest| rest.split([' ', '(']).next().unwrap().to_string())
        .collect();

    let output = Command::new("gcc")
        .args(["-E", "-P", "-x", "c"])
        .arg(source)
        .output()
        .expect("gcc runs");
    assert!(output.status.success());
    let preprocessed = String::from_utf8(output.stdout).unwrap();
    // Tokens: identifiers and single punctuation characters.
    let mut tokens: Vec<String> = Vec::new();
    let mut chars = preprocessed.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphabetic() || c == '_' {
            let mut word = c.to_string();
            while let Some(&next) = chars.peek() {
                if next.is_ascii_alphanumeric() || next == '_' {
                    word.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(word);
        } else if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    let is_word = |t: &str| t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    let (mut braces, mut parens) = (0, 0);
    let mut statement: Vec<&str> = Vec::new();
    let mut in_enum = false;
    for (i, token) in tokens.iter().enumerate() {
        let token = token.as_str();
        match token {
            "{" => braces += 1,
            "}" => braces -= 1,
            "(" => parens += 1,
            ")" => parens -= 1,
            _ => {}
        }
        if matches!(token, "struct" | "enum" | "union") {
            if let Some(tag) = tokens.get(i + 1).filter(|t| is_word(t)) {
                names.push(tag.clone());
            }
            in_enum = token == "enum";
        }
        // Enum constants: the first word of each element of an enum's body.
        if in_enum && braces == 1 && is_word(token) && matches!(tokens[i - 1].as_str(), "{" | ",") {
            names.push(token.to_string());
        }
        if braces > 0 {
            continue;
        }
        if token == "}" {
            in_enum = false;
        }
        if token == ";" && parens == 0 {
            // At the first `(`: a function pointer typedef `(*name)`, else a function named
            // by the word before it; without one, the last word.
            let name = match statement.iter().position(|t| *t == "(") {
                Some(p) if statement.get(p + 1) == Some(&"*") => statement.get(p + 2).copied(),
                Some(p) => p.checked_sub(1).map(|before| statement[before]),
                None => statement.iter().rev().find(|t| is_word(t)).copied(),
            };
            if let Some(name) = name.filter(|name| is_word(name)) {
                names.push(name.to_string());
            }
            statement.clear();
        } else {
            statement.push(token);
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Every name the header gives a C file starts with `ocr_` or `OCR_` (the include guard
/// aside), so that none collides with a user's own.
#[test]
fn every_name_in_the_header_is_prefixed() {
    let names = declared_names(Path::new(GENERATED));
    assert!(names.contains(&"ocr_client_new".to_string()), "{names:?}");
    assert!(names.contains(&"ocr_log_fn".to_string()), "{names:?}");
    assert!(names.contains(&"OCR_ERR_TLS".to_string()), "{names:?}");
    let unprefixed: Vec<&String> = names
        .iter()
        .filter(|n| !n.starts_with("ocr_") && !n.starts_with("OCR_") && *n != "OCRCLOUD_H")
        .collect();
    assert!(unprefixed.is_empty(), "unprefixed names: {unprefixed:?}");
}

/// The check itself sees leaked names of every kind.
#[test]
fn the_prefix_check_finds_unprefixed_names() {
    let header = Path::new(env!("OUT_DIR")).join("header-check-leaks.h");
    std::fs::write(
        &header,
        "#define LEAKED 5\ntypedef int leaked_t;\ntypedef void (*leaked_fn)(int a);\n\
         struct leaked_tag;\nenum leaked_enum { LEAKED_A, LEAKED_B = 2 };\n\
         int leaked_function(int x, int (*cb)(int y));\nextern int leaked_global;\n\
         int ocr_fine(void);\n",
    )
    .unwrap();
    let names = declared_names(&header);
    for leaked in [
        "LEAKED",
        "leaked_t",
        "leaked_fn",
        "leaked_tag",
        "leaked_enum",
        "LEAKED_A",
        "LEAKED_B",
        "leaked_function",
        "leaked_global",
        "ocr_fine",
    ] {
        assert!(names.contains(&leaked.to_string()), "{leaked}: {names:?}");
    }
    assert!(!names.contains(&"cb".to_string()) && !names.contains(&"x".to_string()));
}
