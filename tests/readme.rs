//! The documentation's code, tested as shown. In every tracked Markdown file, a fenced block
//! marked on the line before it with
//! - `<!-- snippet: PATH -->` is a copy of the file PATH, whole;
//! - `<!-- excerpt: PATH -->` is consecutive lines of the file PATH (indentation aside);
//! - `<!-- snippet: NAME -->` (no such file) is a program that a test here runs;
//! - `<!-- commands: NAME -->` is shell commands that a test here runs.
//!
//! The files shown (examples/app.c, examples/cpp/app.cpp) are compiled with -Wall -Wextra -Werror
//! and run against the emulator, so the documentation cannot drift from the code.

mod common;

use common::{
    Emulator, compile_c, library_dir, scratch_dir, show, tracked_files, workspace_binary,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The marked blocks that are not copies of a file, each run by a test below: (document, kind,
/// name).
const RUN_HERE: &[(&str, &str, &str)] = &[
    ("docs/python.md", "snippet", "poll_many.py"),
    ("README.md", "commands", "cli-run"),
    ("docs/cli.md", "commands", "cli-run"),
];

/// The whole copies the documentation must show (document, file): the smallest programs and the
/// binding samples, each beside its guide's text.
const COPIES: &[(&str, &str)] = &[
    ("README.md", "examples/app.c"),
    ("docs/c.md", "examples/app.c"),
    ("docs/cpp.md", "examples/cpp/app.cpp"),
    ("docs/python.md", "bindings/python/examples/sample.py"),
    ("docs/java.md", "bindings/java/examples/Sample.java"),
    ("docs/csharp.md", "bindings/csharp/examples/Sample.cs"),
];

/// A fenced block of a Markdown document marked `<!-- KIND: NAME -->` on the line before it.
#[derive(Debug)]
struct Marked {
    kind: String,
    name: String,
    /// The lines between the fences, each ending with a newline.
    block: String,
}

/// The marked blocks of `text` (the document `doc`, named in panics).
fn marked_blocks(doc: &str, text: &str) -> Vec<Marked> {
    let mut found = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(marker) = line
            .trim()
            .strip_prefix("<!-- ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        let Some((kind, name)) = marker
            .split_once(": ")
            .filter(|(kind, _)| ["snippet", "excerpt", "commands"].contains(kind))
        else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "{doc}: a fence right after {line:?}"
        );
        let mut block = String::new();
        for line in lines.by_ref() {
            if line == "```" {
                found.push(Marked {
                    kind: kind.to_string(),
                    name: name.to_string(),
                    block,
                });
                break;
            }
            block.push_str(line);
            block.push('\n');
        }
    }
    found
}

/// The one block of `doc` marked `<!-- KIND: NAME -->`.
fn marked_block(doc: &str, kind: &str, name: &str) -> String {
    let text = std::fs::read_to_string(Path::new(ROOT).join(doc)).unwrap();
    let mut blocks: Vec<Marked> = marked_blocks(doc, &text)
        .into_iter()
        .filter(|marked| marked.kind == kind && marked.name == name)
        .collect();
    assert_eq!(blocks.len(), 1, "{doc} has one <!-- {kind}: {name} -->");
    blocks.remove(0).block
}

/// Why `block`, marked `kind` (snippet or excerpt), is not what the file `file` holds.
fn stale(kind: &str, block: &str, file: &str) -> Option<String> {
    match kind {
        "snippet" if block == file => None,
        "snippet" => Some("differs from the file".to_string()),
        "excerpt" => {
            let shown: Vec<&str> = block.lines().map(str::trim).collect();
            let lines: Vec<&str> = file.lines().map(str::trim).collect();
            let found = !shown.is_empty()
                && lines
                    .windows(shown.len())
                    .any(|window| window == shown.as_slice());
            (!found).then(|| "is not consecutive lines of the file".to_string())
        }
        _ => Some(format!("is a {kind:?}, not a copy of a file")),
    }
}

#[test]
fn every_marked_block_is_the_file_it_names_or_is_run_here() {
    let tracked = tracked_files();
    let mut problems = Vec::new();
    let mut copies = Vec::new();
    let mut run_here = Vec::new();
    for doc in tracked.iter().filter(|path| path.ends_with(".md")) {
        let text = std::fs::read_to_string(Path::new(ROOT).join(doc)).unwrap();
        for marked in marked_blocks(doc, &text) {
            let what = format!("{doc}: <!-- {}: {} -->", marked.kind, marked.name);
            if marked.kind != "commands" && tracked.contains(&marked.name) {
                let file = std::fs::read_to_string(Path::new(ROOT).join(&marked.name)).unwrap();
                if let Some(why) = stale(&marked.kind, &marked.block, &file) {
                    problems.push(format!("{what} {why}"));
                }
                if marked.kind == "snippet" {
                    copies.push((doc.clone(), marked.name.clone()));
                }
            } else if RUN_HERE.contains(&(doc.as_str(), marked.kind.as_str(), &marked.name)) {
                run_here.push((doc.clone(), marked.kind.clone(), marked.name.clone()));
            } else {
                problems.push(format!("{what}: no such file, and no test here runs it"));
            }
        }
    }
    for (doc, file) in COPIES {
        if !copies.contains(&(doc.to_string(), file.to_string())) {
            problems.push(format!("{doc} shows no copy of {file}"));
        }
    }
    for (doc, kind, name) in RUN_HERE {
        if !run_here.contains(&(doc.to_string(), kind.to_string(), name.to_string())) {
            problems.push(format!("{doc} has no <!-- {kind}: {name} -->"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_stale_copy_or_excerpt_is_found() {
    let file = "int main(void) {\n    return 0;\n}\n";
    assert_eq!(stale("snippet", file, file), None);
    assert!(stale("snippet", "int main(void) {\n    return 1;\n}\n", file).is_some());
    assert_eq!(stale("excerpt", "return 0;\n}\n", file), None);
    assert!(stale("excerpt", "int main(void) {\n}\n", file).is_some());
    assert!(stale("excerpt", "", file).is_some());
    let doc = "text\n<!-- snippet: a.c -->\n```c\nint x;\n```\n<!-- other: comment -->\n";
    let blocks = marked_blocks("doc.md", doc);
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert_eq!(
        (blocks[0].name.as_str(), blocks[0].block.as_str()),
        ("a.c", "int x;\n")
    );
}

/// Runs a program built from examples/ as the guides show (`./app BASE_URL PDF OUT`, credentials
/// in the environment) in a folder of its own, after checking its usage; answers its stdout and
/// the files it saved in `out`, sorted.
fn run_app(binary: &Path, out: &str, emulator: &Emulator) -> (String, Vec<PathBuf>) {
    let folder = binary.parent().unwrap();
    let pdf = Path::new(ROOT).join("examples/sample.pdf");
    for args in [&[][..], &[emulator.url.as_str(), pdf.to_str().unwrap()][..]] {
        let usage = Command::new(binary)
            .current_dir(folder)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(usage.status.code(), Some(2), "{}", show(&usage));
        assert!(
            String::from_utf8_lossy(&usage.stderr).contains(" BASE_URL PDF OUTPUT_DIR\n"),
            "{}",
            show(&usage)
        );
    }
    let output = Command::new(binary)
        .current_dir(folder)
        .arg(&emulator.url)
        .arg(&pdf)
        .arg(out)
        .env("OCR_CLIENT_ID", "demo")
        .env("OCR_CLIENT_SECRET", "demo-secret")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let mut saved: Vec<PathBuf> = std::fs::read_dir(folder.join(out))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    saved.sort();
    (String::from_utf8_lossy(&output.stdout).into_owned(), saved)
}

fn sample_pdf() -> Vec<u8> {
    std::fs::read(Path::new(ROOT).join("examples/sample.pdf")).unwrap()
}

#[test]
fn the_c_program_submits_polls_and_saves() {
    let folder = scratch_dir("readme-c");
    let app = folder.join("app");
    std::fs::rename(compile_c("examples/app.c", "readme"), &app).unwrap();
    let emulator = Emulator::start(&["--pending-ms", "100", "--processing-ms", "100"]);
    let (stdout, saved) = run_app(&app, "out-c", &emulator);
    assert_eq!(saved.len(), 1, "{saved:?}");
    let task_id = saved[0].file_stem().unwrap().to_string_lossy().into_owned();
    assert_eq!(stdout, format!("saved out-c/{task_id}.pdf\n"));
    assert_eq!(std::fs::read(&saved[0]).unwrap(), sample_pdf());
    assert_eq!(emulator.task(&task_id)["operation"], "RecognizePdf");
    std::fs::remove_dir_all(folder).unwrap();
}

#[test]
fn the_cpp_program_compiles_as_shown_and_runs() {
    let folder = scratch_dir("readme-cpp");
    let app = folder.join("app");
    let lib = library_dir();
    let compiled = Command::new("g++")
        .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(format!("-I{ROOT}/include"))
        .arg(Path::new(ROOT).join("examples/cpp/app.cpp"))
        .arg("-o")
        .arg(&app)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-locrcloud")
        .output()
        .unwrap();
    assert!(compiled.status.success(), "{}", show(&compiled));
    let emulator = Emulator::start(&["--pending-ms", "100", "--processing-ms", "100"]);
    let (stdout, saved) = run_app(&app, "out-cpp", &emulator);
    assert!(stdout.contains("poll 1: task "), "{stdout}");
    assert!(stdout.contains(" is Completed\n"), "{stdout}");
    assert!(stdout.contains("Hello from ocrcloud!"), "{stdout}");
    let extensions: Vec<_> = saved.iter().map(|p| p.extension().unwrap()).collect();
    assert_eq!(extensions, ["pdf", "txt"], "{saved:?}");
    assert_eq!(std::fs::read(&saved[0]).unwrap(), sample_pdf());
    std::fs::remove_dir_all(folder).unwrap();
}

/// `python3 FILE ARGS` in `folder` with the binding from the checkout and this run's library.
fn python(file: &Path, folder: &Path, args: &[&str]) -> Output {
    Command::new("python3")
        .arg(file)
        .args(args)
        .current_dir(folder)
        .env("PYTHONPATH", Path::new(ROOT).join("bindings/python"))
        .env("OCRCLOUD_LIBRARY_DIR", library_dir())
        .env("OCR_CLIENT_ID", "demo")
        .env("OCR_CLIENT_SECRET", "demo-secret")
        .output()
        .expect("python3 runs")
}

#[test]
fn the_python_sample_takes_no_default_path() {
    let folder = scratch_dir("readme-python-usage");
    let sample = Path::new(ROOT).join("bindings/python/examples/sample.py");
    for args in [&[][..], &["http://127.0.0.1:1", "examples/sample.pdf"][..]] {
        let usage = python(&sample, &folder, args);
        assert_eq!(usage.status.code(), Some(2), "{}", show(&usage));
        assert_eq!(
            String::from_utf8_lossy(&usage.stderr),
            "usage: python3 sample.py BASE_URL PDF OUTPUT_DIR\n"
        );
    }
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
    std::fs::remove_dir_all(folder).unwrap();
}

#[test]
fn the_python_poll_many_program_polls_every_task() {
    let folder = scratch_dir("readme-poll-many");
    let program = folder.join("poll_many.py");
    std::fs::write(
        &program,
        marked_block("docs/python.md", "snippet", "poll_many.py"),
    )
    .unwrap();
    let usage = python(&program, &folder, &[]);
    assert_eq!(usage.status.code(), Some(2), "{}", show(&usage));
    let emulator = Emulator::start(&["--pending-ms", "100", "--processing-ms", "100"]);
    let pdf = Path::new(ROOT).join("examples/sample.pdf");
    let pdf = pdf.to_str().unwrap();
    let output = python(&program, &folder, &[&emulator.url, pdf, pdf]);
    assert!(output.status.success(), "{}", show(&output));
    let size = sample_pdf().len();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{pdf}: Pdf result, {size} bytes\n").repeat(2)
    );
    assert_eq!(emulator.count("POST /v5.0/ocr/RecognizePdf"), 2);
    std::fs::remove_dir_all(folder).unwrap();
}

/// Splits a shell command line into words: spaces separate, single quotes quote.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            ' ' if !quoted => words.extend(word.take()),
            _ => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(!quoted, "an unclosed quote in {line:?}");
    words.extend(word);
    words
}

/// The command line's commands of README.md and docs/cli.md, run as shown from a folder that
/// holds `examples/sample.pdf`: the build line is the one the workspace build already ran, the
/// exported variables are used (the base URL is this test's emulator), each `ocrcloud` line runs.
#[test]
fn the_command_line_runs_as_shown() {
    let cli = workspace_binary("ocrcloud", "ocrcloud-cli");
    for doc in ["README.md", "docs/cli.md"] {
        let emulator = Emulator::start(&["--pending-ms", "100", "--processing-ms", "100"]);
        let folder = scratch_dir("readme-cli");
        std::fs::create_dir(folder.join("examples")).unwrap();
        std::fs::write(folder.join("examples/sample.pdf"), sample_pdf()).unwrap();
        let mut environment = Vec::new();
        let mut ran = 0;
        for line in marked_block(doc, "commands", "cli-run").lines() {
            let words = shell_words(line);
            match words[0].as_str() {
                "cargo" => assert_eq!(words, ["cargo", "build", "--release", "-p", "ocrcloud-cli"]),
                "export" => {
                    for pair in &words[1..] {
                        let (name, value) = pair.split_once('=').unwrap();
                        let value = match name {
                            "OCR_BASE_URL" => {
                                assert_eq!(value, "http://127.0.0.1:8080", "{doc}");
                                emulator.url.clone()
                            }
                            _ => value.to_string(),
                        };
                        environment.push((name.to_string(), value));
                    }
                }
                "target/release/ocrcloud" => {
                    let output = Command::new(&cli)
                        .args(&words[1..])
                        .current_dir(&folder)
                        .env_remove("OCR_ACCESS_TOKEN")
                        .envs(environment.iter().cloned())
                        .output()
                        .unwrap();
                    assert!(output.status.success(), "{doc}: {line}\n{}", show(&output));
                    let stdout = String::from_utf8_lossy(&output.stdout);
                    assert_eq!(stdout, "out-cli/sample.txt\nout-cli/sample.pdf\n", "{doc}");
                    let pdf = std::fs::read(folder.join("out-cli/sample.pdf")).unwrap();
                    assert_eq!(pdf, sample_pdf());
                    ran += 1;
                }
                other => panic!("{doc}: a command this test does not know: {other}"),
            }
        }
        assert_eq!(ran, 1, "{doc}");
        std::fs::remove_dir_all(folder).unwrap();
    }
}
