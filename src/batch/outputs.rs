//! Naming a batch's results and putting them in place: all of an input's files appear together
//! or not at all, and never over a file that the batch did not write.

use super::journal::Journal;
use crate::error::{Code, Error, Result};
use crate::files::{TempFile, extension, put_in_place};
use std::path::{Path, PathBuf};

/// The output names (relative to the output folder) for results of these `kinds` of an input
/// with `stem`: `<stem>.<ext>`, `<stem>-<index>.<ext>` where several results share an
/// extension, and with `~<n>` after the stem for the `n`th choice (`n` > 1).
pub fn names(stem: &Path, kinds: &[&str], n: u32) -> Vec<PathBuf> {
    let mut base = stem.as_os_str().to_owned();
    if n > 1 {
        base.push(format!("~{n}"));
    }
    kinds
        .iter()
        .enumerate()
        .map(|(index, kind)| {
            let ext = extension(kind);
            let mut name = base.clone();
            if kinds.iter().filter(|k| extension(k) == ext).count() > 1 {
                name.push(format!("-{index}"));
            }
            name.push(format!(".{ext}"));
            PathBuf::from(name)
        })
        .collect()
}

/// The first choice of names that input `id` may use: each name is either recorded as this
/// input's in the journal, or held by no input and free on disk (no file, link or folder).
pub fn choose(
    journal: &Journal,
    output_dir: &Path,
    id: i64,
    stem: &Path,
    kinds: &[&str],
) -> Result<Vec<PathBuf>> {
    for n in 1..=1000 {
        let candidates = names(stem, kinds, n);
        let mut free = true;
        for name in &candidates {
            let relative = relative_text(name)?;
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
