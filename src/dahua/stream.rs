//! An incremental, bounded, forgiving reader of the `eventManager.cgi?action=attach` body
//! (`multipart/x-mixed-replace`): bytes in, in whatever chunks the network gives, parts out.
//!
//! What it forgives (vendor-apis.md §1.2–1.3): a boundary announced with or without leading
//! dashes (`boundary=myboundary`, `boundary=--myboundary`), or none at all (the first `--x`
//! line is taken); `Content-Length:N` with or without a space; CRLF or bare LF; a stray
//! `HTTP/1.1 200 OK` header block inside the body; parts without headers; several parts in one
//! chunk and one part over many. A body with a Content-Length is handed out as soon as its
//! last byte arrives (a press is never held back until the next heartbeat); one without ends
//! at the next boundary.
//!
//! Memory is bounded whatever the input: a line is at most [`MAX_LINE`] bytes and a part at
//! most [`MAX_PART`]; longer ones are skipped. Unexpected bytes are reported once per episode
//! (one [`Item::Garbage`] until the next good part), so the caller can log each item it gets.

/// Longest boundary or header line kept, in bytes; longer lines are skipped as garbage.
pub const MAX_LINE: usize = 1024;
/// Largest part body, in bytes. Dahua event bodies with pretty-printed JSON are a few KiB.
pub const MAX_PART: usize = 64 * 1024;
/// Longest boundary accepted from a header or the body.
pub const MAX_BOUNDARY: usize = 70;

/// What the reader hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A part whose body is the word `Heartbeat`.
    Heartbeat,
    /// Any other part: its body (lossy UTF-8, trimmed), for [`super::codes::parse`].
    Part(String),
    /// Bytes that are not part of a part were skipped; reported once per episode.
    Garbage(Garbage),
}

/// Why bytes were skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Garbage {
    /// A line longer than [`MAX_LINE`] outside a body.
    #[error("a line longer than {MAX_LINE} bytes outside a part")]
    LongLine,
    /// A part larger than [`MAX_PART`].
    #[error("a part of {0} bytes, more than the {MAX_PART} accepted")]
    PartTooLarge(usize),
    /// A line where a boundary was expected (its start, escaped).
    #[error("unexpected text between parts: {0:?}")]
    Unexpected(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between parts: waiting for a boundary line.
    Seeking,
    /// Inside a stray `HTTP/1.x` header block: skip until a blank line.
    Stray,
    /// Part headers, until a blank line.
    Headers { length: Option<usize> },
    /// A body of known length: this many bytes still to come.
    Counted(usize),
    /// A body without length: lines until the next boundary.
    Lines,
    /// A part too large: skip lines until the next boundary.
    Skipping,
}

/// The part reader. Feed it chunks with [`PartReader::feed`].
#[derive(Debug)]
pub struct PartReader {
    boundary: Option<String>,
    state: State,
    line: Vec<u8>,
    line_too_long: bool,
    body: Vec<u8>,
    /// An episode of garbage has been reported and no good part seen since.
    in_garbage: bool,
}

/// The boundary named by a `Content-Type` header value, without leading dashes or quotes.
/// `None` when there is none (the reader then takes the first `--x` line of the body).
pub fn boundary_from_content_type(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let b = value
            .trim()
            .trim_matches('"')
            .trim_start_matches('-')
            .trim();
        (!b.is_empty() && b.len() <= MAX_BOUNDARY).then(|| b.to_owned())
    })
}

impl PartReader {
    /// A reader for a response whose `Content-Type` header named `boundary` (see
    /// [`boundary_from_content_type`]); `None` to take it from the body.
    pub fn new(boundary: Option<String>) -> Self {
        Self {
            boundary: boundary
                .map(|b| b.trim_start_matches('-').to_owned())
                .filter(|b| !b.is_empty() && b.len() <= MAX_BOUNDARY),
            state: State::Seeking,
            line: Vec::new(),
            line_too_long: false,
            body: Vec::new(),
            in_garbage: false,
        }
    }

