//! Paths as the user reads them. The C API takes UTF-8 everywhere; the standard library turns
//! it into the system's form (bytes on Unix, wide UTF-16 paths on Windows), so only the
//! canonical form differs.

pub use imp::canonicalize;

#[cfg(unix)]
mod imp {
    use std::path::{Path, PathBuf};

    /// The absolute path with every link resolved (`realpath`).
    pub fn canonicalize(path: &Path) -> std::io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
}

#[cfg(windows)]
mod imp {
    use std::path::{Path, PathBuf};

    /// The absolute path with every link resolved, without the `\\?\` prefix that
    /// `GetFinalPathNameByHandleW` adds where the plain form means the same (`C:\...`,
    /// `\\server\share\...` under 260 UTF-16 units), so that messages and the journal show the
    /// path a user would type.
    pub fn canonicalize(path: &Path) -> std::io::Result<PathBuf> {
        let verbatim = std::fs::canonicalize(path)?;
        let Some(text) = verbatim.to_str() else {
            return Ok(verbatim);
        };
        let plain = if let Some(rest) = text.strip_prefix(r"\\?\UNC\") {
            format!(r"\\{rest}")
        } else if let Some(rest) = text.strip_prefix(r"\\?\")
            && rest.as_bytes().get(1) == Some(&b':')
        {
            rest.to_string()
        } else {
            return Ok(verbatim);
        };
        // MAX_PATH counts UTF-16 units (with the final NUL), not UTF-8 bytes.
        Ok(if plain.encode_utf16().count() < 260 {
            PathBuf::from(plain)
        } else {
            verbatim
        })
    }
}
