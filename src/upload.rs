//! A document's POST body sent as a stream: `{"image":"`, the document's base64 encoded while
//! it is sent, then the rest of the body. Its exact length is known before the first byte, so it
//! goes out with a `Content-Length` (no chunked encoding), and memory use does not grow with
//! the document.
//!
//! A file is read from its start for every attempt. A file whose size changes while it is sent
//! fails the upload before its last bytes leave: the body is broken off, never sent short or
//! with other bytes than its length says.

use crate::call::Call;
use crate::error::{Code, Error, Result};
use crate::faults::{Step, file_step};
use crate::platform::files::read_at;
use base64_simd::{AsOut, STANDARD};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// What the body starts with.
const PREFIX: &[u8] = b"{\"image\":\"";
/// The most document bytes read from a file at once (whole base64 groups).
const FILE_PIECE: usize = 3 << 16;

/// Where the document is.
#[derive(Debug)]
enum Source<'a> {
    Bytes(&'a [u8]),
    /// An open regular file.
    File {
        file: File,
        path: PathBuf,
    },
}

/// A body to stream: the prefix, the document's base64 and `suffix` (the closing quote, the
/// settings, the closing brace).
#[derive(Debug)]
pub struct Upload<'a> {
    source: Source<'a>,
    suffix: String,
}

impl<'a> Upload<'a> {
    /// The body of `bytes` followed by `suffix`.
    pub fn of_bytes(bytes: &'a [u8], suffix: String) -> Upload<'a> {
        Upload {
            source: Source::Bytes(bytes),
            suffix,
        }
    }

    /// The body of the regular file `file` (opened from `path`) followed by `suffix`.
    pub fn of_file(file: File, path: &Path, suffix: String) -> Upload<'a> {
        Upload {
            source: Source::File {
                file,
                path: path.to_path_buf(),
            },
            suffix,
        }
    }

    /// A reader of the whole body from its first byte, for one attempt. A file's size is taken
    /// now: the body's length is that of this attempt.
    pub fn reader<'r>(&'r self, call: &'r Call<'r>) -> Result<UploadReader<'r>> {
        let size = match &self.source {
            Source::Bytes(bytes) => bytes.len() as u64,
            Source::File { file, path } => file.metadata().map_err(|e| unreadable(path, e))?.len(),
        };
        let length = size
            .checked_add(2)
            .map(|n| n / 3)
            .and_then(|groups| groups.checked_mul(4))
            .and_then(|encoded| encoded.checked_add((PREFIX.len() + self.suffix.len()) as u64))
            .ok_or_else(|| {
                Error::new(
                    Code::TooLarge,
                    format!("the document ({size} bytes) is too large to send"),
                )
            })?;
        Ok(UploadReader {
            upload: self,
            call,
            size,
            length,
            sent: 0,
            consumed: 0,
            piece: Vec::new(),
            carry: [0; 4],
            carried: 0..0,
            ended: false,
            failure: None,
        })
    }
}

/// One attempt's body, read as the request is written.
pub struct UploadReader<'r> {
    upload: &'r Upload<'r>,
    call: &'r Call<'r>,
    /// The document's size when the attempt started.
    size: u64,
    /// The body's length.
    length: u64,
    /// Body bytes handed out so far.
    sent: u64,
    /// Document bytes encoded so far.
    consumed: u64,
    /// A file's bytes as read.
    piece: Vec<u8>,
    /// The base64 of one group that did not fit into a caller's small buffer.
    carry: [u8; 4],
    carried: std::ops::Range<usize>,
    /// Whether the file was seen to end where it did when the attempt started: checked before
    /// the body's closing bytes are handed out.
    ended: bool,
    /// Why reading failed, as the library's error (the I/O error handed to the HTTP client
    /// only carries its message).
    failure: Option<Error>,
}

