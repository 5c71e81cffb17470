//! Generates the C header `ocrcloud.h` into OUT_DIR with cbindgen. The committed copy in
//! `include/` must equal it; the test `tests/header.rs` fails when it is stale and rewrites it
//! when run with `OCRCLOUD_BLESS=1`.

use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("set by cargo");
    config.after_includes = Some(format!(
        "\n/** The version of this header; ocr_version() tells the library's. */\n\
         #define OCR_VERSION_MAJOR {}\n#define OCR_VERSION_MINOR {}\n#define OCR_VERSION_PATCH {}\n\
         #define OCR_VERSION_STRING \"{}\"",
        version("MAJOR"),
        version("MINOR"),
        version("PATCH"),
        env::var("CARGO_PKG_VERSION").expect("set by cargo"),
    ));
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write_to_file(out_dir.join("ocrcloud.h"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    // The release builds that are packaged (scripts/portable.sh) give the shared library its
    // soname, e.g. libocrcloud.so.0; ordinary builds, which the tests link against, keep none.
    println!("cargo:rerun-if-env-changed=OCRCLOUD_SONAME");
    if let Ok(soname) = env::var("OCRCLOUD_SONAME") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
}
