//! Where `ocrcloud run` puts its results: `DIR/<stem>.<ext>` after the input, named as a batch
//! names them, and never over a file that is already there unless `--force`.

use ocrcloud::batch::outputs;
use ocrcloud::error::{Code, Error, Result};
use std::path::{Path, PathBuf};

/// The stem of `file` (`a/b.pdf` -> `b`), from which the results are named.
pub fn stem_of(file: &Path) -> Result<PathBuf> {
    file.file_stem()
        .filter(|stem| !stem.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::new(
                Code::InvalidArgument,
                format!("{}: not a file name", file.display()),
            )
        })
}

/// Whether `name` is one that a result of an input with `stem` may get: `<stem>.<ext>` or
/// `<stem>-<index>.<ext>`.
pub fn may_be_result_of(name: &[u8], stem: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(stem) else {
        return false;
    };
    let rest = match rest.strip_prefix(b"-") {
        Some(indexed) => {
            let digits = indexed.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return false;
            }
            &indexed[digits..]
        }
        None => rest,
    };
    match rest.strip_prefix(b".") {
        Some(ext) => !ext.is_empty() && ext.iter().all(u8::is_ascii_alphanumeric),
        None => false,
    }
}

/// Refuses, before anything is sent (and billed), when `dir` holds a file that a result of an
/// input with `stem` may be named, whatever the result types turn out to be.
pub fn refuse_names_in_use(dir: &Path, stem: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::new(Code::Io, format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if may_be_result_of(name.as_encoded_bytes(), stem.as_os_str().as_encoded_bytes()) {
            return Err(Error::new(
                Code::Io,
                format!(
                    "{} is already there and a result could take its name; nothing was sent: \
                     give another folder, or --force to replace it",
                    dir.join(name).display()
                ),
            ));
        }
    }
    Ok(())
}

/// The paths of results of these `kinds` of task `id`: `dir/<stem>.<ext>`, as a batch names
/// them. Without `force`, a path that is taken (a file appeared while the task ran) fails,
/// and nothing is written.
pub fn result_paths(
    dir: &Path,
    stem: &Path,
    kinds: &[&str],
    force: bool,
    id: &str,
) -> Result<Vec<PathBuf>> {
    let paths: Vec<PathBuf> = outputs::names(stem, kinds, 1)
        .into_iter()
        .map(|name| dir.join(name))
        .collect();
    if let Some(taken) = paths
        .iter()
        .find(|path| !force && std::fs::symlink_metadata(path).is_ok())
    {
        return Err(Error::new(
            Code::Io,
            format!(
                "{} appeared while task {id} ran, so its results were not saved: `ocrcloud \
                 fetch {id} -o DIR` gets them for 24 hours, or run again with --force",
                taken.display()
            ),
        ));
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_results_are_recognised_and_others_are_not() {
        for name in ["scan.pdf", "scan.txt", "scan-0.txt", "scan-12.html"] {
            assert!(may_be_result_of(name.as_bytes(), b"scan"), "{name}");
        }
        for name in [
            "scan",
            "scan.",
            "scan-.pdf",
            "scanner.pdf",
            "scan.pdf.bak",
            "scan-x.pdf",
            "a.pdf",
            "scan~2.pdf",
        ] {
            assert!(!may_be_result_of(name.as_bytes(), b"scan"), "{name}");
        }
    }
}
