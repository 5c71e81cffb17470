//! Writing files so that they appear whole or not at all, and nothing of the user's is lost.
//!
//! - Data is written to a temporary file beside its target and renamed into place. Temporary
//!   names are `.ocrcloud-<pid>-<run>-<n>-<name>.tmp` (`.old` for the copy kept while several
//!   files replace old ones); the first call of a process into a folder removes those that a
//!   process that no longer runs left behind (a crash).
//! - A replaced file keeps its permission bits.
//! - Saving onto a FIFO or a device writes through it (Unix: Windows has none among its paths);
//!   saving onto a symbolic link replaces the file that the link points to and keeps the link.
//! - On Windows a file that another program holds open cannot be replaced: `Io`, and the old file
//!   stays as it was (docs/windows.md).
//! - The results of one answer appear together: if one of them cannot be put in place, those
//!   already placed are taken back and the files they replaced restored.

use crate::error::{Code, Error, Result};
use crate::faults::{self, Step};
use crate::platform::files::{is_special, open_through, without_sigpipe};
use crate::platform::paths::canonicalize;
use crate::platform::process::{self, Identity};
use crate::wire::{Answer, ResultFile, Sink, TaskStatus};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// What every temporary name starts with.
const PREFIX: &str = ".ocrcloud-";
/// Symbolic links followed at most when saving onto a link (as the kernel's own limit).
const MOST_LINKS: usize = 40;

/// This process, read once per fork generation: a child of `fork` must not write under its
/// parent's start time.
fn this() -> Option<Identity> {
    static THIS: Mutex<Option<(u64, Option<Identity>)>> = Mutex::new(None);
    let generation = process::fork_generation();
    let mut this = THIS.lock().unwrap_or_else(|e| e.into_inner());
    match *this {
        Some((known, process)) if known == generation => process,
        _ => {
            let process = process::identity_of(std::process::id());
            *this = Some((generation, process));
            process
        }
    }
}

