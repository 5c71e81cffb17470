//! `tests/c/hostile_driver.c`, compiled with -Wall -Wextra -Werror against the committed header
//! and the built library (as `tests/c_programs.rs` does for the other C programs), run under
//! valgrind.

use crate::common::{compile_c, valgrind};
use std::process::Output;

/// Runs the driver with `args` under valgrind, which fails (exit status 99) on any invalid
/// access or leak.
pub fn run_under_valgrind(args: &[String]) -> Output {
    valgrind(&compile_c("tests/c/hostile_driver.c", "valgrind"))
        .args(args)
        .output()
        .expect("valgrind runs")
}
