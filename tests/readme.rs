//! README.md's C and C++ programs, extracted from README.md exactly as shown, compiled with
//! -Wall -Wextra -Werror and run against the emulator; and its copies of the binding samples
//! checked against the sample files. So the documentation cannot drift from the code.

mod common;

use common::{Emulator, compile_c, library_dir, scratch_dir, show};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The fenced code block right after the line `<!-- snippet: NAME -->` of README.md.
fn snippet(name: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let marker = format!("<!-- snippet: {name} -->\n");
    let mut found = readme.split(marker.as_str());
    found.next();
    let after = found
        .next()
        .unwrap_or_else(|| panic!("README.md has no {marker:?}"));
    assert!(found.next().is_none(), "README.md has {marker:?} twice");
    let body = after.split_once('\n').expect("a fence after the marker");
    assert!(body.0.starts_with("```"), "a fence right after {marker:?}");
    let end = body.1.find("\n```\n").expect("the closing fence");
    format!("{}\n", &body.1[..end])
}

/// Writes snippet `name` into a fresh folder (made for `tag`) and answers the file's path.
fn write_snippet(name: &str, tag: &str) -> PathBuf {
    let folder = scratch_dir(tag);
    let path = folder.join(name);
    std::fs::write(&path, snippet(name)).unwrap();
    path
}

/// Runs a program built from a snippet as the README shows (`./app BASE_URL PDF`, credentials
/// in the environment) in its own folder, after checking its usage line; answers its stdout and
/// the files it saved in out/, sorted.
fn run_app(binary: &Path, emulator: &Emulator) -> (String, Vec<PathBuf>) {
    let folder = binary.parent().unwrap();
    let usage = Command::new(binary).current_dir(folder).output().unwrap();
    assert_eq!(usage.status.code(), Some(2), "{}", show(&usage));
    assert!(
        String::from_utf8_lossy(&usage.stderr).contains(" BASE_URL PDF"),
        "{}",
        show(&usage)
    );
    let output = Command::new(binary)
        .current_dir(folder)
        .arg(&emulator.url)
        .arg(Path::new(ROOT).join("examples/sample.pdf"))
        .env("OCR_CLIENT_ID", "demo")
        .env("OCR_CLIENT_SECRET", "demo-secret")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let mut saved: Vec<PathBuf> = std::fs::read_dir(folder.join("out"))
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
    let source = write_snippet("app.c", "readme-c");
    let binary = compile_c(source.to_str().unwrap(), "readme");
    let app = source.with_file_name("app");
    std::fs::rename(&binary, &app).unwrap();
    let emulator = Emulator::start(&["--pending-ms", "100", "--processing-ms", "100"]);
    let (stdout, saved) = run_app(&app, &emulator);
    assert_eq!(saved.len(), 1, "{saved:?}");
    let task_id = saved[0].file_stem().unwrap().to_string_lossy().into_owned();
    assert_eq!(stdout, format!("saved out/{task_id}.pdf\n"));
    assert_eq!(std::fs::read(&saved[0]).unwrap(), sample_pdf());
    assert_eq!(emulator.task(&task_id)["operation"], "RecognizePdf");
    std::fs::remove_dir_all(source.parent().unwrap()).unwrap();
}

#[test]
fn the_cpp_program_compiles_as_shown_and_runs() {
    let source = write_snippet("app.cpp", "readme-cpp");
    let app = source.with_file_name("app");
    let lib = library_dir();
    let compiled = Command::new("g++")
        .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(format!("-I{ROOT}/include"))
        .arg(&source)
        .arg("-o")
        .arg(&app)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-locrcloud")
        .output()
        .unwrap();
    assert!(compiled.status.success(), "{}", show(&compiled));
    let emulator = Emulator::start(&["--pending-ms", "100", "--processing-ms", "100"]);
    let (stdout, saved) = run_app(&app, &emulator);
    assert!(stdout.contains("poll 1: task "), "{stdout}");
    assert!(stdout.contains(" is Completed\n"), "{stdout}");
    assert!(stdout.contains("Hello from ocrcloud!"), "{stdout}");
    let extensions: Vec<_> = saved.iter().map(|p| p.extension().unwrap()).collect();
    assert_eq!(extensions, ["pdf", "txt"], "{saved:?}");
    assert_eq!(std::fs::read(&saved[0]).unwrap(), sample_pdf());
    std::fs::remove_dir_all(source.parent().unwrap()).unwrap();
}

#[test]
fn the_samples_shown_are_the_sample_files() {
    for file in [
        "bindings/python/examples/sample.py",
        "bindings/java/examples/Sample.java",
        "bindings/csharp/examples/Sample.cs",
    ] {
        let shown = snippet(file);
        let actual = std::fs::read_to_string(Path::new(ROOT).join(file)).unwrap();
        assert_eq!(shown, actual, "README.md's copy of {file} is stale");
    }
}
