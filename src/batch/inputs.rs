//! Finding a batch's inputs: walking folders, choosing an operation by extension, and what
//! identifies an input's content (size, modification time, SHA-256).

use crate::error::{Code, Error, Result, invalid};
use crate::faults::{self, Step};
use crate::operations::Operation;
use crate::platform::paths::canonicalize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The largest input the batch submits: the emulator's default body limit. The service
/// documents none; a larger file fails with `TooLarge` before anything is sent.
pub const MAX_INPUT_BYTES: u64 = 512 * 1024 * 1024;

/// Extensions of image files, matched without regard to case.
const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif"];

/// The operation for a file found in a folder: `.pdf` is `RecognizePdf`, images are
/// `RecognizeImage`, anything else `None` (skipped).
pub fn operation_for(path: &Path) -> Option<Operation> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if ext == "pdf" {
        Some(Operation::RECOGNIZE_PDF)
    } else if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        Operation::named("RecognizeImage").ok()
    } else {
        None
    }
}

/// A file found under a root: its path and its path relative to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub relative: PathBuf,
}

/// The files under `root`, sorted, recursively; hidden entries (names starting with `.`) are
/// skipped, and so is `exclude` (the output folder, which may lie inside an input folder).
/// Links to files are followed, links to folders are not (no cycles). `note` hears about each
/// entry that is skipped for a reason the user may not expect.
pub fn walk(root: &Path, exclude: &Path, note: &mut dyn FnMut(String)) -> Result<Vec<Found>> {
    let meta = std::fs::metadata(root)
        .map_err(|e| Error::new(Code::Io, format!("cannot read {}: {e}", root.display())))?;
    if !meta.is_dir() {
        return Err(invalid(format!("{} is not a folder", root.display())));
    }
    let exclude = canonicalize(exclude).ok();
    if exclude.is_some() && canonicalize(root).ok() == exclude {
        return Err(invalid(format!(
            "{} is the output folder too: its results would be read as inputs; give another \
             output folder",
            root.display()
        )));
    }
    let mut found = Vec::new();
    let mut folders = vec![PathBuf::new()];
    while let Some(relative) = folders.pop() {
        let folder = root.join(&relative);
        if exclude.is_some() && canonicalize(&folder).ok() == exclude {
            continue;
        }
        let entries = std::fs::read_dir(&folder)
            .map_err(|e| Error::new(Code::Io, format!("cannot read {}: {e}", folder.display())))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| {
                Error::new(Code::Io, format!("cannot read {}: {e}", folder.display()))
            })?;
            names.push((entry.file_name(), entry.file_type().ok()));
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let mut subfolders = Vec::new();
        for (name, kind) in names {
            let path = folder.join(&name);
            if name.as_encoded_bytes().first() == Some(&b'.') {
                continue;
            }
            if name.to_str().is_none() {
                note(format!("skipped {}: the name is not UTF-8", path.display()));
                continue;
            }
            let is_link = kind.is_some_and(|k| k.is_symlink());
            let is_dir = if is_link {
                std::fs::metadata(&path).is_ok_and(|m| m.is_dir())
            } else {
                kind.is_some_and(|k| k.is_dir())
            };
            if is_dir {
                if is_link {
                    note(format!("skipped {}: a link to a folder", path.display()));
                } else {
                    subfolders.push(relative.join(&name));
                }
            } else if operation_for(&path).is_some() {
                found.push(Found {
                    path,
                    relative: relative.join(&name),
                });
            } else {
                note(format!("skipped {}: not a PDF or an image", path.display()));
            }
        }
        // Depth first, in name order: push in reverse so that the first name comes out first.
        folders.extend(subfolders.into_iter().rev());
    }
    found.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(found)
}

/// What `add_folder` of either batch does: each document under `folder` ([`walk`], skipping
/// the output folder `exclude`) goes to `add`, in order; a folder without any is refused.
/// Answers how many inputs the batch gained (`items` counts them; a path added before adds
/// none). `add` may skip a file, and tell `note` why.
pub(crate) fn add_folder<B>(
    batch: &mut B,
    folder: &Path,
    exclude: &Path,
    note: &mut dyn FnMut(String),
    items: fn(&B) -> usize,
    mut add: impl FnMut(&mut B, &Path, &mut dyn FnMut(String)) -> Result<()>,
) -> Result<usize> {
    let found = walk(folder, exclude, note)?;
    if found.is_empty() {
        return Err(invalid(format!(
            "{} holds no PDF or image (.pdf .png .jpg .jpeg .tif .tiff .bmp .gif)",
            folder.display()
        )));
    }
    let before = items(batch);
    for file in &found {
        add(batch, &file.path, note)?;
    }
    Ok(items(batch) - before)
}