/// How old a temporary file of a process this one cannot see must be before it counts as left
/// behind: results are kept 24 hours, so nothing older can still be on its way.
const UNSEEN_PROCESS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A file being written beside its final place under a hidden temporary name. It becomes
/// visible only through [`TempFile::persist`]; dropped before that, it is removed.
pub struct TempFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl TempFile {
    /// Creates a temporary file for `name` in `dir`.
    pub fn create_in(dir: &Path, name: &str) -> Result<TempFile> {
        let dir = folder(dir);
        remove_leftovers(dir);
        loop {
            let path = temp_path(dir, name, "tmp");
            let created = faults::file_step(Step::FileCreate)
                .and_then(|()| OpenOptions::new().write(true).create_new(true).open(&path));
            match created {
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
        Faulty(&mut self.file)
            .write_all(data)
            .map_err(|e| io_error(format!("cannot write {}", self.path.display()), e))
    }

    /// The file's temporary path (it holds the whole file once written).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Links the file to `target` if nothing is there (no file, link or folder), keeping its
    /// temporary name; `Err` of kind `AlreadyExists` when something is. The exclusive claim of
    /// a name that another process may want at the same moment: one of them gets it, whole.
    pub fn link_new(&self, target: &Path) -> std::io::Result<()> {
        faults::file_step(Step::Rename).and_then(|()| link_new(&self.path, target))
    }

    /// Drops the temporary name of a file that [`TempFile::link_new`] put in place.
    pub fn linked(mut self) {
        self.persisted = true;
        let _ = std::fs::remove_file(&self.path);
    }

    /// Renames the file to `target`, replacing any file there and keeping that file's
    /// permission bits. The rename makes the whole file appear at once; the data is not forced
    /// to the disk (no fsync).
    pub fn persist(mut self, target: &Path) -> Result<()> {
        if let Ok(old) = std::fs::metadata(target)
            && old.is_file()
        {
            self.file
                .set_permissions(old.permissions())
                .map_err(|e| io_error(format!("cannot write {}", self.path.display()), e))?;
        }
        rename(&self.path, target)?;
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

/// `.ocrcloud-<pid>-<start>-<namespace>-<n>-<name>.<ext>` in `dir` (see [`Identity`]), with at
/// most 64 bytes of `name` so that the temporary name stays within the file system's limit (255
/// bytes) however long `name` is.
fn temp_path(dir: &Path, name: &str, ext: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut end = name.len().min(64);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let (started, namespace) = this().map_or((0, 0), |p| (p.started, p.namespace));
    dir.join(format!(
        "{PREFIX}{}-{started}-{namespace}-{n}-{}.{ext}",
        std::process::id(),
        &name[..end]
    ))
}

/// Removes, once per folder and process, the temporary files of processes that no longer run.
pub(crate) fn remove_leftovers(dir: &Path) {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    /// Hashes of the folders cleaned so far (a plain list: a process writes into few folders).
    static CLEANED: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let folder = canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let key = BuildHasherDefault::<DefaultHasher>::default().hash_one(&folder);
    {
        let mut cleaned = CLEANED.lock().unwrap_or_else(|e| e.into_inner());
        if cleaned.contains(&key) {
            return;
        }
        cleaned.push(key);
    }
    sweep_leftovers(dir);
}

/// Removes the temporary files of processes that no longer run from `dir`, every time it is
/// called (a shared batch's worker that takes over a dead worker's input sweeps its folder
/// again: that worker may have died after this process first cleaned the folder).
pub(crate) fn sweep_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        // The entry's own metadata: a link named like a leftover folder is not followed.
        if let Some(name) = name.to_str()
            && let Ok(meta) = entry.metadata()
            && meta.is_dir() == name.ends_with(".dir")
            && is_leftover(
                name,
                meta.modified().unwrap_or(std::time::SystemTime::now()),
            )
        {
            let _ = if meta.is_dir() {
                std::fs::remove_dir_all(entry.path())
            } else {
                std::fs::remove_file(entry.path())
            };
        }
    }
}

/// A new folder for `name` in the temporary folder, that no other process or call uses and
/// only this user may enter; the caller removes it. Named as temporary files are, so that the
/// folders of processes that died before removing theirs (kill -9, a crash) are removed by
/// the next call, as their files are.
pub(crate) fn private_temp_folder(name: &str) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir();
    remove_leftovers(&dir);
    loop {
        let folder = temp_path(&dir, name, "dir");
        match crate::platform::files::create_private_dir(&folder) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            made => return made.map(|()| folder),
        }
    }
}

/// Whether the temporary file (or folder, `.dir`) `name`, last changed at `modified`, was left
/// by a process that no longer runs. A file of a process in another pid namespace (whose
/// liveness this process cannot see) counts only once it is older than
/// [`UNSEEN_PROCESS_PATIENCE`]; a file of this very process (another copy of the library, say)
/// never does.
fn is_leftover(name: &str, modified: std::time::SystemTime) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    if !(rest.ends_with(".tmp") || rest.ends_with(".old") || rest.ends_with(".dir")) {
        return false;
    }
    let mut parts = rest.splitn(4, '-');
    let (Some(Ok(pid)), Some(Ok(started)), Some(Ok(namespace))) = (
        parts.next().map(str::parse::<u32>),
        parts.next().map(str::parse::<u64>),
        parts.next().map(str::parse::<u64>),
    ) else {
        return false;
    };
    let Some(this) = this() else {
        return false;
    };
    if namespace != this.namespace {
        return modified
            .elapsed()
            .is_ok_and(|age| age > UNSEEN_PROCESS_PATIENCE);
    }
    !process::is_running(Identity {
        pid,
        started,
        namespace,
    })
}

/// Makes `to` name the file at `from` if nothing is at `to`, atomically (`AlreadyExists` if
/// something is): a hard link (POSIX `link`, `CreateHardLinkW` on Windows), or, on a file system
/// without hard links, an exclusive create of `to` and a rename over it (`from` then is gone).
fn link_new(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::io::ErrorKind;
    match std::fs::hard_link(from, to) {
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::PermissionDenied | ErrorKind::Unsupported
            ) =>
        {
            create_new_then_rename(from, to)
        }
        linked => linked,
    }
}