impl UploadReader<'_> {
    /// The body's exact length, for `Content-Length`.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Why the body could not be read, if it could not.
    pub fn take_failure(&mut self) -> Option<Error> {
        self.failure.take()
    }

    /// Fills `buf` from the body; 0 at its end.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut filled = 0;
        if !self.carried.is_empty() {
            filled = copy(&self.carry[self.carried.clone()], buf);
            self.carried.start += filled;
        }
        let prefix_end = PREFIX.len() as u64;
        if self.sent + (filled as u64) < prefix_end {
            let at = (self.sent as usize) + filled;
            filled += copy(&PREFIX[at..], &mut buf[filled..]);
        }
        if self.consumed < self.size && self.carried.is_empty() {
            filled += self.encode(&mut buf[filled..])?;
        }
        let suffix_start = self.length - self.upload.suffix.len() as u64;
        let at = self.sent + filled as u64;
        if self.consumed == self.size && self.carried.is_empty() && at >= suffix_start {
            if !self.ended {
                if let Source::File { file, path } = &self.upload.source {
                    check_ends(file, path, self.size)?;
                }
                self.ended = true;
            }
            let from = (at - suffix_start) as usize;
            filled += copy(&self.upload.suffix.as_bytes()[from..], &mut buf[filled..]);
        }
        self.sent += filled as u64;
        Ok(filled)
    }

    /// Encodes as much of the document as fits into `buf` (whole groups; the last group
    /// padded), checking the call's deadline and cancel first.
    fn encode(&mut self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.call.check()?;
        let left = self.size - self.consumed;
        let fits = (buf.len() / 4 * 3).max(3);
        let take = left.min(fits as u64) as usize;
        let take = match &self.upload.source {
            Source::Bytes(_) => take,
            Source::File { .. } => take.min(FILE_PIECE),
        };
        let at = self.consumed;
        let raw: &[u8] = match &self.upload.source {
            Source::Bytes(bytes) => &bytes[at as usize..at as usize + take],
            Source::File { file, path } => {
                self.piece.resize(take, 0);
                read_exactly(file, path, &mut self.piece, at, self.size)?;
                &self.piece
            }
        };
        self.consumed += take as u64;
        let encoded = take.div_ceil(3) * 4;
        if encoded <= buf.len() {
            return Ok(STANDARD.encode(raw, buf[..encoded].as_out()).len());
        }
        let group = STANDARD.encode(raw, self.carry[..].as_out());
        let copied = copy(group, buf);
        self.carried = copied..4;
        Ok(copied)
    }
}

impl io::Read for UploadReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.fill(buf).map_err(|error| {
            let message = error.message().to_string();
            self.failure = Some(error);
            io::Error::other(message)
        })
    }
}

/// Copies what fits of `from` into `to`; answers how much.
fn copy(from: &[u8], to: &mut [u8]) -> usize {
    let n = from.len().min(to.len());
    to[..n].copy_from_slice(&from[..n]);
    n
}

/// Reads `buf.len()` bytes of the file at `offset`; a file that ends before is one that shrank
/// since it measured `size` bytes.
fn read_exactly(file: &File, path: &Path, buf: &mut [u8], offset: u64, size: u64) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let at = offset + filled as u64;
        match file_step(Step::FileRead).and_then(|()| read_at(file, &mut buf[filled..], at)) {
            Ok(0) => {
                return Err(changed(
                    path,
                    format!("it shrank from {size} to {at} bytes while it was sent"),
                ));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(unreadable(path, e)),
        }
    }
    Ok(())
}

/// Checks that the file ends at `size`, before the body's last bytes are handed out.
fn check_ends(file: &File, path: &Path, size: u64) -> Result<()> {
    let mut byte = [0u8];
    loop {
        match file_step(Step::FileRead).and_then(|()| read_at(file, &mut byte, size)) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                return Err(changed(
                    path,
                    format!("it grew beyond its {size} bytes while it was sent"),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(unreadable(path, e)),
        }
    }
}

fn changed(path: &Path, how: String) -> Error {
    Error::new(
        Code::Io,
        format!(
            "cannot send {}: {how}, so the upload was broken off before its end",
            path.display()
        ),
    )
}

/// The failure to read a document's file.
pub fn unreadable(path: &Path, error: io::Error) -> Error {
    Error::new(Code::Io, format!("cannot read {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn streamed(upload: &Upload, chunk: usize) -> Vec<u8> {
        let call = Call::default();
        let mut reader = upload.reader(&call).unwrap();
        let mut body = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        assert_eq!(body.len() as u64, reader.length());
        body
    }

    #[test]
    fn streams_the_same_body_through_buffers_of_any_size() {
        for len in [0usize, 1, 2, 3, 4, 5, 100, 1000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let expected = format!(
                "{{\"image\":\"{}\",\"settings\":{{}}}}",
                STANDARD.encode_to_string(&data)
            );
            let upload = Upload::of_bytes(&data, "\",\"settings\":{}}".to_string());
            for chunk in [1, 2, 3, 4, 5, 7, 64, 4096] {
                assert_eq!(
                    streamed(&upload, chunk),
                    expected.as_bytes(),
                    "{len}/{chunk}"
                );
            }
        }
    }
}
