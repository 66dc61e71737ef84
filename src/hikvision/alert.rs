//! The `GET /ISAPI/Event/notification/alertStream` body (`multipart/mixed`), read by cutting
//! whole documents out of the byte stream rather than trusting the boundary: one NVR announced
//! `boundary=myboundary` and used `--boundary` (pyHik#10), so like pyHik we cut on
//! `<EventNotificationAlert` ... `</EventNotificationAlert>`, and on door stations on a JSON
//! object that starts a line (pyHik#77, Scrypted hikvision-doorbell). Everything between
//! documents (boundaries, part headers, JPEG parts) is skipped.
//!
//! Both XML namespaces (`http://www.hikvision.com/ver20/XMLSchema`, `urn:psialliance-org`)
//! are read by local name, through the crate's guarded parser [`crate::onvif::document`].
//! Memory is bounded: a document is at most [`MAX_DOCUMENT`] bytes; a longer one is skipped
//! and reported.

use crate::event::{Items, Operation};
use crate::onvif::Notification;
use crate::onvif::document;
use crate::vendor::{MAX_JSON_VALUE, cut};

/// Largest alert document, in bytes (real ones are 1-3 KiB).
pub const MAX_DOCUMENT: usize = 64 * 1024;
/// The topic prefix of Hikvision notifications.
pub const TOPIC_PREFIX: &str = "hikvision:";

/// Most whitespace between a JSON part's `{` and its first key (real ones have two bytes).
const MAX_JSON_LEAD: usize = 64;

const XML_START: &[u8] = b"<EventNotificationAlert";
const XML_END: &[u8] = b"</EventNotificationAlert>";

/// What the reader hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// `videoloss` inactive, or `other` with description Heartbeat: feeds the watchdog.
    Heartbeat,
    /// Any other alert.
    Event(Notification),
    /// A document that could not be read was skipped.
    Garbage(AlertError),
}

/// Why a document was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    /// Longer than [`MAX_DOCUMENT`] without its end.
    #[error("an alert document longer than {MAX_DOCUMENT} bytes")]
    TooLarge,
    /// Not XML the guarded parser accepts.
    #[error("an alert that is not well-formed XML: {0}")]
    Xml(String),
    /// Not JSON.
    #[error("an alert that is not JSON: {0}")]
    Json(String),
    /// No `eventType`.
    #[error("an alert without eventType")]
    NoEventType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Doc {
    Xml,
    Json {
        depth: usize,
        in_string: bool,
        escaped: bool,
    },
}

/// Where the document at the start of the buffer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Complete: its end, exclusive.
    Found(usize),
    /// Not a document after all: skip to here.
    Abort(usize),
}

/// The alert reader. Feed it chunks with [`AlertReader::feed`].
#[derive(Debug, Default)]
pub struct AlertReader {
    buf: Vec<u8>,
    /// The document that starts at `buf[0]`, once found.
    doc: Option<Doc>,
    /// How far `buf` has been scanned for the document's end.
    scanned: usize,
    /// The byte before `buf[0]`, to know whether a `{` starts a line.
    at_line_start: bool,
}