/// [`link_new`] without hard links (FAT, some network shares): `to` is taken by an exclusive
/// create, then `from` is renamed over it. `to` is empty in between.
fn create_new_then_rename(from: &Path, to: &Path) -> std::io::Result<()> {
    OpenOptions::new().write(true).create_new(true).open(to)?;
    std::fs::rename(from, to)
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    faults::file_step(Step::Rename)
        .and_then(|()| std::fs::rename(from, to))
        .map_err(|e| io_error(format!("cannot create {}", to.display()), e))
}

/// Where saving to `path` writes.
enum Target {
    /// A FIFO, a device or a socket: written through, never replaced.
    Through(PathBuf),
    /// A regular file (existing or not) to replace atomically; links are followed to it.
    File(PathBuf),
}

/// Decides where saving to `path` writes.
fn target_of(path: &Path) -> Result<Target> {
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.is_dir() {
            return Err(Error::new(
                Code::Io,
                format!("cannot write {}: it is a folder", path.display()),
            ));
        }
        if is_special(&meta) {
            return Ok(Target::Through(path.to_path_buf()));
        }
    }
    let mut file = path.to_path_buf();
    for _ in 0..MOST_LINKS {
        match std::fs::symlink_metadata(&file) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&file)
                    .map_err(|e| io_error(format!("cannot read the link {}", file.display()), e))?;
                file = parent_of(&file).join(link);
            }
            _ => return Ok(Target::File(file)),
        }
    }
    Err(Error::new(
        Code::Io,
        format!(
            "cannot write {}: more than {MOST_LINKS} symbolic links",
            path.display()
        ),
    ))
}

/// Writes what `fill` writes to `path` so that a failure never leaves a partial file and an
/// existing file is replaced whole (through a temporary file in the same folder and a rename);
/// onto a FIFO or device it writes through, and onto a symbolic link it replaces the file the
/// link points to. `fill`'s errors are reported as failures to write `path`.
fn save_with(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let failed = |e| io_error(format!("cannot write {}", path.display()), e);
    match target_of(path)? {
        Target::Through(device) => {
            let mut out = Faulty(open_through(&device)?);
            without_sigpipe(|| fill(&mut out).and_then(|()| out.flush())).map_err(failed)
        }
        Target::File(file) => {
            let mut temp = TempFile::create_in(parent_of(&file), &file_name_of(&file)?)?;
            let mut out = Faulty(&mut temp.file);
            fill(&mut out).and_then(|()| out.flush()).map_err(failed)?;
            temp.persist(&file)
        }
    }
}

/// A writer whose every write is a [`Step::FileWrite`].
struct Faulty<W>(W);

impl<W: Write> Write for Faulty<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        faults::file_step(Step::FileWrite)?;
        self.0.write(data)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Writes `data` to `path` atomically; see `save_with` for FIFOs, devices and links.
pub fn save_atomically(path: &Path, data: &[u8]) -> Result<()> {
    save_with(path, |out| out.write_all(data))
}

/// Copies the file at `source` to `path`, like [`save_atomically`], without reading it whole
/// into memory.
pub fn copy_atomically(source: &Path, path: &Path) -> Result<()> {
    let mut from = faults::file_step(Step::FileRead)
        .and_then(|()| File::open(source))
        .map_err(|e| io_error(format!("cannot read {}", source.display()), e))?;
    save_with(path, |out| std::io::copy(&mut from, out).map(drop))
}

/// Receives result data while an answer is read: each result goes to a temporary file in a
/// folder, named by [`persist_results`] once the whole answer has been read and checked.
pub struct FileSink<'a> {
    dir: &'a Path,
    current: Option<Writer>,
    pending: Vec<u8>,
}
/// Decoded bytes are handed to the writer in pieces of about this size.
const WRITE_PIECE: usize = 1 << 20;
/// Pieces that may wait for the writer; with the one being written and the one being filled,
/// a sink holds at most this many plus two pieces of memory.
const PIECES_IN_FLIGHT: usize = 2;

