//! What differs between operating systems, one small module per concern, each with a unix and a
//! windows side. The rest of the library calls these and never names an OS.
//!
//! Built and tested: Linux x86-64, and Windows x64 (`x86_64-pc-windows-gnu`, tested under Wine).
//! The unix side uses POSIX calls where one exists, so that macOS should build; it is untested.

pub mod files;
pub mod memory;
pub mod paths;
pub mod process;
pub mod socket;
