//! The page's HTML (pure): server-rendered, every text escaped, every link relative so the
//! page works at `/` and under any prefix (Home Assistant's ingress) alike. The script and
//! the style are files of their own (`app.js`, `app.css`), so the policy can forbid inline
//! code and anything from another origin.

use std::fmt::Write as _;

use url::form_urlencoded;

use super::index::{Cursor, Entry, EventId, Page, Query};
use crate::event::{CameraId, Kind};

/// The kinds the filter offers: every event kind, then the pictures asked for and timed.
pub fn filter_kinds() -> impl Iterator<Item = &'static str> {
    Kind::ALL
        .iter()
        .map(|k| k.as_str())
        .chain(["demand", "interval"])
}

/// `text` with `& < > " '` escaped, for element text and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Names of the cameras for display: configured ones first, by id.
#[derive(Debug, Clone, Default)]
pub struct Names(pub Vec<(CameraId, String)>);

impl Names {
    fn of<'a>(&'a self, id: &'a CameraId) -> &'a str {
        self.0
            .iter()
            .find(|(c, _)| c == id)
            .map_or(id.as_str(), |(_, n)| n.as_str())
    }
}

/// What the whole page shows.
pub struct View<'a> {
    /// Camera names.
    pub names: &'a Names,
    /// The filters in force.
    pub query: &'a Query,
    /// The newest picture of each camera.
    pub live: &'a [(CameraId, Option<EventId>)],
    /// The first page of events.
    pub page: &'a Page,
    /// The form token (log out).
    pub csrf: &'a str,
    /// Whether the viewer logged in (shows "Log out").
    pub logged_in: bool,
}

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{}</title><link rel=\"icon\" href=\"icon.svg\"><link rel=\"stylesheet\" href=\"app.css\">\
         <script src=\"app.js\" defer></script></head><body>",
        escape(title)
    );
}

/// The timeline page.
pub fn document(v: &View<'_>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    head(&mut out, "Visitors");
    out.push_str("<header><h1>Visitors</h1>");
    if v.logged_in {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"logout\"><input type=\"hidden\" name=\"token\" \
             value=\"{}\"><button>Log out</button></form>",
            escape(v.csrf)
        );
    }
    out.push_str("</header>");
    out.push_str("<section id=\"live\" aria-label=\"Latest pictures\">");
    out.push_str(&live(v.names, v.live));
    out.push_str("</section>");
    filters(&mut out, v.names, v.query);
    out.push_str("<ol id=\"timeline\">");
    out.push_str(&items(v.names, &v.page.entries));
    out.push_str("</ol>");
    out.push_str(&older(v.query, v.page));
    if v.page.entries.is_empty() && v.page.next.is_none() {
        out.push_str("<p id=\"empty\">No events yet.</p>");
    }
    out.push_str("</body></html>");
    out
}

/// The newest picture of each camera.
pub fn live(names: &Names, live: &[(CameraId, Option<EventId>)]) -> String {
    let mut out = String::new();
    for (camera, latest) in live {
        let name = escape(names.of(camera));
        match latest {
            Some(id) => {
                let _ = write!(
                    out,
                    "<figure class=\"cam\" data-camera=\"{c}\"><img src=\"files/{f}\" alt=\"{name}\">\
                     <figcaption>{name} <time>{day} {clock}</time></figcaption></figure>",
                    c = camera,
                    f = escape(&id.file("jpg")),
                    day = escape(&id.day),
                    clock = id.clock(),
                );
            }
            None => {
                let _ = write!(
                    out,
                    "<figure class=\"cam none\" data-camera=\"{camera}\"><div class=\"nopic\">No picture yet</div>\
                     <figcaption>{name}</figcaption></figure>"
                );
            }
        }
    }
    out
}

fn filters(out: &mut String, names: &Names, q: &Query) {
    out.push_str("<form id=\"filters\" method=\"get\" action=\"./\"><label>Camera <select name=\"camera\"><option value=\"\">All</option>");
    for (id, name) in &names.0 {
        let sel = if q.camera.as_ref() == Some(id) {
            " selected"
        } else {
            ""
        };
        let _ = write!(out, "<option value=\"{id}\"{sel}>{}</option>", escape(name));
    }
    out.push_str(
        "</select></label><label>Kind <select name=\"kind\"><option value=\"\">All events</option>",
    );
    for k in filter_kinds() {
        let sel = if q.kind.as_deref() == Some(k) {
            " selected"
        } else {
            ""
        };
        let _ = write!(out, "<option value=\"{k}\"{sel}>{}</option>", label(k));
    }
    let _ = write!(
        out,
        "</select></label><label>From <input type=\"date\" name=\"date\" value=\"{}\"></label>\
         <button>Show</button></form>",
        escape(q.date.as_deref().unwrap_or(""))
    );
}

/// A kind as people say it.
pub fn label(kind: &str) -> String {
    match kind {
        "demand" => "Snapshot".to_owned(),
        "interval" => "Timed picture".to_owned(),
        "line_crossing" => "Line crossing".to_owned(),
        k => {
            let mut c = k.chars();
            c.next().map_or_else(String::new, |f| {
                f.to_uppercase()
                    .chain(c)
                    .collect::<String>()
                    .replace('_', " ")
            })
        }
    }
}