impl AlertReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self {
            at_line_start: true,
            ..Self::default()
        }
    }

    /// Feeds one chunk; `out` receives every alert completed by it, in order.
    pub fn feed(&mut self, chunk: &[u8], out: &mut impl FnMut(Alert)) {
        for piece in chunk.chunks(MAX_DOCUMENT) {
            self.buf.extend_from_slice(piece);
            self.drain(out);
        }
    }

    fn drain(&mut self, out: &mut impl FnMut(Alert)) {
        loop {
            if self.doc.is_none() && !self.find_start() {
                return;
            }
            match self.find_end() {
                Some(End::Abort(at)) => {
                    out(Alert::Garbage(AlertError::Json(
                        "a part boundary inside the object".into(),
                    )));
                    self.buf.drain(..at);
                    self.doc = None;
                    self.scanned = 0;
                    self.at_line_start = true;
                }
                Some(End::Found(end)) => {
                    let bytes: Vec<u8> = self.buf.drain(..end).collect();
                    let kind = self.doc.take();
                    self.scanned = 0;
                    self.at_line_start = false;
                    let text = String::from_utf8_lossy(&bytes);
                    out(match kind {
                        Some(Doc::Xml) => read_xml(&text),
                        _ => read_json(&text),
                    });
                }
                None if self.buf.len() > MAX_DOCUMENT => {
                    out(Alert::Garbage(AlertError::TooLarge));
                    // Resume at the next XML start inside the skipped window, if any.
                    let next = find(&self.buf[1..], XML_START).map(|i| i + 1);
                    self.buf.drain(..next.unwrap_or(self.buf.len()));
                    self.doc = None;
                    self.scanned = 0;
                    self.at_line_start = false;
                }
                None => return,
            }
        }
    }

    /// Drops bytes before the next document start; whether one is at `buf[0]` now.
    fn find_start(&mut self) -> bool {
        let xml = find(&self.buf, XML_START);
        let json = (0..self.buf.len()).find(|&i| self.json_starts_at(i) != Some(false));
        if let Some(j) = json.filter(|&j| self.json_starts_at(j).is_none())
            && xml.is_none_or(|x| j < x)
        {
            // Undecided until the next byte that is not whitespace arrives.
            if j > 0 {
                self.at_line_start = self.buf[j - 1] == b'\n';
                self.buf.drain(..j);
            }
            return false;
        }
        let (at, doc) = match (xml, json) {
            (Some(x), Some(j)) if j < x => (
                j,
                Doc::Json {
                    depth: 0,
                    in_string: false,
                    escaped: false,
                },
            ),
            (Some(x), _) => (x, Doc::Xml),
            (None, Some(j)) => (
                j,
                Doc::Json {
                    depth: 0,
                    in_string: false,
                    escaped: false,
                },
            ),
            (None, None) => {
                // Keep a tail that may be the start of a split start tag.
                let keep = XML_START.len() - 1;
                if self.buf.len() > keep {
                    let cut_at = self.buf.len() - keep;
                    self.at_line_start = self.buf[cut_at - 1] == b'\n';
                    self.buf.drain(..cut_at);
                }
                return false;
            }
        };
        if at > 0 {
            self.at_line_start = self.buf[at - 1] == b'\n';
            self.buf.drain(..at);
        }
        self.doc = Some(doc);
        self.scanned = 0;
        true
    }

    /// Whether a JSON object starts at `buf[i]`: a `{` that starts a line, followed by a `"`
    /// or `}` after optional whitespace; `None` while that byte has not arrived. A JPEG part
    /// may hold `\n{`, but rarely `\n{"`.
    fn json_starts_at(&self, i: usize) -> Option<bool> {
        let line_start = if i == 0 {
            self.at_line_start
        } else {
            self.buf[i - 1] == b'\n'
        };
        if self.buf[i] != b'{' || !line_start {
            return Some(false);
        }
        let after = &self.buf[i + 1..];
        match after.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b) => Some(matches!(b, b'"' | b'}')),
            None if after.len() > MAX_JSON_LEAD => Some(false),
            None => None,
        }
    }

    /// The end (exclusive) of the document at `buf[0]`, if it is all there.
    fn find_end(&mut self) -> Option<End> {
        match self.doc? {
            Doc::Xml => {
                let from = self.scanned.saturating_sub(XML_END.len());
                let end = find(&self.buf[from..], XML_END).map(|i| from + i + XML_END.len());
                self.scanned = self.buf.len();
                end.map(End::Found)
            }
            Doc::Json {
                mut depth,
                mut in_string,
                mut escaped,
            } => {
                let mut i = self.scanned;
                while i < self.buf.len() {
                    let b = self.buf[i];
                    if b == b'\n' {
                        // JSON holds no raw newline in a string, and no line starts with
                        // `--`: a boundary here means the object was not JSON after all.
                        match self.buf.get(i + 1..i + 3) {
                            None => break,
                            Some(b"--") => return Some(End::Abort(i + 1)),
                            Some(_) => {}
                        }
                    }
                    i += 1;
                    if in_string {
                        match (escaped, b) {
                            (true, _) => escaped = false,
                            (false, b'\\') => escaped = true,
                            (false, b'"') => in_string = false,
                            _ => {}
                        }
                    } else {
                        match b {
                            b'"' => in_string = true,
                            b'{' | b'[' => depth += 1,
                            b'}' | b']' => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    return Some(End::Found(i));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                self.scanned = i;
                self.doc = Some(Doc::Json {
                    depth,
                    in_string,
                    escaped,
                });
                None
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The fields an alert carries, by name (XML local name or JSON key).
#[derive(Debug, Default)]
struct Fields {
    event_type: Option<String>,
    state: Option<String>,
    description: Option<String>,
    channel: Option<String>,
    time: Option<String>,
    target: Option<String>,
    major: Option<String>,
    minor: Option<String>,
    count: Option<String>,
}

impl Fields {
    fn set(&mut self, name: &str, value: &str) {
        let value = cut(value.trim(), MAX_JSON_VALUE).to_owned();
        let slot = match name {
            "eventType" => &mut self.event_type,
            "eventState" => &mut self.state,
            "eventDescription" => &mut self.description,
            "channelID" | "dynChannelID" | "inputIOPortID" => &mut self.channel,
            "dateTime" => &mut self.time,
            "detectionTarget" | "targetType" => &mut self.target,
            "majorEventType" | "major" => &mut self.major,
            "subEventType" | "minor" => &mut self.minor,
            "activePostCount" => &mut self.count,
            _ => return,
        };
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value);
        }
    }

    fn into_alert(self) -> Alert {
        let Some(event_type) = self.event_type else {
            return Alert::Garbage(AlertError::NoEventType);
        };
        let state = self.state.clone().unwrap_or_default();
        let heartbeat = (event_type.eq_ignore_ascii_case("videoloss")
            && state.eq_ignore_ascii_case("inactive"))
            || (event_type.eq_ignore_ascii_case("other")
                && self
                    .description
                    .as_deref()
                    .is_some_and(|d| d.to_ascii_lowercase().contains("heartbeat")));
        if heartbeat {
            return Alert::Heartbeat;
        }
        let mut data = Items::default();
        let mut push = |name: &str, v: Option<String>| {
            if let Some(v) = v {
                data.0.push((name.to_owned(), v));
            }
        };
        push("eventType", Some(event_type.clone()));
        push("eventState", self.state);
        push("eventDescription", self.description);
        push("detectionTarget", self.target);
        push("major", self.major);
        push("minor", self.minor);
        push("activePostCount", self.count);
        let source = Items(
            self.channel
                .map(|c| vec![("channelID".to_owned(), c)])
                .unwrap_or_default(),
        );
        Alert::Event(Notification {
            topic: format!("{TOPIC_PREFIX}{}", cut(&event_type, 64)),
            raw_topic: event_type,
            source,
            data,
            operation: Some(Operation::Changed),
            utc_time: self.time,
            ..Default::default()
        })
    }
}

/// Reads one `EventNotificationAlert` document (either namespace).
pub fn read_xml(text: &str) -> Alert {
    let doc = match document::parse(text) {
        Ok(d) => d,
        Err(e) => return Alert::Garbage(AlertError::Xml(cut(&e.to_string(), 200).to_owned())),
    };
    let mut fields = Fields::default();
    for node in doc.descendants().filter(|n| n.is_element()) {
        let is_leaf = !node.children().any(|c| c.is_element());
        if is_leaf {
            fields.set(node.tag_name().name(), node.text().unwrap_or_default());
        }
    }
    fields.into_alert()
}

/// Reads one JSON alert (door stations): top-level fields, and those of the object named by
/// `eventType` (e.g. `AccessControllerEvent.majorEventType`).
pub fn read_json(text: &str) -> Alert {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Alert::Garbage(AlertError::Json(cut(&e.to_string(), 200).to_owned())),
    };
    let mut fields = Fields::default();
    let mut take = |obj: &serde_json::Map<String, serde_json::Value>| {
        for (k, v) in obj {
            match v {
                serde_json::Value::String(s) => fields.set(k, s),
                serde_json::Value::Number(n) => fields.set(k, &n.to_string()),
                _ => {}
            }
        }
    };
    let Some(top) = value.as_object() else {
        return Alert::Garbage(AlertError::NoEventType);
    };
    take(top);
    let nested = top
        .get("eventType")
        .and_then(|t| t.as_str())
        .and_then(|t| top.get(t))
        .and_then(|v| v.as_object());
    if let Some(obj) = nested {
        take(obj);
    }
    fields.into_alert()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VMD_V20: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>192.0.2.10</ipAddress>
<portNo>80</portNo>
<protocol>HTTP</protocol>
<channelID>1</channelID>
<dateTime>2026-11-29T08:15:00+01:00</dateTime>
<activePostCount>1</activePostCount>
<eventType>VMD</eventType>
<eventState>active</eventState>
<eventDescription>Motion alarm</eventDescription>
</EventNotificationAlert>"#;

    const HEARTBEAT_PSIA: &str = r#"<EventNotificationAlert version="1.0" xmlns="urn:psialliance-org">
<ipAddress>192.0.2.10</ipAddress><protocol>HTTP</protocol><channelID>1</channelID>
<dateTime>2026-11-29T08:15:00+01:00</dateTime><activePostCount>0</activePostCount>
<eventType>videoloss</eventType><eventState>inactive</eventState>
<eventDescription>videoloss alarm</eventDescription></EventNotificationAlert>"#;

    fn read_in(chunks: &[&[u8]]) -> Vec<Alert> {
        let mut r = AlertReader::new();
        let mut out = Vec::new();
        for c in chunks {
            r.feed(c, &mut |a| out.push(a));
        }
        out
    }

    fn part(ct: &str, body: &str) -> String {
        format!(
            "--boundary\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n{body}\r\n",
            body.len()
        )
    }

    #[test]
    fn both_namespaces_are_read() {
        let stream = format!(
            "{}{}",
            part("application/xml; charset=\"UTF-8\"", VMD_V20),
            part("application/xml", HEARTBEAT_PSIA)
        );
        let out = read_in(&[stream.as_bytes()]);
        assert_eq!(out.len(), 2);
        let Alert::Event(n) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(n.topic, "hikvision:VMD");
        assert_eq!(n.source.get("channelID"), Some("1"));
        assert_eq!(n.data.get("eventState"), Some("active"));
        assert_eq!(n.utc_time.as_deref(), Some("2026-11-29T08:15:00+01:00"));
        assert_eq!(n.data.get("ipAddress"), None);
        assert_eq!(out[1], Alert::Heartbeat);
    }

    #[test]
    fn documents_are_cut_whatever_the_boundary_says() {
        // Announced myboundary, used --boundary (pyHik#10); and any chunking.
        let stream = format!(
            "{}{}",
            part("application/xml", VMD_V20),
            part("application/xml", VMD_V20)
        );
        let whole = read_in(&[stream.as_bytes()]);
        assert_eq!(whole.len(), 2);
        for size in [1, 5, 24, 100] {
            let chunks: Vec<&[u8]> = stream.as_bytes().chunks(size).collect();
            assert_eq!(read_in(&chunks), whole, "chunks of {size}");
        }
    }

    #[test]
    fn a_doorbell_heartbeat_is_other_with_description_heartbeat() {
        let xml = VMD_V20
            .replace(">VMD<", ">other<")
            .replace("Motion alarm", "Heartbeat");
        assert_eq!(read_xml(&xml), Alert::Heartbeat);
        // videoloss active is an event, not a heartbeat.
        let loss = HEARTBEAT_PSIA.replace(">inactive<", ">active<");
        assert!(matches!(read_xml(&loss), Alert::Event(_)));
    }

    #[test]
    fn detection_targets_are_read_from_the_region_list() {
        let xml = VMD_V20.replace(
            "<eventType>VMD</eventType>",
            "<eventType>fielddetection</eventType><DetectionRegionList><DetectionRegionEntry><regionID>1</regionID><detectionTarget>human</detectionTarget></DetectionRegionEntry></DetectionRegionList>",
        );
        let Alert::Event(n) = read_xml(&xml) else {
            panic!()
        };
        assert_eq!(n.data.get("detectionTarget"), Some("human"));
    }

    #[test]
    fn json_parts_on_door_stations_are_read_with_their_nested_event() {
        let json = "{\n \"ipAddress\": \"192.0.2.20\",\n \"dateTime\": \"2026-11-29T08:15:00+01:00\",\n \"activePostCount\": 1,\n \"eventType\": \"AccessControllerEvent\",\n \"eventState\": \"active\",\n \"eventDescription\": \"Access Controller Event\",\n \"AccessControllerEvent\": {\n  \"deviceName\": \"Door {1}\",\n  \"majorEventType\": 3,\n  \"subEventType\": 1024,\n  \"picturesNumber\": 1\n }\n}";
        let stream = format!(
            "--MIME_boundary\r\n{}--MIME_boundary\r\nContent-Type: image/jpeg\r\n\r\n\u{ff}\u{d8}{{xx\r\n",
            part("application/json; charset=\"UTF-8\"", json)
        );
        let out = read_in(&[stream.as_bytes()]);
        let Alert::Event(n) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(n.topic, "hikvision:AccessControllerEvent");
        assert_eq!(n.data.get("major"), Some("3"));
        assert_eq!(n.data.get("minor"), Some("1024"));
        assert_eq!(out.len(), 1, "the JPEG part is skipped: {out:?}");
    }

    #[test]
    fn broken_documents_are_reported_and_the_stream_goes_on() {
        let stream = format!(
            "<EventNotificationAlert><eventType>VMD</eventType></bad></EventNotificationAlert>\r\n{}",
            part("application/xml", VMD_V20)
        );
        let out = read_in(&[stream.as_bytes()]);
        assert!(
            matches!(out[0], Alert::Garbage(AlertError::Xml(_))),
            "{out:?}"
        );
        assert!(matches!(out[1], Alert::Event(_)));
        let no_type =
            "<EventNotificationAlert><eventState>active</eventState></EventNotificationAlert>";
        assert_eq!(read_xml(no_type), Alert::Garbage(AlertError::NoEventType));
    }

    #[test]
    fn a_document_that_never_ends_is_skipped_with_bounded_memory() {
        let mut r = AlertReader::new();
        let mut out = Vec::new();
        r.feed(b"<EventNotificationAlert>", &mut |a| out.push(a));
        for _ in 0..100 {
            r.feed(&[b'x'; 4096], &mut |a| out.push(a));
            assert!(r.buf.len() <= MAX_DOCUMENT + 4096);
        }
        assert!(
            out.iter()
                .all(|a| *a == Alert::Garbage(AlertError::TooLarge))
        );
        assert!(!out.is_empty());
        out.clear();
        r.feed(part("application/xml", VMD_V20).as_bytes(), &mut |a| {
            out.push(a)
        });
        assert!(matches!(out[..], [Alert::Event(_)]), "{out:?}");
    }

    #[test]
    fn a_json_start_cut_off_by_a_boundary_is_skipped_and_the_next_part_read() {
        let json = "{\"eventType\":\"VMD\",\"eventState\":\"active\"}";
        let stream = format!(
            "\n{{\"broken\": [1, 2,\r\n{}",
            part("application/json", json)
        );
        let out = read_in(&[stream.as_bytes()]);
        assert!(
            matches!(out[0], Alert::Garbage(AlertError::Json(_))),
            "{out:?}"
        );
        assert!(
            matches!(&out[1], Alert::Event(n) if n.topic == "hikvision:VMD"),
            "{out:?}"
        );
        for size in [1, 2, 7] {
            let chunks: Vec<&[u8]> = stream.as_bytes().chunks(size).collect();
            assert_eq!(read_in(&chunks), out, "chunks of {size}");
        }
    }

    #[test]
    fn a_brace_followed_by_endless_whitespace_is_not_held() {
        let mut r = AlertReader::new();
        let mut out = Vec::new();
        r.feed(b"\n{", &mut |a| out.push(a));
        for _ in 0..10_000 {
            r.feed(b" ", &mut |a| out.push(a));
            assert!(r.buf.len() <= MAX_JSON_LEAD + XML_START.len() + 2);
        }
        r.feed(part("application/xml", VMD_V20).as_bytes(), &mut |a| {
            out.push(a)
        });
        assert!(matches!(out[..], [Alert::Event(_)]), "{out:?}");
    }

    #[test]
    fn an_endless_json_object_is_skipped_and_a_later_xml_document_read() {
        let mut r = AlertReader::new();
        let mut out = Vec::new();
        r.feed(b"{\"a\":", &mut |a| out.push(a));
        for _ in 0..40 {
            r.feed(&[b'['; 4096], &mut |a| out.push(a));
        }
        r.feed(VMD_V20.as_bytes(), &mut |a| out.push(a));
        assert!(out.contains(&Alert::Garbage(AlertError::TooLarge)));
        assert!(matches!(out.last(), Some(Alert::Event(_))), "{out:?}");
    }
}
