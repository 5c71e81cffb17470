//! Naming a batch's results and putting them in place: all of an input's files appear together
//! or not at all, and never over a file that the batch did not write.

use super::inputs::sha256_hex;
use super::journal::Journal;
use crate::error::{Code, Error, Result};
use crate::files::{TempFile, extension, put_in_place};
use std::path::{Path, PathBuf};

/// The longest file name (one path component) that Linux file systems take, in bytes.
const NAME_MAX: usize = 255;

/// The output names (relative to the output folder) for results of these `kinds` of an input
/// with `stem`: `<stem>.<ext>`, `<stem>-<index>.<ext>` where several results share an
/// extension, and with `~<n>` after the stem for the `n`th choice (`n` > 1). A name longer than
/// a file system takes keeps its end and the start of the stem, with `~` and 8 hex digits of
/// the stem's SHA-256 between.
pub fn names(stem: &Path, kinds: &[&str], n: u32) -> Vec<PathBuf> {
    let choice = if n > 1 {
        format!("~{n}")
    } else {
        String::new()
    };
    kinds
        .iter()
        .enumerate()
        .map(|(index, kind)| {
            let ext = extension(kind);
            let shared = kinds.iter().filter(|k| extension(k) == ext).count() > 1;
            let index = if shared {
                format!("-{index}")
            } else {
                String::new()
            };
            fitted(stem, &format!("{choice}{index}.{ext}"))
        })
        .collect()
}

/// `stem` with `tail` appended to its last component, shortened to [`NAME_MAX`] bytes.
fn fitted(stem: &Path, tail: &str) -> PathBuf {
    let name = stem
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = stem.parent().unwrap_or(Path::new(""));
    if name.len() + tail.len() <= NAME_MAX {
        return parent.join(format!("{name}{tail}"));
    }
    let hash = sha256_hex(stem.as_os_str().as_encoded_bytes());
    let mut keep = NAME_MAX.saturating_sub(tail.len() + 9).min(name.len());
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    parent.join(format!("{}~{}{tail}", &name[..keep], &hash[..8]))
}

/// The first choice of names that input `id` may use: each name is either recorded as this
/// input's in the journal, or held by no input (nor `taken`, claimed by another input but not
/// yet recorded) and free on disk (no file, link or folder).
pub fn choose(
    journal: &Journal,
    output_dir: &Path,
    id: i64,
    stem: &Path,
    kinds: &[&str],
    taken: &dyn Fn(&Path) -> bool,
) -> Result<Vec<PathBuf>> {
    for n in 1..=1000 {
        let candidates = names(stem, kinds, n);
        let mut free = true;
        for name in &candidates {
            let relative = relative_text(name)?;
            if taken(name) {
                free = false;
                break;
            }
            match journal.output_owner(&relative)? {
                Some(owner) if owner == id => {}
                Some(_) => free = false,
                None => free = std::fs::symlink_metadata(output_dir.join(name)).is_err(),
            }
            if !free {
                break;
            }
        }
        if free {
            return Ok(candidates);
        }
    }
    Err(Error::new(
        Code::Io,
        format!(
            "no free output name for {} in {}",
            stem.display(),
            output_dir.display()
        ),
    ))
}

/// The text of a relative output path, as the journal records it.
pub fn relative_text(name: &Path) -> Result<String> {
    name.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::new(Code::Io, format!("{}: not UTF-8", name.display())))
}

/// Renames the temporary result files to `names` in `output_dir`, all or none.
pub fn place(files: Vec<TempFile>, output_dir: &Path, names: &[PathBuf]) -> Result<()> {
    let targets: Vec<PathBuf> = names.iter().map(|n| output_dir.join(n)).collect();
    put_in_place(files.into_iter().zip(&targets).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_stem_and_the_result_types() {
        let stem = Path::new("a/b");
        assert_eq!(
            names(stem, &["Text", "Pdf"], 1),
            [PathBuf::from("a/b.txt"), "a/b.pdf".into()]
        );
        assert_eq!(
            names(stem, &["Csv", "csv"], 1),
            [PathBuf::from("a/b-0.csv"), "a/b-1.csv".into()]
        );
        assert_eq!(names(stem, &["Text"], 3), [PathBuf::from("a/b~3.txt")]);
        assert_eq!(
            names(Path::new("a/b.png"), &["Text"], 1),
            [PathBuf::from("a/b.png.txt")]
        );
    }
}
