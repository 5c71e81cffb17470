//! Naming a batch's results and putting them in place: all of an input's files appear together
//! or not at all, and never over a file that the batch did not write. The claim of a free name
//! is a step on the file system (an exclusive link), whatever journal recorded the choice, so
//! batches with different journals can share an output folder.

use super::inputs::sha256_hex;
use super::journal::{FileIdentity, Journal};
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

/// What a journal records of the output names: which input holds each, and the identity of
/// the file put in place there. The SQLite journal and the shared one both answer it.
pub trait Records {
    /// The input that holds the output path `relative`, if one does.
    fn output_owner(&self, relative: &str) -> Result<Option<i64>>;
    /// The identity of the file put in place at `relative`, if one was recorded.
    fn placed_file(&self, relative: &str) -> Result<Option<FileIdentity>>;
}

impl Records for Journal {
    fn output_owner(&self, relative: &str) -> Result<Option<i64>> {
        Journal::output_owner(self, relative)
    }
    fn placed_file(&self, relative: &str) -> Result<Option<FileIdentity>> {
        Journal::placed_file(self, relative)
    }
}

/// What a batch knows of the input whose output names it chooses.
pub struct Claimant<'a> {
    /// Its id in the journal.
    pub id: i64,
    /// Its output stem.
    pub stem: &'a Path,
    /// The outputs it completed with last time (its own files, which it may replace).
    pub own: &'a [String],
}

/// The output names chosen for an input's results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    /// Relative to the output folder, one per result.
    pub names: Vec<PathBuf>,
    /// Which names hold this input's own file, to be replaced; the others were free.
    pub replace: Vec<bool>,
}

/// The first choice of names that `input` may use for `files` (of these `kinds`). Each name
/// is held by no other input of the journal (nor `taken`: claimed by another input but not yet
/// recorded), and on disk either free (no file, link or folder) or this input's own: one it
/// completed with, or one it claimed whose file holds the very bytes of its result (a run
/// killed between putting the file in place and recording it). The name is still only chosen:
/// [`place`] claims the free ones on disk, atomically, as another batch may want them too.
pub fn choose(
    journal: &dyn Records,
    output_dir: &Path,
    input: &Claimant,
    files: &[TempFile],
    kinds: &[&str],
    taken: &dyn Fn(&Path) -> bool,
) -> Result<Chosen> {
    'choices: for n in 1..=1000 {
        let candidates = names(input.stem, kinds, n);
        let mut replace = Vec::with_capacity(candidates.len());
        for (name, file) in candidates.iter().zip(files) {
            let relative = relative_text(name)?;
            if taken(name) {
                continue 'choices;
            }
            let owner = journal.output_owner(&relative)?;
            if owner.is_some_and(|owner| owner != input.id) {
                continue 'choices;
            }
            let target = output_dir.join(name);
            let free = std::fs::symlink_metadata(&target).is_err();
            let own = owner == Some(input.id)
                && ((input.own.contains(&relative)
                    && still_placed(journal, output_dir, &relative)?)
                    || same_bytes(&target, file.path()));
            if !free && !own {
                continue 'choices;
            }
            replace.push(!free);
        }
        return Ok(Chosen {
            names: candidates,
            replace,
        });
    }
    Err(Error::new(
        Code::Io,
        format!(
            "no free output name for {} in {}",
            input.stem.display(),
            output_dir.display()
        ),
    ))
}

/// The identity of the regular file at `path`, not following a link.
pub fn identity(path: &Path) -> Option<FileIdentity> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let (device, inode) = crate::platform::files::identity(&meta);
    let modified_ns = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
        });
    meta.is_file().then_some(FileIdentity {
        device,
        inode,
        modified_ns,
    })
}

/// Whether the file at output path `relative` is still the one the batch put there: a regular
/// file, the very one whose identity the journal recorded (a journal of an older version
/// recorded none: any regular file). A name whose file was deleted, then taken by another
/// batch sharing the folder, holds a file of another identity.
pub fn still_placed(journal: &dyn Records, output_dir: &Path, relative: &str) -> Result<bool> {
    let Some(found) = identity(&output_dir.join(relative)) else {
        return Ok(false);
    };
    Ok(journal
        .placed_file(relative)?
        .is_none_or(|recorded| recorded == found))
}

/// Whether the regular files `a` and `b` hold the same bytes.
fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let open = |path: &Path| {
        let file = std::fs::File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        meta.is_file().then_some((file, meta.len()))
    };
    let (Some((a, a_len)), Some((b, b_len))) = (open(a), open(b)) else {
        return false;
    };
    if a_len != b_len {
        return false;
    }
    let (mut a, mut b) = (std::io::BufReader::new(a), std::io::BufReader::new(b));
    let (mut x, mut y) = (vec![0; 64 * 1024], vec![0; 64 * 1024]);
    loop {
        let Ok(n) = a.read(&mut x) else { return false };
        if n == 0 {
            return true;
        }
        if b.read_exact(&mut y[..n]).is_err() || x[..n] != y[..n] {
            return false;
        }
    }
}