/// The list items of `entries`: a day heading before each day's first event (the script
/// removes a heading that repeats one above it when pages join).
pub fn items(names: &Names, entries: &[Entry]) -> String {
    let mut out = String::new();
    let mut day: Option<&str> = None;
    for e in entries {
        if day != Some(e.id.day.as_str()) {
            day = Some(&e.id.day);
            let _ = write!(
                out,
                "<li class=\"day\" data-day=\"{d}\"><h2>{}</h2></li>",
                escape(&day_title(&e.id.day)),
                d = escape(&e.id.day)
            );
        }
        item(&mut out, names, e);
    }
    out
}

fn item(out: &mut String, names: &Names, e: &Entry) {
    let id = escape(&e.id.to_string());
    let kind = e.id.kind();
    let name = escape(names.of(&e.id.camera));
    let _ = write!(
        out,
        "<li class=\"event\" data-id=\"{id}\" data-kind=\"{k}\"><div class=\"media\">",
        k = escape(kind)
    );
    let poster = e.picture.then(|| escape(&e.id.file("jpg")));
    match (e.clip, &poster) {
        (Some(true), _) => {
            let _ = write!(
                out,
                "<video controls preload=\"none\" playsinline src=\"files/{}\"{}></video>",
                escape(&e.id.file("mp4")),
                poster
                    .as_ref()
                    .map(|p| format!(" poster=\"files/{p}\""))
                    .unwrap_or_default()
            );
        }
        (_, Some(p)) => {
            let _ = write!(
                out,
                "<a href=\"files/{p}\"><img loading=\"lazy\" decoding=\"async\" src=\"files/{p}\" \
                 alt=\"{} at {name}\"></a>",
                escape(&label(kind))
            );
        }
        (_, None) => out.push_str("<div class=\"nopic\">No picture</div>"),
    }
    let _ = write!(
        out,
        "</div><p><strong>{}</strong> <span class=\"camera\">{name}</span> <time>{}</time>{}</p>\
         <a class=\"delete\" href=\"delete?id={}\">Delete</a></li>",
        escape(&label(kind)),
        e.id.clock(),
        if e.clip == Some(false) {
            " <span class=\"note\">no clip recorded</span>"
        } else {
            ""
        },
        query_value(&e.id.to_string()),
    );
}

/// `2026-11-30` as `Monday 30 November 2026`.
pub fn day_title(day: &str) -> String {
    day.parse::<jiff::civil::Date>().map_or_else(
        |_| day.to_owned(),
        |d| d.strftime("%A %-d %B %Y").to_string(),
    )
}