/// Writes one temporary file on a thread of its own, so that writing overlaps reading and
/// decoding. Pieces go over a bounded channel and come back empty for reuse.
struct Writer {
    pieces: Option<SyncSender<Vec<u8>>>,
    emptied: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<Result<TempFile>>>,
}

impl Writer {
    fn start(mut file: TempFile) -> Writer {
        let (pieces, incoming) = sync_channel::<Vec<u8>>(PIECES_IN_FLIGHT);
        let (give_back, emptied) = sync_channel(PIECES_IN_FLIGHT + 2);
        let thread = std::thread::spawn(move || {
            crate::panics::library_thread();
            for mut piece in incoming {
                file.write(&piece)?;
                piece.clear();
                let _ = give_back.try_send(piece);
            }
            Ok(file)
        });
        Writer {
            pieces: Some(pieces),
            emptied,
            thread: Some(thread),
        }
    }

    /// Queues `piece` and answers an empty buffer to fill next.
    fn write(&mut self, piece: Vec<u8>) -> Result<Vec<u8>> {
        let sent = self.pieces.as_ref().map(|pieces| pieces.send(piece));
        if !matches!(sent, Some(Ok(()))) {
            // The thread stopped early: its error explains why.
            return Err(self
                .finish()
                .err()
                .unwrap_or_else(|| Error::new(Code::Internal, "the result writer stopped")));
        }
        Ok(self
            .emptied
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(WRITE_PIECE * 2)))
    }

    /// Waits until everything queued is written and answers the file.
    fn finish(&mut self) -> Result<TempFile> {
        self.pieces = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::new(Code::Internal, "the result writer panicked")),
            None => Err(Error::new(
                Code::Internal,
                "the result writer already finished",
            )),
        }
    }
}