    /// Feeds one chunk; `out` receives every item completed by it, in order.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut impl FnMut(Item)) {
        while !chunk.is_empty() {
            if let State::Counted(remaining) = self.state {
                let n = remaining.min(chunk.len());
                self.body.extend_from_slice(&chunk[..n]);
                chunk = &chunk[n..];
                if n == remaining {
                    self.finish_part(out);
                    self.state = State::Seeking;
                } else {
                    self.state = State::Counted(remaining - n);
                }
                continue;
            }
            let (piece, rest, complete) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                None => (chunk, &[][..], false),
            };
            chunk = rest;
            if self.line.len() + piece.len() > MAX_LINE {
                self.line_too_long = true;
                self.line.clear();
            } else if !self.line_too_long {
                self.line.extend_from_slice(piece);
            }
            if complete {
                let too_long = std::mem::take(&mut self.line_too_long);
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.on_line(&line, too_long, out);
                line.clear();
                self.line = line;
            }
        }
    }

    fn on_line(&mut self, line: &[u8], too_long: bool, out: &mut impl FnMut(Item)) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        match self.state {
            State::Counted(_) => unreachable!("counted bodies are read byte-wise"),
            State::Seeking => {
                if too_long {
                    self.garbage(Garbage::LongLine, out);
                } else if self.is_boundary(text) {
                    self.state = State::Headers { length: None };
                } else if is_status_line(text) {
                    self.state = State::Stray;
                } else if !text.is_empty() {
                    self.garbage(Garbage::Unexpected(snippet(text)), out);
                }
            }
            State::Stray => {
                if text.is_empty() {
                    self.state = State::Seeking;
                } else if self.is_boundary(text) {
                    self.state = State::Headers { length: None };
                }
            }
            State::Headers { length } => {
                if too_long {
                    self.garbage(Garbage::LongLine, out);
                    self.state = State::Skipping;
                } else if text.is_empty() {
                    self.state = match length {
                        Some(0) => State::Seeking,
                        Some(n) if n > MAX_PART => {
                            self.garbage(Garbage::PartTooLarge(n), out);
                            State::Skipping
                        }
                        Some(n) => State::Counted(n),
                        None => State::Lines,
                    };
                } else if self.is_boundary(text) {
                    // An empty part: start over.
                    self.state = State::Headers { length: None };
                } else if let Some((name, value)) = text.split_once(':') {
                    if name.trim().eq_ignore_ascii_case("content-length") {
                        let parsed = value.trim().parse::<usize>().ok();
                        self.state = State::Headers {
                            length: parsed.or(length),
                        };
                    }
                } else if is_status_line(text) {
                    self.state = State::Stray;
                } else {
                    // No headers at all: the line is the body's first.
                    self.state = State::Lines;
                    self.push_body_line(line, out);
                }
            }
            State::Lines => {
                if self.is_boundary(text) {
                    self.finish_part(out);
                    self.state = State::Headers { length: None };
                } else if is_status_line(text) {
                    self.finish_part(out);
                    self.state = State::Stray;
                } else if too_long {
                    self.body.clear();
                    self.garbage(Garbage::PartTooLarge(MAX_PART), out);
                    self.state = State::Skipping;
                } else {
                    self.push_body_line(line, out);
                }
            }
            State::Skipping => {
                if self.is_boundary(text) {
                    self.state = State::Headers { length: None };
                } else if is_status_line(text) {
                    self.state = State::Stray;
                }
            }
        }
    }

    fn push_body_line(&mut self, line: &[u8], out: &mut impl FnMut(Item)) {
        if self.body.len() + line.len() + 1 > MAX_PART {
            let size = self.body.len() + line.len() + 1;
            self.body.clear();
            self.garbage(Garbage::PartTooLarge(size), out);
            self.state = State::Skipping;
            return;
        }
        self.body.extend_from_slice(line);
        self.body.push(b'\n');
    }

    fn finish_part(&mut self, out: &mut impl FnMut(Item)) {
        let body = String::from_utf8_lossy(&self.body).trim().to_owned();
        self.body.clear();
        if body.is_empty() {
            return;
        }
        self.in_garbage = false;
        if body.eq_ignore_ascii_case("heartbeat") {
            out(Item::Heartbeat);
        } else {
            out(Item::Part(body));
        }
    }

    fn garbage(&mut self, why: Garbage, out: &mut impl FnMut(Item)) {
        if !self.in_garbage {
            self.in_garbage = true;
            out(Item::Garbage(why));
        }
    }

    /// Whether `line` is a boundary (`--b` or the closing `--b--`); with no boundary known
    /// yet, the first `--x` line names it.
    fn is_boundary(&mut self, line: &str) -> bool {
        if !line.starts_with("--") {
            return false;
        }
        let name = line.trim_start_matches('-');
        let name = name.strip_suffix("--").unwrap_or(name).trim();
        match &self.boundary {
            Some(b) => name == b,
            None if !name.is_empty() && name.len() <= MAX_BOUNDARY && !name.contains(' ') => {
                self.boundary = Some(name.to_owned());
                true
            }
            None => false,
        }
    }
}

