//! The service's JSON, read liberally and as a stream.
//!
//! An OCR answer can carry hundreds of megabytes of base64 inside one JSON string, so it is never
//! buffered whole: [`read_answer`] walks the JSON once, keeps the small fields, and hands each
//! result's `data` string piece by piece to a [`Base64Decoder`] that writes into a [`Sink`]
//! (memory or a file). The walk is a complete JSON validator: malformed or truncated JSON, wrong
//! types, invalid UTF-8, control characters and lone surrogates are refused, and unknown fields of
//! any shape are skipped without recursion. Field order is free; `null` and `[]` are the same;
//! missing optional fields are fine; field names match without regard to case.

use crate::decode::{Base64Decoder, DecodeError};
use crate::error::{Code, Error, Result, protocol};
use serde::Deserialize;
use std::ffi::CStr;

/// How deeply unknown JSON values may nest before the answer is refused.
const MAX_DEPTH: usize = 512;
/// The largest read buffer between the network and the parser; small answers get a buffer of
/// their own size, so that frequent status polls do not clear a large buffer each time.
const BUFFER_BYTES: usize = 256 * 1024;
/// The smallest read buffer.
const MIN_BUFFER_BYTES: usize = 1024;

/// Where the bytes of an answer come from.
pub trait Source {
    /// Reads the next bytes into `buf`; `Ok(0)` at the end of the answer.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;
    /// How many bytes of the answer are still to come, if known.
    fn remaining(&self) -> Option<u64> {
        None
    }
}

impl Source for &[u8] {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = buf.len().min(self.len());
        buf[..n].copy_from_slice(&self[..n]);
        *self = &self[n..];
        Ok(n)
    }

    fn remaining(&self) -> Option<u64> {
        Some(self.len() as u64)
    }
}

/// Where decoded result data goes.
pub trait Sink {
    /// What a finished data string becomes (bytes in memory, a temporary file, ...).
    type Data;
    /// A data string begins; its decoded size is at most `size_hint` bytes when that is non-zero.
    fn start(&mut self, size_hint: usize) -> Result<()>;
    /// A vector with room for `additional` more bytes, to which the decoder appends.
    fn reserve(&mut self, additional: usize) -> Result<&mut Vec<u8>>;
    /// Called after the decoder appended bytes.
    fn flush(&mut self) -> Result<()>;
    /// The data string ended.
    fn finish(&mut self) -> Result<Self::Data>;
    /// A result whose data is `null` or missing.
    fn empty(&mut self) -> Result<Self::Data>;
}

/// Collects each result's bytes in memory.
#[derive(Default)]
pub struct MemorySink {
    current: Vec<u8>,
}

impl Sink for MemorySink {
    type Data = Vec<u8>;

    fn start(&mut self, size_hint: usize) -> Result<()> {
        self.current = Vec::new();
        self.current
            .try_reserve_exact(size_hint)
            .map_err(|_| out_of_memory(size_hint))?;
        crate::platform::memory::ask_for_huge_pages(&mut self.current);
        Ok(())
    }

    fn reserve(&mut self, additional: usize) -> Result<&mut Vec<u8>> {
        self.current
            .try_reserve(additional)
            .map_err(|_| out_of_memory(self.current.len() + additional))?;
        Ok(&mut self.current)
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let mut data = std::mem::take(&mut self.current);
        if data.capacity() - data.len() > data.len() / 16 {
            data.shrink_to_fit();
        }
        Ok(data)
    }

