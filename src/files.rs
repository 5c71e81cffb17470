//! Writing files so that they appear whole or not at all.

use crate::error::{Code, Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file being written beside its final place under a hidden temporary name. It becomes
/// visible only through [`TempFile::persist`]; dropped before that, it is removed.
pub struct TempFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl TempFile {
    /// Creates `.<name>.<pid>.<n>.tmp` in `dir`.
    pub fn create_in(dir: &Path, name: &str) -> Result<TempFile> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file,
                        persisted: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(io_error(
                        format!("cannot create a file in {}", dir.display()),
                        e,
                    ));
                }
            }
        }
    }

    /// Appends bytes.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        self.file
            .write_all(data)
            .map_err(|e| io_error(format!("cannot write {}", self.path.display()), e))
    }

    /// Flushes the data to the disk and renames the file to `target` (replacing it).
    pub fn persist(mut self, target: &Path) -> Result<()> {
        self.file
            .sync_all()
            .map_err(|e| io_error(format!("cannot write {}", self.path.display()), e))?;
        std::fs::rename(&self.path, target)
            .map_err(|e| io_error(format!("cannot create {}", target.display()), e))?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes `data` to `path` atomically: through a temporary file in the same folder and a
/// rename, so a failure never leaves a partial file and an existing file is replaced whole.
pub fn save_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| {
            Error::new(
                Code::Io,
                format!("cannot write {}: not a file name", path.display()),
            )
        })?
        .to_string_lossy();
    let mut file = TempFile::create_in(path.parent().unwrap_or(Path::new(".")), &name)?;
    file.write(data)?;
    file.persist(path)
}

fn io_error(what: String, error: std::io::Error) -> Error {
    Error::new(Code::Io, format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ocrcloud-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn saves_and_replaces_whole_files() {
        let dir = scratch_dir("save");
        let path = dir.join("out.pdf");
        save_atomically(&path, b"first").unwrap();
        save_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(entries(&dir), ["out.pdf"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn fails_with_the_os_reason_and_leaves_nothing_behind() {
        let dir = scratch_dir("fail");
        let err = save_atomically(&dir.join("missing/out.pdf"), b"x").unwrap_err();
        assert_eq!(err.code(), Code::Io);
        assert!(err.message().contains("No such file or directory"), "{err}");
        std::fs::create_dir(dir.join("taken")).unwrap();
        std::fs::write(dir.join("taken/inner"), b"keep").unwrap();
        let err = save_atomically(&dir.join("taken"), b"x").unwrap_err();
        assert_eq!(err.code(), Code::Io);
        assert_eq!(entries(&dir), ["taken"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_dropped_temporary_file_disappears() {
        let dir = scratch_dir("drop");
        let mut file = TempFile::create_in(&dir, "x").unwrap();
        file.write(b"partial").unwrap();
        assert_eq!(entries(&dir).len(), 1);
        drop(file);
        assert!(entries(&dir).is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