fn is_status_line(line: &str) -> bool {
    line.starts_with("HTTP/1.") || line.starts_with("HTTP/2")
}

/// The start of an unexpected line, at most 40 characters, for the log.
fn snippet(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_in(chunks: &[&[u8]], boundary: Option<&str>) -> Vec<Item> {
        let mut reader = PartReader::new(boundary.map(str::to_owned));
        let mut items = Vec::new();
        for c in chunks {
            reader.feed(c, &mut |i| items.push(i));
        }
        items
    }

    fn read_all(bytes: &[u8], boundary: Option<&str>) -> Vec<Item> {
        read_in(&[bytes], boundary)
    }

    fn part(body: &str) -> String {
        format!(
            "--myboundary\r\nContent-Type: text/plain\r\nContent-Length:{}\r\n\r\n{body}\r\n\r\n",
            body.len()
        )
    }

    const PRESS: &str =
        "Code=CallNoAnswered;action=Start;index=0;data={\n   \"CallID\" : \"1\"\n}\n";

    #[test]
    fn the_boundary_comes_from_the_header_with_or_without_dashes() {
        let ct = "multipart/x-mixed-replace; boundary=myboundary";
        assert_eq!(
            boundary_from_content_type(ct).as_deref(),
            Some("myboundary")
        );
        let sony = "multipart/x-mixed-replace;boundary=--myboundary";
        assert_eq!(
            boundary_from_content_type(sony).as_deref(),
            Some("myboundary")
        );
        let quoted = "multipart/mixed; BOUNDARY=\"b1\"";
        assert_eq!(boundary_from_content_type(quoted).as_deref(), Some("b1"));
        assert_eq!(boundary_from_content_type("text/plain"), None);
        let items = read_all(part("Heartbeat").as_bytes(), Some("--myboundary"));
        assert_eq!(items, vec![Item::Heartbeat]);
    }

    #[test]
    fn a_body_with_a_length_is_handed_out_at_its_last_byte() {
        let items = read_all(part(PRESS).as_bytes(), Some("myboundary"));
        assert_eq!(items, vec![Item::Part(PRESS.trim().to_owned())]);
    }

    #[test]
    fn content_length_with_a_space_works_too() {
        let text = "--myboundary\r\nContent-Length: 9\r\n\r\nHeartbeat\r\n";
        assert_eq!(read_all(text.as_bytes(), None), vec![Item::Heartbeat]);
    }

    #[test]
    fn several_parts_in_one_read_and_one_part_over_many() {
        let stream = format!("{}{}{}", part("Heartbeat"), part(PRESS), part("Heartbeat"));
        let whole = read_all(stream.as_bytes(), Some("myboundary"));
        assert_eq!(whole.len(), 3);
        for size in [1, 2, 3, 7, 13, 64] {
            let chunks: Vec<&[u8]> = stream.as_bytes().chunks(size).collect();
            assert_eq!(
                read_in(&chunks, Some("myboundary")),
                whole,
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn a_line_split_across_reads_is_joined() {
        let stream = part("Code=VideoMotion;action=Start;index=0");
        let at = stream.find(";index").unwrap() + ";index".len();
        let (a, b) = stream.as_bytes().split_at(at);
        let items = read_in(&[a, b], Some("myboundary"));
        assert_eq!(
            items,
            vec![Item::Part("Code=VideoMotion;action=Start;index=0".into())]
        );
    }

    #[test]
    fn a_stray_http_header_block_inside_the_body_is_skipped() {
        let stream = format!(
            "{}HTTP/1.1 200 OK\r\nServer: Device/1.0\r\nContent-Type: multipart/x-mixed-replace; boundary=myboundary\r\n\r\n{}",
            part("Heartbeat"),
            part(PRESS)
        );
        let items = read_all(stream.as_bytes(), Some("myboundary"));
        assert_eq!(
            items,
            vec![Item::Heartbeat, Item::Part(PRESS.trim().into())]
        );
    }

    #[test]
    fn parts_without_length_end_at_the_next_boundary() {
        let stream = "--myboundary\nContent-Type: text/plain\n\nCode=A;action=Start;index=0\n--myboundary\n\nHeartbeat\n--myboundary\n";
        let items = read_all(stream.as_bytes(), None);
        assert_eq!(
            items,
            vec![
                Item::Part("Code=A;action=Start;index=0".into()),
                Item::Heartbeat
            ]
        );
    }

    #[test]
    fn a_part_without_headers_is_read_from_its_first_line() {
        let stream = "--myboundary\r\nHeartbeat\r\n--myboundary\r\n";
        assert_eq!(read_all(stream.as_bytes(), None), vec![Item::Heartbeat]);
    }

    #[test]
    fn garbage_is_reported_once_per_episode_and_skipped() {
        let stream = format!(
            "junk one\r\njunk two\r\n{}more junk\r\n{}",
            part("Heartbeat"),
            part(PRESS)
        );
        let items = read_all(stream.as_bytes(), Some("myboundary"));
        assert_eq!(
            items,
            vec![
                Item::Garbage(Garbage::Unexpected("junk one".into())),
                Item::Heartbeat,
                Item::Garbage(Garbage::Unexpected("more junk".into())),
                Item::Part(PRESS.trim().into()),
            ]
        );
    }

    #[test]
    fn an_announced_part_larger_than_the_limit_is_skipped() {
        let stream = format!(
            "--myboundary\r\nContent-Length: {}\r\n\r\nxxxx\r\n{}",
            MAX_PART + 1,
            part("Heartbeat")
        );
        let items = read_all(stream.as_bytes(), Some("myboundary"));
        assert_eq!(
            items,
            vec![
                Item::Garbage(Garbage::PartTooLarge(MAX_PART + 1)),
                Item::Heartbeat
            ]
        );
    }

    #[test]
    fn endless_input_uses_bounded_memory() {
        let mut reader = PartReader::new(Some("myboundary".into()));
        let mut garbage = 0;
        let line = vec![b'x'; 10_000];
        for _ in 0..200 {
            reader.feed(&line, &mut |_| garbage += 1);
            assert!(reader.line.len() <= MAX_LINE);
        }
        reader.feed(b"\n", &mut |_| garbage += 1);
        assert_eq!(garbage, 1);
        // An endless body without length, after a boundary.
        let mut reader = PartReader::new(Some("myboundary".into()));
        reader.feed(b"--myboundary\r\n\r\n", &mut |_| {});
        let mut items = Vec::new();
        for _ in 0..2000 {
            reader.feed(b"Code=A;action=Start;index=0 and more text\n", &mut |i| {
                items.push(i)
            });
            assert!(reader.body.len() <= MAX_PART);
        }
        assert!(matches!(
            items[..],
            [Item::Garbage(Garbage::PartTooLarge(_))]
        ));
        let mut after = Vec::new();
        reader.feed(part("Heartbeat").as_bytes(), &mut |i| after.push(i));
        assert_eq!(after, vec![Item::Heartbeat]);
    }

    #[test]
    fn a_wrong_boundary_is_not_a_part() {
        let stream = part("Heartbeat").replace("myboundary", "other");
        let items = read_all(stream.as_bytes(), Some("myboundary"));
        assert!(items.iter().all(|i| matches!(i, Item::Garbage(_))));
    }
}