    fn empty(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

/// Checks result data and keeps none of it: for status answers, and for callers that want only
/// the final status.
#[derive(Default)]
pub struct DiscardSink(Vec<u8>);

impl Sink for DiscardSink {
    type Data = ();

    fn start(&mut self, _size_hint: usize) -> Result<()> {
        Ok(())
    }

    fn reserve(&mut self, additional: usize) -> Result<&mut Vec<u8>> {
        self.0.clear();
        self.0.reserve(additional);
        Ok(&mut self.0)
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    fn empty(&mut self) -> Result<()> {
        Ok(())
    }
}

fn out_of_memory(bytes: usize) -> Error {
    Error::new(
        Code::TooLarge,
        format!("cannot allocate {bytes} bytes for a result"),
    )
}

/// One entry of `results`: the kind of file and its decoded data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultFile<D> {
    /// The `type` string as sent (`Text`, `Pdf`, ...); empty if absent.
    pub kind: String,
    /// The decoded data.
    pub data: D,
}

/// Where a task is in the service's queue (`taskStatus`). The values are the C contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum TaskStatus {
    /// A status string this library does not know (the raw string is kept in the answer).
    Unknown = 0,
    /// Queued, not started.
    Pending = 1,
    /// Being worked on.
    Processing = 2,
    /// Finished; the results are ready.
    Completed = 3,
    /// Finished with an error; `error.messages` says why.
    Error = 4,
    /// No such task: a wrong id, a cancelled task, or results older than 24 hours.
    NotExist = 5,
}

impl TaskStatus {
    /// Every status.
    pub const ALL: [TaskStatus; 6] = [
        TaskStatus::Unknown,
        TaskStatus::Pending,
        TaskStatus::Processing,
        TaskStatus::Completed,
        TaskStatus::Error,
        TaskStatus::NotExist,
    ];

    /// The service's spelling of the status (`"Unknown"` for [`TaskStatus::Unknown`]): the one
    /// table of status names.
    pub fn c_name(self) -> &'static CStr {
        match self {
            TaskStatus::Unknown => c"Unknown",
            TaskStatus::Pending => c"Pending",
            TaskStatus::Processing => c"Processing",
            TaskStatus::Completed => c"Completed",
            TaskStatus::Error => c"Error",
            TaskStatus::NotExist => c"NotExist",
        }
    }

    /// [`TaskStatus::c_name`] as `&str`.
    pub fn name(self) -> &'static str {
        self.c_name().to_str().unwrap_or_default()
    }

    /// The status with this numeric value, if there is one.
    pub fn from_i32(value: i32) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|s| *s as i32 == value)
    }

    /// The status named by a `taskStatus` string, compared without regard to case.
    pub fn parse(raw: &str) -> TaskStatus {
        TaskStatus::ALL[1..]
            .iter()
            .copied()
            .find(|status| status.name().eq_ignore_ascii_case(raw))
            .unwrap_or(TaskStatus::Unknown)
    }
}

/// An OCR response (the GET answer) with its results decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<D> {
    /// The task id, if the server sent one.
    pub id: Option<String>,
    /// The raw `taskStatus` string.
    pub task_status: String,
    /// The raw `responseStatusCode` string, if sent.
    pub response_status: Option<String>,
    /// The results in the order sent.
    pub results: Vec<ResultFile<D>>,
    /// `error.messages`.
    pub messages: Vec<String>,
    /// `error.warnings`.
    pub warnings: Vec<String>,
}

impl<D> Answer<D> {
    /// The task status, interpreted.
    pub fn status(&self) -> TaskStatus {
        TaskStatus::parse(&self.task_status)
    }
}

/// Reads a whole OCR response from `source`, decoding result data into `sink`.
pub fn read_answer<S: Source, K: Sink>(source: S, sink: &mut K) -> Result<Answer<K::Data>> {
    let mut json = JsonStream::new(source);
    let answer = json.answer(sink)?;
    json.end()?;
    Ok(answer)
}

/// Reads an OCR response held in memory (tests, fuzzing, small bodies).
pub fn parse_answer(body: &[u8]) -> Result<Answer<Vec<u8>>> {
    read_answer(body, &mut MemorySink::default())
}

/// A pull parser over a [`Source`] with its own read buffer.
struct JsonStream<S> {
    source: S,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// Bytes taken from the source so far.
    taken: u64,
    utf8_pending: Vec<u8>,
    /// The last field name read.
    name: Vec<u8>,
}

impl<S: Source> JsonStream<S> {
    fn new(source: S) -> Self {
        let size = source.remaining().map_or(BUFFER_BYTES, |n| {
            usize::try_from(n).map_or(BUFFER_BYTES, |n| n.clamp(MIN_BUFFER_BYTES, BUFFER_BYTES))
        });
        JsonStream {
            source,
            buf: vec![0; size].into_boxed_slice(),
            pos: 0,
            end: 0,
            taken: 0,
            utf8_pending: Vec::new(),
            name: Vec::new(),
        }
    }

    /// Offset in the answer of the next unread byte.
    fn offset(&self) -> u64 {
        self.taken - (self.end - self.pos) as u64
    }

    fn malformed(&self, what: &str) -> Error {
        protocol(format!(
            "malformed JSON in the answer at byte {}: {what}",
            self.offset()
        ))
    }

