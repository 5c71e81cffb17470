//! `make install`'s script into a temporary prefix, then examples/demo.c built against the
//! installed library as a user would (pkg-config, pkg-config --static, CMake's find_package) and
//! run against the emulator over HTTPS (its CA trusted through `OCR_CA_FILE`).
//!
//! The script is given this test run's libraries (`OCRCLOUD_LIB_DIR`), so that it builds
//! nothing and does not wait for the running cargo; then `scripts/uninstall.sh` removes exactly
//! what it wrote.

mod common;

use common::{Emulator, library_dir, scratch_dir};
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
    install_into(&prefix);
    prefix
}

/// `scripts/install.sh PREFIX` with this test run's libraries (`OCRCLOUD_LIB_DIR`: no build,
/// so no wait for the running cargo); answers what it printed.
fn install_into(prefix: &Path) -> String {
    run(Command::new(Path::new(ROOT).join("scripts/install.sh"))
        .arg(prefix)
        .env("OCRCLOUD_LIB_DIR", library_dir())
        .env_remove("DESTDIR"))
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

    // With the rpath that docs/c.md shows for a custom prefix: no LD_LIBRARY_PATH needed.
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

/// Every entry under `dir` with its kind and content (a link's target), in order.
fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut entries = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let meta = path.symlink_metadata().unwrap();
            let what = if meta.is_symlink() {
                format!("link {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                folders.push(path.clone());
                "folder".to_string()
            } else {
                format!("file {:?}", std::fs::read(&path).unwrap())
            };
            entries.push((path.strip_prefix(dir).unwrap().to_path_buf(), what));
        }
    }
    entries.sort();
    entries
}

fn uninstall(prefix: &Path) -> std::process::Output {
    Command::new(Path::new(ROOT).join("scripts/uninstall.sh"))
        .arg(prefix)
        .env_remove("DESTDIR")
        .output()
        .unwrap()
}

/// `uninstall` removes exactly what `install` wrote: the prefix holds what it held before,
/// the user's files (also in the folders the library uses) and empty folders included; a file
/// the user put into a folder the install created keeps that folder.
#[test]
fn uninstall_leaves_the_prefix_as_it_was() {
    let prefix = scratch_dir("uninstall").join("prefix");
    for (path, content) in [
        ("include/user.h", "int user;"),
        ("lib/libuser.so.1", "not really"),
        ("lib/pkgconfig/user.pc", "Name: user"),
        ("share/doc/user/README", "mine"),
    ] {
        let path = prefix.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    std::fs::create_dir_all(prefix.join("lib/cmake")).unwrap();
    std::os::unix::fs::symlink("libuser.so.1", prefix.join("lib/libuser.so")).unwrap();
    let before = snapshot(&prefix);

    let printed = install_into(&prefix);
    assert!(printed.contains("lib/libocrcloud.so.0"), "{printed}");
    // Installing twice records the same: the second install created no folder.
    install_into(&prefix);
    assert!(
        prefix
            .join("lib/cmake/ocrcloud/ocrcloudConfig.cmake")
            .is_file()
    );
    let output = uninstall(&prefix);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(snapshot(&prefix), before);
    assert!(
        !uninstall(&prefix).status.success(),
        "nothing is left to remove"
    );

    // A file of the user in a folder that the install created keeps that folder.
    install_into(&prefix);
    std::fs::write(prefix.join("lib/cmake/ocrcloud/extra.cmake"), "# mine").unwrap();
    assert!(uninstall(&prefix).status.success());
    let mut expected = before.clone();
    expected.push(("lib/cmake/ocrcloud".into(), "folder".into()));
    expected.push((
        "lib/cmake/ocrcloud/extra.cmake".into(),
        format!("file {:?}", b"# mine"),
    ));
    expected.sort();
    assert_eq!(snapshot(&prefix), expected);
    std::fs::remove_dir_all(prefix.parent().unwrap()).unwrap();
}