impl Drop for Writer {
    /// Lets the thread end (removing its unfinished file) before the call returns.
    fn drop(&mut self) {
        self.pieces = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl<'a> FileSink<'a> {
    /// A sink that writes into the folder `dir`, which must exist.
    pub fn new(dir: &'a Path) -> Result<FileSink<'a>> {
        if !dir.is_dir() {
            return Err(Error::new(
                Code::Io,
                format!(
                    "cannot write results into {}: not an existing folder",
                    dir.display()
                ),
            ));
        }
        Ok(FileSink {
            dir,
            current: None,
            pending: Vec::new(),
        })
    }

    fn writer(&mut self) -> Result<&mut Writer> {
        self.current
            .as_mut()
            .ok_or_else(|| Error::new(Code::Internal, "result data before its start"))
    }
}

impl Sink for FileSink<'_> {
    type Data = TempFile;

    fn start(&mut self, _size_hint: usize) -> Result<()> {
        self.pending.clear();
        self.current = Some(Writer::start(TempFile::create_in(
            self.dir,
            "ocrcloud-result",
        )?));
        Ok(())
    }

    fn reserve(&mut self, additional: usize) -> Result<&mut Vec<u8>> {
        self.pending.reserve(additional);
        Ok(&mut self.pending)
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.len() >= WRITE_PIECE {
            let piece = std::mem::take(&mut self.pending);
            self.pending = self.writer()?.write(piece)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<TempFile> {
        let piece = std::mem::take(&mut self.pending);
        let writer = self.writer()?;
        writer.write(piece)?;
        let file = writer.finish();
        self.current = None;
        file
    }

    fn empty(&mut self) -> Result<TempFile> {
        TempFile::create_in(self.dir, "ocrcloud-result")
    }
}

/// The file name of result `index` of task `task_id`: `<id>.<ext>`, with the extension taken
/// from the result's type (`Text` -> `txt`, `Pdf` -> `pdf`, `Hocr` -> `html`, ...; `bin` if
/// unknown) and `<id>-<index>.<ext>` when several results share an extension. Characters of
/// the id other than letters, digits, `.`, `_` and `-` become `_`.
pub fn result_file_name(task_id: &str, kinds: &[&str], index: usize) -> String {
    let mut base: String = task_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if base.is_empty() || base.starts_with('.') {
        base.insert(0, '_');
    }
    let ext = extension(kinds[index]);
    if kinds.iter().filter(|kind| extension(kind) == ext).count() > 1 {
        format!("{base}-{index}.{ext}")
    } else {
        format!("{base}.{ext}")
    }
}

/// The usual file extension for a result type.
pub fn extension(kind: &str) -> &'static str {
    const EXTENSIONS: [(&str, &str); 9] = [
        ("Text", "txt"),
        ("Pdf", "pdf"),
        ("Hocr", "html"),
        ("Json", "json"),
        ("Csv", "csv"),
        ("Excel", "xlsx"),
        ("ImagePNG", "png"),
        ("WavFile", "wav"),
        ("Wav", "wav"),
    ];
    EXTENSIONS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(kind))
        .map_or("bin", |(_, ext)| ext)
}

/// Gives the temporary files of a fully read answer their names in `dir`, after the id the
/// caller asked for (see [`result_file_name`]), all together: if one cannot be put in place,
/// none stays, and the files they would have replaced are as they were. An answer of a task
/// that is not Completed writes nothing.
pub fn persist_results(
    answer: Answer<TempFile>,
    task_id: &str,
    dir: &Path,
) -> Result<Answer<PathBuf>> {
    persist_results_named(answer, |kinds| {
        Ok((0..kinds.len())
            .map(|index| dir.join(result_file_name(task_id, kinds, index)))
            .collect())
    })
}

/// Like [`persist_results`], with the paths that `paths` answers for the results' types (one
/// path per type, in order); when it fails, nothing is written.
pub fn persist_results_named(
    answer: Answer<TempFile>,
    paths: impl FnOnce(&[&str]) -> Result<Vec<PathBuf>>,
) -> Result<Answer<PathBuf>> {
    let completed = answer.status() == TaskStatus::Completed;
    let results = if completed {
        answer.results
    } else {
        Vec::new()
    };
    let kinds: Vec<&str> = results.iter().map(|r| r.kind.as_str()).collect();
    let paths = paths(&kinds)?;
    if paths.len() != kinds.len() {
        return Err(Error::new(
            Code::Internal,
            format!("{} paths for {} results", paths.len(), kinds.len()),
        ));
    }
    let kinds: Vec<String> = results.iter().map(|r| r.kind.clone()).collect();
    put_in_place(results.into_iter().map(|r| r.data).zip(&paths).collect())?;
    Ok(Answer {
        id: answer.id,
        task_status: answer.task_status,
        response_status: answer.response_status,
        results: kinds
            .into_iter()
            .zip(paths)
            .map(|(kind, data)| ResultFile { kind, data })
            .collect(),
        messages: answer.messages,
        warnings: answer.warnings,
    })
}

/// Renames each temporary file to its target, all or none: the file each one replaces is first
/// linked to an `.old` name, and if a later rename fails, the placed ones are taken back and
/// the old files restored. The `.old` links are removed at the end.
pub(crate) fn put_in_place(files: Vec<(TempFile, &PathBuf)>) -> Result<()> {
    let mut placed: Vec<(&PathBuf, Option<PathBuf>)> = Vec::with_capacity(files.len());
    let mut outcome = Ok(());
    for (file, target) in files {
        let kept = match keep_old(target) {
            Ok(kept) => kept,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        };
        match file.persist(target) {
            Ok(()) => placed.push((target, kept)),
            Err(e) => {
                if let Some(old) = kept {
                    let _ = std::fs::remove_file(old);
                }
                outcome = Err(e);
                break;
            }
        }
    }
    for (target, kept) in placed {
        match (&outcome, kept) {
            (Ok(()), Some(old)) => {
                let _ = std::fs::remove_file(old);
            }
            (Ok(()), None) => {}
            (Err(_), Some(old)) => {
                let _ = std::fs::rename(old, target);
            }
            (Err(_), None) => {
                let _ = std::fs::remove_file(target);
            }
        }
    }
    outcome
}

/// Links whatever is at `target` (a file, or a symbolic link itself, never followed) to a
/// temporary `.old` name, to restore it if the files of its answer cannot all be placed;
/// `None` when there is nothing to keep. A folder there makes the rename fail anyway.
fn keep_old(target: &Path) -> Result<Option<PathBuf>> {
    match std::fs::symlink_metadata(target) {
        Ok(meta) if !meta.is_dir() => {}
        _ => return Ok(None),
    }
    let old = temp_path(parent_of(target), &file_name_of(target)?, "old");
    faults::file_step(Step::Rename)
        .and_then(|()| std::fs::hard_link(target, &old))
        .map_err(|e| io_error(format!("cannot replace {}", target.display()), e))?;
    Ok(Some(old))
}

/// `dir`, or `.` for the empty path.
fn folder(dir: &Path) -> &Path {
    if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }
}

fn parent_of(path: &Path) -> &Path {
    folder(path.parent().unwrap_or(Path::new(".")))
}

fn file_name_of(path: &Path) -> Result<String> {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| {
            Error::new(
                Code::Io,
                format!("cannot write {}: not a file name", path.display()),
            )
        })
}