    /// Makes sure at least one unread byte is buffered; false at the end of the answer.
    fn fill(&mut self) -> Result<bool> {
        if self.pos < self.end {
            return Ok(true);
        }
        let n = self.source.read(&mut self.buf)?;
        self.taken += n as u64;
        self.pos = 0;
        self.end = n;
        Ok(n > 0)
    }

    fn next_byte(&mut self, context: &str) -> Result<u8> {
        if !self.fill()? {
            return Err(self.truncated(context));
        }
        let byte = self.buf[self.pos];
        self.pos += 1;
        Ok(byte)
    }

    fn truncated(&self, context: &str) -> Error {
        if self.taken == 0 {
            protocol("the answer is empty")
        } else {
            protocol(format!(
                "the answer ends after {} bytes in the middle of {context}",
                self.taken
            ))
        }
    }

    /// The next byte that is not white space, without consuming it.
    fn peek(&mut self, context: &str) -> Result<u8> {
        loop {
            if !self.fill()? {
                return Err(self.truncated(context));
            }
            let byte = self.buf[self.pos];
            if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                return Ok(byte);
            }
        }
    }

    fn expect(&mut self, want: u8, context: &str) -> Result<()> {
        if self.peek(context)? == want {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.malformed(&format!("expected '{}' {context}", want as char)))
        }
    }

    /// After the whole answer: only white space may follow.
    fn end(&mut self) -> Result<()> {
        loop {
            if !self.fill()? {
                return Ok(());
            }
            if !matches!(self.buf[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
                return Err(self.malformed("unexpected data after the JSON answer"));
            }
            self.pos += 1;
        }
    }

    /// Reads a string's content after its opening quote, passing the unescaped bytes to `piece`.
    /// Control characters are refused, except in base64 result `data`: there the decoder refuses
    /// raw ones, and escaped line breaks (MIME-style base64) are dropped.
    fn string_with(
        &mut self,
        data: bool,
        piece: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        loop {
            if !self.fill()? {
                return Err(self.truncated("a string"));
            }
            let chunk = &self.buf[self.pos..self.end];
            let stop = memchr::memchr2(b'"', b'\\', chunk);
            let text = &chunk[..stop.unwrap_or(chunk.len())];
            if !data && let Some(at) = text.iter().position(|&b| b < 0x20) {
                self.pos += at;
                return Err(self.malformed("a control character inside a string"));
            }
            if !text.is_empty() {
                piece(text)?;
            }
            self.pos += text.len();
            if stop.is_none() {
                continue;
            }
            let quote_or_backslash = self.buf[self.pos];
            self.pos += 1;
            if quote_or_backslash == b'"' {
                return Ok(());
            }
            let mut utf8 = [0u8; 4];
            let unescaped: &[u8] = match self.next_byte("an escape sequence")? {
                b'"' => b"\"",
                b'\\' => b"\\",
                b'/' => b"/",
                b'b' => b"\x08",
                b'f' => b"\x0c",
                b'n' => b"\n",
                b'r' => b"\r",
                b't' => b"\t",
                b'u' => self.unicode_escape()?.encode_utf8(&mut utf8).as_bytes(),
                _ => return Err(self.malformed("an invalid escape sequence")),
            };
            if !(data && matches!(unescaped, b"\n" | b"\r")) {
                piece(unescaped)?;
            }
        }
    }

    /// The character of a `\uXXXX` escape (after the `u`), joining surrogate pairs.
    fn unicode_escape(&mut self) -> Result<char> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if self.next_byte("an escape sequence")? != b'\\'
                || self.next_byte("an escape sequence")? != b'u'
            {
                return Err(self.malformed("a lone UTF-16 surrogate"));
            }
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.malformed("a lone UTF-16 surrogate"));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| self.malformed("a lone UTF-16 surrogate"))
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = (self.next_byte("an escape sequence")? as char)
                .to_digit(16)
                .ok_or_else(|| self.malformed("an invalid \\u escape"))?;
            value = value * 16 + digit;
        }
        Ok(value)
    }

    /// A string (after its opening quote) as an owned, valid UTF-8 `String` without NUL.
    fn owned_string(&mut self, field: &str) -> Result<String> {
        let mut bytes = Vec::new();
        self.string_with(false, &mut |piece| {
            bytes.extend_from_slice(piece);
            Ok(())
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| protocol(format!("the field {field} is not valid UTF-8")))?;
        if text.contains('\0') {
            return Err(protocol(format!(
                "the field {field} contains a NUL character"
            )));
        }
        Ok(text)
    }

    /// Skips a string (after its opening quote), still checking that it is valid UTF-8.
    fn skip_string(&mut self) -> Result<()> {
        let mut pending = std::mem::take(&mut self.utf8_pending);
        pending.clear();
        let mut valid = true;
        self.string_with(false, &mut |piece| {
            pending.extend_from_slice(piece);
            match std::str::from_utf8(&pending) {
                Ok(_) => pending.clear(),
                Err(e) if e.error_len().is_none() => {
                    pending.drain(..e.valid_up_to());
                }
                Err(_) => valid = false,
            }
            Ok(())
        })?;
        valid &= pending.is_empty();
        self.utf8_pending = pending;
        if valid {
            Ok(())
        } else {
            Err(self.malformed("a string that is not valid UTF-8"))
        }
    }

    /// Reads a field name (the opening quote is next) into `self.name`, and its colon.
    fn field_name(&mut self) -> Result<()> {
        self.expect(b'"', "at the start of a field name")?;
        let mut name = std::mem::take(&mut self.name);
        name.clear();
        let read = self.string_with(false, &mut |piece| {
            name.extend_from_slice(piece);
            Ok(())
        });
        let valid = std::str::from_utf8(&name).is_ok();
        self.name = name;
        read?;
        if !valid {
            return Err(self.malformed("a field name that is not valid UTF-8"));
        }
        self.expect(b':', "after a field name")
    }

    /// Skips `true`, `false` or `null` whose first byte is next.
    fn literal(&mut self, word: &[u8]) -> Result<()> {
        for &want in word {
            if self.next_byte("a literal")? != want {
                return Err(self.malformed("an invalid literal"));
            }
        }
        Ok(())
    }

    /// Skips a number, checking the JSON number grammar.
    fn number(&mut self) -> Result<()> {
        let mut text = Vec::new();
        while self.fill()? {
            let byte = self.buf[self.pos];
            if !matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                break;
            }
            text.push(byte);
            self.pos += 1;
        }
        if is_json_number(&text) {
            Ok(())
        } else {
            Err(self.malformed("an invalid number"))
        }
    }

    /// Skips one value of any shape, iteratively, up to [`MAX_DEPTH`] levels deep.
    fn skip_value(&mut self) -> Result<()> {
        let mut open: Vec<u8> = Vec::new();
        loop {
            match self.peek("a value")? {
                b'{' => {
                    self.pos += 1;
                    if self.peek("an object")? == b'}' {
                        self.pos += 1;
                    } else {
                        open.push(b'}');
                        self.field_name()?;
                        if open.len() > MAX_DEPTH {
                            return Err(self.malformed("values nested too deeply"));
                        }
                        continue;
                    }
                }
                b'[' => {
                    self.pos += 1;
                    if self.peek("an array")? == b']' {
                        self.pos += 1;
                    } else {
                        open.push(b']');
                        if open.len() > MAX_DEPTH {
                            return Err(self.malformed("values nested too deeply"));
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.pos += 1;
                    self.skip_string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(self.malformed("expected a value")),
            }
            // A value ended: close containers until one continues with a comma.
            loop {
                let Some(&close) = open.last() else {
                    return Ok(());
                };
                let next = self.peek("an array or object")?;
                self.pos += 1;
                if next == close {
                    open.pop();
                } else if next == b',' {
                    if close == b'}' {
                        self.field_name()?;
                    }
                    break;
                } else {
                    self.pos -= 1;
                    return Err(self.malformed("expected ',' or the end of an array or object"));
                }
            }
        }
    }

    /// Whether the next value is `null` (consumed if so).
    fn null(&mut self, context: &str) -> Result<bool> {
        if self.peek(context)? == b'n' {
            self.literal(b"null")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn wrong_type(&self, field: &str, expected: &str) -> Error {
        protocol(format!(
            "the field {field} in the answer (byte {}) is not {expected}",
            self.offset()
        ))
    }

    /// `"text"` or `null`.
    fn nullable_string(&mut self, field: &str) -> Result<Option<String>> {
        if self.null(field)? {
            return Ok(None);
        }
        if self.peek(field)? != b'"' {
            return Err(self.wrong_type(field, "a string"));
        }
        self.pos += 1;
        self.owned_string(field).map(Some)
    }

    /// Walks `[ item, ... ]` or `null`, calling `item` with the next value unread.
    fn array(&mut self, field: &str, item: &mut dyn FnMut(&mut Self) -> Result<()>) -> Result<()> {
        if self.null(field)? {
            return Ok(());
        }
        if self.peek(field)? != b'[' {
            return Err(self.wrong_type(field, "an array"));
        }
        self.pos += 1;
        if self.peek(field)? == b']' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            match self.peek(field)? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.malformed("expected ',' or ']' in an array")),
            }
        }
    }

    /// Walks `{ "name": value, ... }` or `null`, calling `field` with the value unread and the
    /// index of its name in `fields` (compared without regard to ASCII case; `None` for other
    /// names). A known field may appear once. Returns false for `null`.
    fn object(
        &mut self,
        what: &str,
        fields: &[&str],
        field: &mut dyn FnMut(&mut Self, Option<usize>) -> Result<()>,
    ) -> Result<bool> {
        if self.null(what)? {
            return Ok(false);
        }
        if self.peek(what)? != b'{' {
            return Err(self.wrong_type(what, "an object"));
        }
        self.pos += 1;
        if self.peek(what)? == b'}' {
            self.pos += 1;
            return Ok(true);
        }
        let mut seen = 0u64;
        loop {
            self.field_name()?;
            let index = fields
                .iter()
                .position(|f| f.as_bytes().eq_ignore_ascii_case(&self.name));
            if let Some(index) = index {
                if seen & (1 << index) != 0 {
                    return Err(protocol(format!(
                        "{what} has the field {} twice",
                        fields[index]
                    )));
                }
                seen |= 1 << index;
            }
            field(self, index)?;
            match self.peek(what)? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Ok(true);
                }
                _ => return Err(self.malformed("expected ',' or '}' in an object")),
            }
        }
    }

    fn strings(&mut self, field: &str) -> Result<Vec<String>> {
        let mut list = Vec::new();
        self.array(field, &mut |json| {
            if let Some(text) = json.nullable_string(field)? {
                list.push(text);
            }
            Ok(())
        })?;
        Ok(list)
    }

    fn answer<K: Sink>(&mut self, sink: &mut K) -> Result<Answer<K::Data>> {
        if self.peek("the answer")? != b'{' {
            return Err(protocol(
                "the answer is not a JSON object".to_string() + &self.preview(),
            ));
        }
        let mut id = None;
        let mut task_status = None;
        let mut response_status = None;
        let mut results = Vec::new();
        let mut messages = Vec::new();
        let mut warnings = Vec::new();
        let fields = ["id", "taskStatus", "responseStatusCode", "results", "error"];
        self.object("the answer", &fields, &mut |json, index| {
            match index {
                Some(0) => id = json.nullable_string("id")?,
                Some(1) => task_status = json.nullable_string("taskStatus")?,
                Some(2) => response_status = json.nullable_string("responseStatusCode")?,
                Some(3) => json.array("results", &mut |json| {
                    if !json.null("results")? {
                        let index = results.len();
                        results.push(json.result_file(index, sink)?);
                    }
                    Ok(())
                })?,
                Some(4) => {
                    json.object("error", &["messages", "warnings"], &mut |json, index| {
                        match index {
                            Some(0) => messages = json.strings("error.messages")?,
                            Some(1) => warnings = json.strings("error.warnings")?,
                            _ => json.skip_value()?,
                        }
                        Ok(())
                    })?;
                }
                _ => json.skip_value()?,
            }
            Ok(())
        })?;
        let task_status =
            task_status.ok_or_else(|| protocol("the answer has no taskStatus".to_string()))?;
        Ok(Answer {
            id,
            task_status,
            response_status,
            results,
            messages,
            warnings,
        })
    }

    fn result_file<K: Sink>(&mut self, index: usize, sink: &mut K) -> Result<ResultFile<K::Data>> {
        let mut kind = None;
        let mut data = None;
        let context = format!("results[{index}]");
        self.object(&context, &["type", "data"], &mut |json, field| {
            match field {
                Some(0) => kind = json.nullable_string("results[].type")?,
                Some(1) => data = Some(json.result_data(index, sink)?),
                _ => json.skip_value()?,
            }
            Ok(())
        })?;
        let data = match data {
            Some(data) => data,
            None => sink.empty()?,
        };
        Ok(ResultFile {
            kind: kind.unwrap_or_default(),
            data,
        })
    }

    /// Streams one `data` string through the base64 decoder into the sink.
    fn result_data<K: Sink>(&mut self, index: usize, sink: &mut K) -> Result<K::Data> {
        let field = format!("results[{index}].data");
        if self.null(&field)? {
            return sink.empty();
        }
        if self.peek(&field)? != b'"' {
            return Err(self.wrong_type(&field, "a string"));
        }
        self.pos += 1;
        let still_to_come = self.source.remaining().unwrap_or(0) + (self.end - self.pos) as u64;
        sink.start(usize::try_from(still_to_come / 4 * 3).unwrap_or(usize::MAX))?;
        let mut decoder = Base64Decoder::new();
        let bad = |e: DecodeError| {
            Error::new(
                Code::Decode,
                format!(
                    "invalid base64 in {field} at character {}: {}",
                    e.offset, e.reason
                ),
            )
        };
        self.string_with(true, &mut |piece| {
            let out = sink.reserve(decoder.max_output(piece.len()))?;
            decoder.feed(piece, out).map_err(bad)?;
            sink.flush()
        })?;
        decoder.finish().map_err(bad)?;
        sink.finish()
    }

    /// A short, printable excerpt of what comes next, for messages about non-JSON answers.
    fn preview(&self) -> String {
        let rest = &self.buf[self.pos..self.end];
        let text: String = String::from_utf8_lossy(&rest[..rest.len().min(60)])
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!(" (it starts with \"{}\")", text.trim())
    }
}