fn query_value(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// The query string of `q` (without the cursors unless given), for links.
pub fn query_string(q: &Query, before: Option<&Cursor>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    if let Some(c) = &q.camera {
        s.append_pair("camera", c.as_str());
    }
    if let Some(k) = &q.kind {
        s.append_pair("kind", k);
    }
    if let Some(d) = &q.date {
        s.append_pair("date", d);
    }
    if let Some(b) = before {
        s.append_pair("before", &b.to_string());
    }
    s.finish()
}

/// The link to the next page (the script turns it into infinite scroll).
pub fn older(q: &Query, page: &Page) -> String {
    match &page.next {
        Some(next) => format!(
            "<p id=\"more\"><a class=\"older\" href=\"./?{}\">Older events</a></p>",
            escape(&query_string(q, Some(next)))
        ),
        None => "<p id=\"more\"></p>".to_owned(),
    }
}

/// The login form.
pub fn login(error: Option<&str>) -> String {
    let mut out = String::new();
    head(&mut out, "Visitors: log in");
    out.push_str("<main class=\"narrow\"><h1>Visitors</h1>");
    if let Some(e) = error {
        let _ = write!(out, "<p class=\"error\" role=\"alert\">{}</p>", escape(e));
    }
    out.push_str(
        "<form method=\"post\" action=\"login\"><label>Password <input type=\"password\" \
         name=\"password\" autocomplete=\"current-password\" required autofocus></label>\
         <button>Log in</button></form></main></body></html>",
    );
    out
}

/// The question before deleting `entry`.
pub fn confirm_delete(names: &Names, entry: &Entry, csrf: &str) -> String {
    let mut out = String::new();
    head(&mut out, "Delete this event?");
    let id = &entry.id;
    let _ = write!(
        out,
        "<main class=\"narrow\"><h1>Delete this event?</h1><p>{} at {}, {} {}. Its picture and \
         clip are deleted from the archive for good.</p>",
        escape(&label(id.kind())),
        escape(names.of(&id.camera)),
        escape(&day_title(&id.day)),
        id.clock()
    );
    if entry.picture {
        let _ = write!(
            out,
            "<img class=\"confirm\" src=\"files/{}\" alt=\"\">",
            escape(&id.file("jpg"))
        );
    }
    let _ = write!(
        out,
        "<form method=\"post\" action=\"delete\"><input type=\"hidden\" name=\"id\" value=\"{}\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\"><button class=\"danger\">Delete</button> \
         <a href=\"./\">Cancel</a></form></main></body></html>",
        escape(&id.to_string()),
        escape(csrf)
    );
    out
}

/// A short page with a message and a link back.
pub fn notice(title: &str, text: &str) -> String {
    let mut out = String::new();
    head(&mut out, title);
    let _ = write!(
        out,
        "<main class=\"narrow\"><h1>{}</h1><p>{}</p><p><a href=\"./\">Back to the visitors</a></p></main></body></html>",
        escape(title),
        escape(text)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names(vec![(
            CameraId::new("front").unwrap(),
            "Front <door> & \"porch\"".to_owned(),
        )])
    }

    fn entry(id: &str, picture: bool, clip: Option<bool>) -> Entry {
        Entry {
            id: EventId::parse(id).unwrap(),
            picture,
            clip,
        }
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        let html = items(
            &names(),
            &[entry("front/2026-11-30/091500.500_ring", true, None)],
        );
        assert!(
            html.contains("Front &lt;door&gt; &amp; &quot;porch&quot;"),
            "{html}"
        );
        assert!(!html.contains("<door>"));
    }

    #[test]
    fn a_camera_name_cannot_break_out_of_the_page() {
        let hostile = Names(vec![(
            CameraId::new("front").unwrap(),
            "</select><script>alert(1)</script>".to_owned(),
        )]);
        let page = Page {
            entries: vec![entry("front/2026-11-30/091500.500_ring", true, None)],
            ..Page::default()
        };
        let doc = document(&View {
            names: &hostile,
            query: &Query::default(),
            live: &[(CameraId::new("front").unwrap(), None)],
            page: &page,
            csrf: "t",
            logged_in: false,
        });
        assert!(!doc.contains("<script>alert"), "{doc}");
        assert_eq!(doc.matches("<script").count(), 1, "only app.js");
    }

    #[test]
    fn an_event_shows_its_clip_or_its_picture() {
        let n = names();
        let clip = items(
            &n,
            &[entry("front/2026-11-30/091500.500_ring", true, Some(true))],
        );
        assert!(clip.contains("<video"), "{clip}");
        assert!(clip.contains("src=\"files/front/2026-11-30/091500.500_ring.mp4\""));
        assert!(clip.contains("poster=\"files/front/2026-11-30/091500.500_ring.jpg\""));
        let pic = items(
            &n,
            &[entry(
                "front/2026-11-30/091500.500_person",
                true,
                Some(false),
            )],
        );
        assert!(!pic.contains("<video"));
        assert!(pic.contains("<img loading=\"lazy\""));
        assert!(pic.contains("no clip recorded"));
        assert!(pic.contains("<strong>Person</strong>"));
        assert!(pic.contains("<time>09:15:00</time>"));
        assert!(pic.contains("href=\"delete?id=front%2F2026-11-30%2F091500.500_person\""));
    }

    #[test]
    fn days_get_one_heading_each() {
        let html = items(
            &names(),
            &[
                entry("front/2026-11-30/091500.500_ring", true, None),
                entry("front/2026-11-30/081500.500_ring", true, None),
                entry("front/2026-11-29/081500.500_motion", true, None),
            ],
        );
        assert_eq!(html.matches("class=\"day\"").count(), 2);
        assert!(html.contains("Monday 30 November 2026"), "{html}");
    }

    #[test]
    fn links_are_relative_and_carry_the_filters() {
        let q = Query {
            camera: Some(CameraId::new("front").unwrap()),
            kind: Some("ring".into()),
            ..Query::default()
        };
        let page = Page {
            next: Cursor::parse("front/2026-11-30/091500.500_ring"),
            ..Page::default()
        };
        let link = older(&q, &page);
        assert!(
            link.contains("href=\"./?camera=front&amp;kind=ring&amp;before=front%2F2026-11-30%2F091500.500_ring\""),
            "{link}"
        );
        let doc = document(&View {
            names: &names(),
            query: &q,
            live: &[],
            page: &page,
            csrf: "t",
            logged_in: true,
        });
        for abs in ["href=\"/", "src=\"/", "action=\"/", "http://", "https://"] {
            assert!(!doc.contains(abs), "{abs} in {doc}");
        }
        assert!(doc.contains("<option value=\"ring\" selected>Ring</option>"));
        assert!(doc.contains("action=\"logout\""));
    }

    #[test]
    fn the_confirmation_carries_the_form_token() {
        let html = confirm_delete(
            &names(),
            &entry("front/2026-11-30/091500.500_ring", true, None),
            "abc123",
        );
        assert!(html.contains("name=\"token\" value=\"abc123\""));
        assert!(html.contains("method=\"post\" action=\"delete\""));
        assert!(html.contains("Ring at Front &lt;door&gt;"));
    }

    #[test]
    fn every_filter_kind_has_a_label() {
        let kinds: Vec<_> = filter_kinds().collect();
        assert!(kinds.len() > 10);
        for k in kinds {
            assert!(!label(k).is_empty() && !label(k).contains('_'), "{k}");
        }
    }
}
