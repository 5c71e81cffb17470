//! Writing files so that they appear whole or not at all.

use crate::error::{Code, Error, Result};
use crate::wire::{Answer, ResultFile, Sink};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

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
            let path = dir.join(format!(
                ".{}.{}.{n}.tmp",
                shortened(name),
                std::process::id()
            ));
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

    /// Renames the file to `target`, replacing any file there. The rename makes the whole file
    /// appear at once; the data is not forced to the disk (no fsync).
    pub fn persist(mut self, target: &Path) -> Result<()> {
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

/// At most 64 bytes of `name`, cut at a character boundary: the temporary file's name stays
/// within the file system's limit (255 bytes) however long the final name is.
fn shortened(name: &str) -> &str {
    let mut end = name.len().min(64);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Writes `data` to `path` atomically: through a temporary file in the same folder and a
/// rename, so a failure never leaves a partial file and an existing file is replaced whole.
pub fn save_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let mut file = TempFile::create_in(parent_of(path), &file_name_of(path)?)?;
    file.write(data)?;
    file.persist(path)
}

/// Copies the file at `source` to `path` atomically, like [`save_atomically`].
pub fn copy_atomically(source: &Path, path: &Path) -> Result<()> {
    let mut from =
        File::open(source).map_err(|e| io_error(format!("cannot read {}", source.display()), e))?;
    let mut file = TempFile::create_in(parent_of(path), &file_name_of(path)?)?;
    std::io::copy(&mut from, &mut file.file).map_err(|e| {
        io_error(
            format!("cannot copy {} to {}", source.display(), path.display()),
            e,
        )
    })?;
    file.persist(path)
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

/// Gives the temporary files of a fully read answer their names in `dir` (see
/// [`result_file_name`]), each appearing whole at once.
pub fn persist_results(answer: Answer<TempFile>, dir: &Path) -> Result<Answer<PathBuf>> {
    let task_id = answer.id.clone().unwrap_or_else(|| "result".to_string());
    let kinds: Vec<&str> = answer.results.iter().map(|r| r.kind.as_str()).collect();
    let paths: Vec<PathBuf> = (0..kinds.len())
        .map(|index| dir.join(result_file_name(&task_id, &kinds, index)))
        .collect();
    let mut results = Vec::with_capacity(paths.len());
    for (result, path) in answer.results.into_iter().zip(paths) {
        result.data.persist(&path)?;
        results.push(ResultFile {
            kind: result.kind,
            data: path,
        });
    }
    Ok(Answer {
        id: answer.id,
        task_status: answer.task_status,
        response_status: answer.response_status,
        results,
        messages: answer.messages,
        warnings: answer.warnings,
    })
}

fn parent_of(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
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