fn is_json_number(text: &[u8]) -> bool {
    let mut rest = text.strip_prefix(b"-").unwrap_or(text);
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let int = digits(rest);
    if int == 0 || (int > 1 && rest[0] == b'0') {
        return false;
    }
    rest = &rest[int..];
    if let Some(after) = rest.strip_prefix(b".") {
        let frac = digits(after);
        if frac == 0 {
            return false;
        }
        rest = &after[frac..];
    }
    if let Some(after) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let after = after
            .strip_prefix(b"+")
            .or_else(|| after.strip_prefix(b"-"))
            .unwrap_or(after);
        let exp = digits(after);
        if exp == 0 {
            return false;
        }
        rest = &after[exp..];
    }
    rest.is_empty()
}

/// The answer of `POST /connect/token`. Its `Debug` shows no token.
#[derive(Deserialize)]
pub struct TokenAnswer {
    /// The bearer token.
    pub access_token: String,
    /// Lifetime in seconds; a number or a numeric string.
    #[serde(default, deserialize_with = "seconds")]
    pub expires_in: Option<f64>,
    /// Expected to be `Bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
}

impl std::fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field(
                "token_type",
                &self.token_type.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Number(f64),
        Text(String),
    }
    Ok(match Option::<Seconds>::deserialize(d)? {
        Some(Seconds::Number(n)) => Some(n),
        Some(Seconds::Text(t)) => t.trim().parse().ok(),
        None => None,
    })
}

