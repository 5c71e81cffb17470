//! `make install`'s script into a temporary prefix, then examples/demo.c built against the
//! installed library as a user would (pkg-config, pkg-config --static, CMake's find_package) and
//! run against the emulator over HTTPS (its CA trusted through `OCR_CA_FILE`).
//!
//! The script builds the libraries it installs in a target folder of its own, so its cargo does
//! not wait for the running one.

mod common;

use common::{Emulator, scratch_dir};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");
const MAJOR: &str = env!("CARGO_PKG_VERSION_MAJOR");

/// Runs `command`, asserting success; answers its stdout.
#[track_caller]
fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Installs into a fresh prefix named after `name` and answers the prefix.
fn install(name: &str) -> PathBuf {
    let prefix = scratch_dir(name).join("prefix");
    run(Command::new(Path::new(ROOT).join("scripts/install.sh"))
        .arg(&prefix)
        .env_remove("DESTDIR"));
    prefix
}

/// Runs a built demo against a fresh HTTPS emulator, trusting its CA through `OCR_CA_FILE`, and
/// checks that it prints the recognized text; `library_path` is its `LD_LIBRARY_PATH` (None: none).
fn check_demo(demo: &Path, library_path: Option<&Path>) {
    let emulator = Emulator::start_tls(&["--pending-ms", "50", "--processing-ms", "50"]);
    assert!(emulator.url.starts_with("https://"), "{}", emulator.url);
    let output_dir = demo.with_extension("out");
    std::fs::create_dir_all(&output_dir).unwrap();
    let mut command = Command::new(demo);
    command
        .arg(&emulator.url)
        .arg(Path::new(ROOT).join("examples/sample.pdf"))
        .arg(&output_dir)
        .env("OCR_CLIENT_ID", "demo")
        .env("OCR_CLIENT_SECRET", "demo-secret")
        .env("OCR_CA_FILE", emulator.ca_file.as_ref().unwrap());
    match library_path {
        Some(dir) => command.env("LD_LIBRARY_PATH", dir),
        None => command.env_remove("LD_LIBRARY_PATH"),
    };
    let stdout = run(&mut command);
    assert!(stdout.contains("Hello from ocrcloud!"), "{stdout}");
}

/// The shared libraries a program or library needs, and its soname, as `readelf -d` shows them.
fn dynamic_section(path: &Path) -> String {
    run(Command::new("readelf").arg("-d").arg(path))
}

fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    let output = run(Command::new("pkg-config")
        .args(args)
        .arg("ocrcloud")
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")));
    output.split_whitespace().map(str::to_string).collect()
}

fn gcc(source: &Path, output: &Path, flags: &[String]) {
    run(Command::new("gcc")
        .arg("-std=c11")
        .arg(source)
        .arg("-o")
        .arg(output)
        .args(flags));
}

#[test]
fn installs_a_versioned_library_that_links_with_pkg_config() {
    let prefix = install("install-pkg-config");
    let lib = prefix.join("lib");
    let real = format!("libocrcloud.so.{VERSION}");
    let soname = format!("libocrcloud.so.{MAJOR}");
    assert!(lib.join(&real).symlink_metadata().unwrap().is_file());
    assert_eq!(
        std::fs::read_link(lib.join(&soname)).unwrap(),
        Path::new(&real)
    );
    assert_eq!(
        std::fs::read_link(lib.join("libocrcloud.so")).unwrap(),
        Path::new(&soname)
    );
    assert!(lib.join("libocrcloud.a").is_file());
    for header in ["ocrcloud.h", "ocrcloud.hpp"] {
        assert_eq!(
            std::fs::read(prefix.join("include").join(header)).unwrap(),
            std::fs::read(Path::new(ROOT).join("include").join(header)).unwrap()
        );
    }
    assert!(
        dynamic_section(&lib.join(&real)).contains(&format!("Library soname: [{soname}]")),
        "{real} has the soname {soname}"
    );
    assert_eq!(pkg_config(&prefix, &["--modversion"]), [VERSION]);

    let demo_c = Path::new(ROOT).join("examples/demo.c");
    let shared = prefix.with_file_name("demo-shared");
    gcc(
        &demo_c,
        &shared,
        &pkg_config(&prefix, &["--cflags", "--libs"]),
    );
    assert!(dynamic_section(&shared).contains(&format!("Shared library: [{soname}]")));
    check_demo(&shared, Some(&lib));

    // With the rpath that the README shows for a custom prefix: no LD_LIBRARY_PATH needed.
    let mut rpath_flags = pkg_config(&prefix, &["--cflags", "--libs"]);
    let libdir = pkg_config(&prefix, &["--variable=libdir"]);
    assert_eq!(libdir, [lib.display().to_string()]);
    rpath_flags.push(format!("-Wl,-rpath,{}", libdir[0]));
    let with_rpath = prefix.with_file_name("demo-rpath");
    gcc(&demo_c, &with_rpath, &rpath_flags);
    check_demo(&with_rpath, None);

    // The static library with Libs.private: no libocrcloud.so needed at run time.
    let static_flags: Vec<String> = pkg_config(&prefix, &["--cflags", "--libs", "--static"])
        .into_iter()
        .map(|flag| match flag.as_str() {
            "-locrcloud" => "-l:libocrcloud.a".to_string(),
            _ => flag,
        })
        .collect();
    let linked_statically = prefix.with_file_name("demo-static");
    gcc(&demo_c, &linked_statically, &static_flags);
    assert!(!dynamic_section(&linked_statically).contains("libocrcloud"));
    check_demo(&linked_statically, None);
    std::fs::remove_dir_all(prefix.parent().unwrap()).unwrap();
}

#[test]
fn cmake_finds_the_installed_package() {
    let prefix = install("install-cmake");
    let cmake = |build: &Path, wanted_version: &str| {
        let mut command = Command::new("cmake");
        command
            .arg("-S")
            .arg(Path::new(ROOT).join("tests/cmake"))
            .arg("-B")
            .arg(build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .arg(format!("-DOCRCLOUD_WANTED_VERSION={wanted_version}"));
        command
    };
    let build = prefix.with_file_name("build");
    run(&mut cmake(&build, VERSION));
    run(Command::new("cmake").arg("--build").arg(&build));
    check_demo(&build.join("demo"), None);

    let next_major = MAJOR.parse::<u32>().unwrap() + 1;
    let refused = cmake(
        &prefix.with_file_name("refused"),
        &format!("{next_major}.0"),
    )
    .output()
    .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("ocrcloud") && message.contains(VERSION),
        "{message}"
    );
    std::fs::remove_dir_all(prefix.parent().unwrap()).unwrap();
}