/// What identifies an input's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: u64,
    /// Nanoseconds since 1970.
    pub modified_ns: i64,
    /// Lower-case hex, as `sha256sum` prints it.
    pub sha256: String,
}

/// Reads `path` once to fingerprint it. A file that is not a regular file, is empty, is larger
/// than [`MAX_INPUT_BYTES`] or cannot be read is an error naming the file; the read stops early
/// (an error) once `cancelled` answers true.
pub fn fingerprint(path: &Path, cancelled: &dyn Fn() -> bool) -> Result<Fingerprint> {
    let io =
        |e: std::io::Error| Error::new(Code::Io, format!("cannot read {}: {e}", path.display()));
    // Non-blocking, so that a FIFO or a device named like a document cannot hold the batch.
    let mut file = crate::platform::files::open_for_reading(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(invalid(format!("{} is not a regular file", path.display())));
    }
    if meta.len() == 0 {
        return Err(invalid(format!("{} is empty", path.display())));
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(Error::new(
            Code::TooLarge,
            format!(
                "{} has {} bytes, more than the batch's limit of {MAX_INPUT_BYTES}",
                path.display(),
                meta.len()
            ),
        ));
    }
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 256 * 1024];
    let mut size = 0u64;
    loop {
        if cancelled() {
            return Err(crate::call::cancelled());
        }
        let n = faults::file_step(Step::FileRead)
            .and_then(|()| file.read(&mut buffer))
            .map_err(io)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Ok(Fingerprint {
        size,
        modified_ns,
        sha256: hex(&hasher.finalize()),
    })
}

/// The SHA-256 of `text`, in lower-case hex.
pub fn sha256_hex(text: &[u8]) -> String {
    hex(&Sha256::digest(text))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ocrcloud-inputs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn operations_follow_the_extension_in_any_case() {
        assert_eq!(
            operation_for(Path::new("a/b.PDF")).unwrap().name(),
            "RecognizePdf"
        );
        for name in [
            "x.png", "x.JPG", "x.jpeg", "x.tif", "x.TIFF", "x.bmp", "x.gif",
        ] {
            assert_eq!(
                operation_for(Path::new(name)).unwrap().name(),
                "RecognizeImage"
            );
        }
        for name in ["x.txt", "x", "pdf", "x.pdf.bak"] {
            assert!(operation_for(Path::new(name)).is_none(), "{name}");
        }
    }

    #[test]
    fn a_walk_finds_documents_in_order_and_skips_hidden_entries_and_the_output() {
        let root = scratch("walk");
        for path in [
            "b.pdf",
            "a/z.png",
            "a/c/d.pdf",
            ".hidden.pdf",
            ".git/x.pdf",
            "notes.txt",
            "out/r.pdf",
        ] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        }
        std::os::unix::fs::symlink(root.join("a"), root.join("loop")).unwrap();
        let mut notes = Vec::new();
        let found = walk(&root, &root.join("out"), &mut |n| notes.push(n)).unwrap();
        let relative: Vec<_> = found.iter().map(|f| f.relative.to_str().unwrap()).collect();
        assert_eq!(relative, ["a/c/d.pdf", "a/z.png", "b.pdf"]);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("notes.txt")));
        assert!(notes.iter().any(|n| n.contains("a link to a folder")));
        std::fs::remove_dir_all(root).unwrap();
    }

    fn fingerprint_of(path: &Path) -> Result<Fingerprint> {
        fingerprint(path, &|| false)
    }

    #[test]
    fn fingerprints_refuse_what_cannot_be_submitted() {
        let root = scratch("fingerprint");
        std::fs::write(root.join("doc.pdf"), b"abc").unwrap();
        let print = fingerprint_of(&root.join("doc.pdf")).unwrap();
        assert_eq!(print.size, 3);
        assert_eq!(
            print.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        std::fs::write(root.join("empty.pdf"), b"").unwrap();
        let err = fingerprint_of(&root.join("empty.pdf")).unwrap_err();
        assert!(err.message().contains("is empty"), "{err}");
        assert_eq!(
            fingerprint_of(&root).unwrap_err().code(),
            Code::InvalidArgument
        );
        assert_eq!(
            fingerprint_of(&root.join("missing.pdf"))
                .unwrap_err()
                .code(),
            Code::Io
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