/// The human part of an error answer: an RFC 7807 problem's `detail`/`title`, an OAuth
/// `error_description`/`error`, a `message`, or else the start of the body as text.
pub fn problem_text(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["detail", "error_description", "message", "title", "error"] {
            if let Some(serde_json::Value::String(text)) = map.get(key) {
                return clip(text);
            }
        }
    }
    clip(&String::from_utf8_lossy(body))
}

/// At most 300 characters of `text` on one line, cleaned of secrets before it is cut.
fn clip(text: &str) -> String {
    let flat: String = crate::secrets::redact(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if flat.chars().count() > 300 {
        flat.chars().take(300).collect::<String>() + "..."
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64_simd::STANDARD;

    fn completed(data: &[u8]) -> String {
        format!(
            r#"{{"id":"t1","taskStatus":"Completed","responseStatusCode":"Ok","results":[{{"type":"Pdf","data":"{}"}}],"error":null}}"#,
            STANDARD.encode_to_string(data)
        )
    }

    /// Feeds the parser a few bytes at a time, to cross every buffer boundary.
    struct Trickle<'a>(&'a [u8], usize);

    impl Source for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn reads_a_completed_answer() {
        let answer = parse_answer(completed(b"%PDF-1.4 hello").as_bytes()).unwrap();
        assert_eq!(answer.id.as_deref(), Some("t1"));
        assert_eq!(answer.task_status, "Completed");
        assert_eq!(answer.response_status.as_deref(), Some("Ok"));
        assert_eq!(answer.results.len(), 1);
        assert_eq!(answer.results[0].kind, "Pdf");
        assert_eq!(answer.results[0].data, b"%PDF-1.4 hello");
        assert!(answer.messages.is_empty());
    }

    #[test]
    fn reads_the_same_answer_in_pieces_of_any_size() {
        let body = completed(&(0..3000u32).map(|i| i as u8).collect::<Vec<_>>());
        let whole = parse_answer(body.as_bytes()).unwrap();
        for step in [1, 2, 3, 5, 64, 1000] {
            let answer =
                read_answer(Trickle(body.as_bytes(), step), &mut MemorySink::default()).unwrap();
            assert_eq!(answer, whole, "step {step}");
        }
    }

    #[test]
    fn is_liberal_in_order_case_nulls_and_unknown_fields() {
        let body = r#" {
            "extra": {"deep": [1, 2.5e-3, -0, true, false, null, {"a": "\u00e9\ud83d\ude00"}]},
            "ERROR": {"warnings": ["w1", null], "messages": null, "code": 7},
            "results": [null, {"data": "SGk=", "type": null, "size": 2}, {"type": "Text"}],
            "TaskStatus": "Queued"
        } "#;
        let answer = parse_answer(body.as_bytes()).unwrap();
        assert_eq!(answer.id, None);
        assert_eq!(answer.task_status, "Queued");
        assert_eq!(answer.response_status, None);
        assert_eq!(answer.results.len(), 2);
        assert_eq!(answer.results[0].kind, "");
        assert_eq!(answer.results[0].data, b"Hi");
        assert_eq!(answer.results[1].kind, "Text");
        assert!(answer.results[1].data.is_empty());
        assert_eq!(answer.warnings, ["w1"]);
        assert!(answer.messages.is_empty());
    }

    #[test]
    fn accepts_escaped_slashes_and_line_breaks_in_data() {
        let body = r#"{"taskStatus":"Completed","results":[{"type":"Pdf","data":"Pz8\/\nPz8\r\n\u002f"}]}"#;
        assert_eq!(
            parse_answer(body.as_bytes()).unwrap().results[0].data,
            b"??????"
        );
        let body = r#"{"taskStatus":"Completed","results":[{"type":"Pdf","data":"Pz8\/\tPz8\/"}]}"#;
        assert_eq!(
            parse_answer(body.as_bytes()).unwrap_err().code(),
            Code::Decode
        );
    }

    #[test]
    fn refuses_a_raw_line_break_in_data_however_the_answer_arrives() {
        // Found by tests/properties.rs: read a byte at a time, a raw line break arrived as a
        // piece of its own and was dropped as if it had been an escaped one.
        let body = "{\"taskStatus\":\"Completed\",\"results\":[{\"data\":\"\nAAAAAAAA\"}]}";
        for step in [1, 2, 1000] {
            let err = read_answer(Trickle(body.as_bytes(), step), &mut MemorySink::default())
                .unwrap_err();
            assert_eq!(err.code(), Code::Decode, "step {step}: {err}");
        }
    }

    #[test]
    fn refuses_malformed_json_with_protocol_errors() {
        let cases: &[&str] = &[
            "",
            "   ",
            "<html>502 Bad Gateway</html>",
            "[]",
            r#"{"taskStatus":"Completed""#,
            r#"{"taskStatus":"Completed",}"#,
            r#"{"taskStatus":"Completed"} x"#,
            r#"{"taskStatus":Completed}"#,
            r#"{"taskStatus":"Comp\x"}"#,
            r#"{"taskStatus":"\ud800"}"#,
            r#"{"taskStatus":"a	b"}"#,
            r#"{"taskStatus":5}"#,
            r#"{"taskStatus":"Completed","results":{}}"#,
            r#"{"taskStatus":"Completed","results":[{"data":5}]}"#,
            r#"{"taskStatus":"Completed","results":[5]}"#,
            r#"{"taskStatus":"Completed","error":[]}"#,
            r#"{"taskStatus":"Completed","error":{"messages":"x"}}"#,
            r#"{"taskStatus":"Completed","error":{"messages":[1]}}"#,
            r#"{"taskStatus":"Completed","taskStatus":"Error"}"#,
            r#"{"taskStatus":"Completed","x":01}"#,
            r#"{"taskStatus":"Completed","x":1.}"#,
            r#"{"taskStatus":"Completed","x":tru}"#,
            r#"{"taskStatus":"Completed","x":[1 2]}"#,
            r#"{"taskStatus":"Completed","x":{"a" 1}}"#,
            r#"{"id":"a\u0000b","taskStatus":"Completed"}"#,
            r#"{"id":"t"}"#,
            r#"{"taskStatus":null}"#,
        ];
        for case in cases {
            let err = parse_answer(case.as_bytes()).unwrap_err();
            assert_eq!(err.code(), Code::Protocol, "{case}: {err}");
        }
    }

    #[test]
    fn refuses_invalid_utf8_anywhere() {
        for body in [
            &b"{\"taskStatus\":\"Compl\xffeted\"}"[..],
            b"{\"x\":\"\xc3\",\"taskStatus\":\"Completed\"}",
            b"{\"taskStatus\":\"Completed\",\"x\":[\"ok\xe2\x82\"]}",
        ] {
            let err = parse_answer(body).unwrap_err();
            assert_eq!(err.code(), Code::Protocol, "{err}");
            assert!(err.message().contains("UTF-8"), "{err}");
        }
    }

    #[test]
    fn refuses_deep_nesting_without_overflowing_the_stack() {
        let body = format!(
            r#"{{"taskStatus":"Completed","x":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let err = parse_answer(body.as_bytes()).unwrap_err();
        assert!(err.message().contains("nested too deeply"), "{err}");
        let fine = format!(
            r#"{{"taskStatus":"Completed","x":{}1{}}}"#,
            "[{\"a\":".repeat(200),
            "}]".repeat(200)
        );
        parse_answer(fine.as_bytes()).unwrap();
    }

    #[test]
    fn refuses_bad_base64_with_decode_errors() {
        for data in ["SGk", "SGk==", "SG!k", "SGk=SGk=", "SGk\\t="] {
            let body = format!(r#"{{"taskStatus":"Completed","results":[{{"data":"{data}"}}]}}"#);
            let err = parse_answer(body.as_bytes()).unwrap_err();
            assert_eq!(err.code(), Code::Decode, "{data}: {err}");
            assert!(err.message().contains("results[0].data"), "{err}");
        }
    }

    #[test]
    fn tells_the_start_of_a_non_json_answer() {
        let err = parse_answer(b"<html><body>Bad gateway</body></html>").unwrap_err();
        assert!(err.message().contains("<html><body>Bad gateway"), "{err}");
    }

    #[test]
    fn interprets_task_statuses_in_any_case() {
        assert_eq!(TaskStatus::parse("Completed"), TaskStatus::Completed);
        assert_eq!(TaskStatus::parse("pending"), TaskStatus::Pending);
        assert_eq!(TaskStatus::parse("NOTEXIST"), TaskStatus::NotExist);
        assert_eq!(TaskStatus::parse("Queued"), TaskStatus::Unknown);
        assert_eq!(TaskStatus::parse(""), TaskStatus::Unknown);
    }

    #[test]
    fn reads_token_answers_with_numbers_or_strings() {
        let t: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"abc","expires_in":"3600","x":1}"#).unwrap();
        assert_eq!(t.expires_in, Some(3600.0));
        let t: TokenAnswer = serde_json::from_str(r#"{"access_token":"abc"}"#).unwrap();
        assert_eq!(t.expires_in, None);
    }

    #[test]
    fn finds_the_human_part_of_problem_bodies() {
        assert_eq!(
            problem_text(br#"{"title":"Unauthorized","detail":"token expired"}"#),
            "token expired"
        );
        assert_eq!(
            problem_text(b"<h1>Bad\n\n gateway</h1>"),
            "<h1>Bad gateway</h1>"
        );
        assert_eq!(problem_text(&[b'x'; 400]).len(), 303);
    }

    #[test]
    fn checks_the_number_grammar() {
        for ok in ["0", "-0", "12", "1.5", "1e9", "1E+9", "-1.25e-3"] {
            assert!(is_json_number(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1-2", "--1"] {
            assert!(!is_json_number(bad.as_bytes()), "{bad}");
        }
    }
}