/// The text of a relative output path, as the journal records it.
pub fn relative_text(name: &Path) -> Result<String> {
    name.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::new(Code::Io, format!("{}: not UTF-8", name.display())))
}

/// Why [`place`] put nothing in place.
pub enum Unplaced {
    /// Another process (another batch writing into the same folder) took this name after it
    /// was chosen: the files come back, to be placed under other names.
    Taken(Vec<TempFile>),
    Failed(Error),
}

/// Puts the temporary result files in place under the `chosen` names in `output_dir`, all or
/// none. A name that was free is claimed with an exclusive link ([`TempFile::link_new`]), so
/// that two batches never both take it (whatever is there by now); only then are the names
/// that hold this input's own files replaced.
pub fn place(
    files: Vec<TempFile>,
    output_dir: &Path,
    chosen: &Chosen,
) -> std::result::Result<(), Unplaced> {
    let targets: Vec<PathBuf> = chosen.names.iter().map(|n| output_dir.join(n)).collect();
    let mut linked: Vec<&PathBuf> = Vec::new();
    let unlink = |linked: &[&PathBuf]| {
        for target in linked {
            let _ = std::fs::remove_file(target);
        }
    };
    for ((file, target), replace) in files.iter().zip(&targets).zip(&chosen.replace) {
        if *replace {
            continue;
        }
        if let Err(e) = file.link_new(target) {
            unlink(&linked);
            return Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
                Unplaced::Taken(files)
            } else {
                Unplaced::Failed(Error::new(
                    Code::Io,
                    format!("cannot create {}: {e}", target.display()),
                ))
            });
        }
        linked.push(target);
    }
    let mut replaced = Vec::new();
    let mut placed = Vec::new();
    for (file, target) in files.into_iter().zip(&targets) {
        if linked.contains(&target) {
            placed.push(file);
        } else {
            replaced.push((file, target));
        }
    }
    match put_in_place(replaced) {
        Ok(()) => {
            placed.into_iter().for_each(TempFile::linked);
            Ok(())
        }
        Err(error) => {
            unlink(&linked);
            Err(Unplaced::Failed(error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(dir: &Path, bytes: &[u8]) -> TempFile {
        let mut file = TempFile::create_in(dir, "r.txt").unwrap();
        file.write(bytes).unwrap();
        file
    }

    #[test]
    fn a_name_is_its_inputs_only_when_recorded_and_taken_on_disk() {
        let dir = std::env::temp_dir().join(format!("ocrcloud-outputs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut journal = Journal::open(&dir.join("journal.sqlite"), &dir).unwrap();
        let row = super::super::new_row("/in/a.pdf", None, "RecognizePdf", "s");
        let id = journal.write(|w| w.put(&row)).unwrap();
        journal.write(|w| w.claim_output("a.txt", id)).unwrap();
        let none = |_: &Path| false;
        let input = Claimant {
            id,
            stem: Path::new("a"),
            own: &[],
        };
        let choose_for = |bytes: &[u8]| {
            let files = [result(&dir, bytes)];
            let chosen = choose(&journal, &dir, &input, &files, &["Text"], &none).unwrap();
            (chosen.names, chosen.replace)
        };
        // Recorded for it, nothing there: free.
        assert_eq!(
            choose_for(b"x"),
            (vec![PathBuf::from("a.txt")], vec![false])
        );
        // Recorded for it, with its very bytes there (killed after placing it): its own.
        std::fs::write(dir.join("a.txt"), b"x").unwrap();
        assert_eq!(choose_for(b"x"), (vec![PathBuf::from("a.txt")], vec![true]));
        // Other bytes there (another batch's file): the next name.
        assert_eq!(
            choose_for(b"y"),
            (vec![PathBuf::from("a~2.txt")], vec![false])
        );

        // A free name that another process takes before it is placed: the files come back.
        let chosen = Chosen {
            names: vec!["b.txt".into()],
            replace: vec![false],
        };
        std::fs::write(dir.join("b.txt"), b"another's").unwrap();
        let Err(Unplaced::Taken(back)) = place(vec![result(&dir, b"mine")], &dir, &chosen) else {
            panic!("placed over another's file");
        };
        assert_eq!(std::fs::read(dir.join("b.txt")).unwrap(), b"another's");
        std::fs::remove_file(dir.join("b.txt")).unwrap();
        assert!(place(back, &dir, &chosen).is_ok());
        assert_eq!(std::fs::read(dir.join("b.txt")).unwrap(), b"mine");
        drop(journal);
        std::fs::remove_dir_all(dir).unwrap();
    }

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