fn io_error(what: String, error: std::io::Error) -> Error {
    Error::new(Code::Io, format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_name_is_taken_once_with_or_without_hard_links() {
        let dir = scratch_dir("link-new");
        let ways: [fn(&Path, &Path) -> std::io::Result<()>; 2] = [link_new, create_new_then_rename];
        for (n, take) in ways.into_iter().enumerate() {
            let (from, to) = (dir.join(format!("from-{n}")), dir.join(format!("to-{n}")));
            std::fs::write(&from, b"result").unwrap();
            std::fs::write(&to, b"another's").unwrap();
            let taken = take(&from, &to).unwrap_err();
            assert_eq!(taken.kind(), std::io::ErrorKind::AlreadyExists);
            assert_eq!(std::fs::read(&to).unwrap(), b"another's");
            std::fs::remove_file(&to).unwrap();
            std::os::unix::fs::symlink("nowhere", &to).unwrap();
            assert!(
                take(&from, &to).is_err(),
                "a dangling link is something there"
            );
            std::fs::remove_file(&to).unwrap();
            take(&from, &to).unwrap();
            assert_eq!(std::fs::read(&to).unwrap(), b"result");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

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
    fn names_result_files_by_id_and_type() {
        let kinds = ["Text", "Pdf", "Hocr", "weird"];
        let names: Vec<String> = (0..4).map(|i| result_file_name("t-1", &kinds, i)).collect();
        assert_eq!(names, ["t-1.txt", "t-1.pdf", "t-1.html", "t-1.bin"]);
        let kinds = ["Csv", "Excel", "csv"];
        let names: Vec<String> = (0..3).map(|i| result_file_name("t", &kinds, i)).collect();
        assert_eq!(names, ["t-0.csv", "t.xlsx", "t-2.csv"]);
        assert_eq!(result_file_name("../a b/c", &["JSON"], 0), "_.._a_b_c.json");
        assert_eq!(result_file_name("", &["WavFile"], 0), "_.wav");
    }

    #[test]
    fn saves_names_of_the_longest_allowed_length() {
        // The temporary name once added 20 bytes to the final one, so that names longer than
        // 235 bytes could not be saved although the file system allows 255.
        let dir = scratch_dir("long");
        let name = format!("{}é{}.pdf", "n".repeat(63), "n".repeat(186));
        save_atomically(&dir.join(&name), b"x").unwrap();
        assert_eq!(entries(&dir), [name]);
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
