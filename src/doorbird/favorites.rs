//! DoorBird favorites (`/bha-api/favorites.cgi`): the listing, which entries are the bridge's,
//! and the save and remove requests.
//!
//! The listing is `{"sip":{"<id>":{"title":..,"value":..}},"http":{"<id>":{..}}}` (doorbirdpy
//! `favorites()`; Home Assistant reads `favs["http"][id]["value"]`). A favorite is the bridge's
//! when its title is exactly [`super::title`] of the camera and input; every other favorite
//! (Home Assistant's, the user's, another camera's) is left alone.

use std::fmt;

use url::Url;

use super::{Error, MAX_JSON_VALUE, cut, scalar};

/// At most this many HTTP favorites are read from a listing.
pub const MAX_READ: usize = 64;
/// Longest favorite id used (DoorBird numbers them); a longer one is skipped.
pub const MAX_ID: usize = 16;
/// Longest title or value compared; longer ones are cut (and so never match ours).
pub const MAX_TEXT: usize = 2 * MAX_JSON_VALUE;

/// One HTTP favorite of the device.
#[derive(Clone, PartialEq, Eq)]
pub struct Favorite {
    /// Its id (digits on the device; `[A-Za-z0-9_-]` accepted).
    pub id: String,
    /// Its title.
    pub title: String,
    /// The URL the device calls. It may hold another integration's token or our route's: it
    /// is never printed (Debug shows `***`).
    pub value: String,
}

impl fmt::Debug for Favorite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Favorite")
            .field("id", &self.id)
            .field("title", &self.title)
            .field("value", &"***")
            .finish()
    }
}

/// The HTTP favorites of a listing, in id order (at most [`MAX_READ`]).
pub fn parse(text: &str) -> Result<Vec<Favorite>, Error> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::Json(e.to_string()))?;
    let root = value
        .as_object()
        .ok_or(Error::Shape("is not an object of favorite types"))?;
    if let Some(bha) = root.get("BHA") {
        super::check_return_code(bha)?;
    }
    let Some(http) = root.get("http") else {
        // A device with no HTTP favorite leaves the type out.
        return Ok(Vec::new());
    };
    let http = http
        .as_object()
        .ok_or(Error::Shape("its http favorites are not an object"))?;
    let mut out: Vec<Favorite> = http
        .iter()
        .filter(|(id, _)| valid_id(id))
        .take(MAX_READ)
        .filter_map(|(id, fav)| {
            let text = |name: &str| {
                fav.get(name)
                    .and_then(scalar)
                    .map(|s| cut(s, MAX_TEXT).to_owned())
            };
            Some(Favorite {
                id: id.clone(),
                title: text("title").unwrap_or_default(),
                value: text("value")?,
            })
        })
        .collect();
    out.sort_by(|a, b| id_order(&a.id, &b.id));
    Ok(out)
}

fn id_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// Whether `id` may be used in a request and a schedule entry.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What to do with the bridge's favorites for one title.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The favorite to use: ours, already holding the URL the device is to call.
    pub keep: Option<String>,
    /// Favorites titled as ours that are not kept (an earlier run's URL, duplicates).
    pub remove: Vec<String>,
}

/// Sorts the favorites titled `title` into the one to keep (the first whose value is `value`)
/// and the stale ones to remove. Favorites with other titles are never touched.
pub fn plan(favorites: &[Favorite], title: &str, value: &str) -> Plan {
    let mut plan = Plan::default();
    for f in favorites.iter().filter(|f| f.title == title) {
        if plan.keep.is_none() && f.value == value {
            plan.keep = Some(f.id.clone());
        } else {
            plan.remove.push(f.id.clone());
        }
    }
    plan
}

/// The id of the favorite titled `title` whose value is `value`, if the device has it.
pub fn find(favorites: &[Favorite], title: &str, value: &str) -> Option<String> {
    plan(favorites, title, value).keep
}

/// `favorites.cgi?action=save&type=http&title=<title>&value=<value>` on `base` (the
/// device's origin); doorbirdpy `change_favorite`. It holds the route token: never log it.
pub fn save_url(base: &Url, title: &str, value: &str) -> Result<Url, url::ParseError> {
    let mut url = base.join(super::FAVORITES_PATH)?;
    url.query_pairs_mut()
        .append_pair("action", "save")
        .append_pair("type", "http")
        .append_pair("title", title)
        .append_pair("value", value);
    Ok(url)
}

/// `favorites.cgi?action=remove&type=http&id=<id>` on `base`; doorbirdpy `delete_favorite`.
pub fn remove_url(base: &Url, id: &str) -> Result<Url, url::ParseError> {
    let mut url = base.join(super::FAVORITES_PATH)?;
    url.query_pairs_mut()
        .append_pair("action", "remove")
        .append_pair("type", "http")
        .append_pair("id", id);
    Ok(url)
}

/// `favorites.cgi` (the listing) on `base`.
pub fn list_url(base: &Url) -> Result<Url, url::ParseError> {
    base.join(super::FAVORITES_PATH)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `tests/fixtures/doorbird/favorites.json` (inline: the crate builds from `src/` alone).
    const LISTING: &str = r#"{"sip":{"0":{"title":"Indoor station","value":"sip:108@192.168.123.22"}},"http":{"0":{"title":"Home Assistant (front_doorbell_ring)","value":"http://192.168.1.10:8123/api/doorbird/front_doorbell_ring?token=abc"},"1":{"title":"doorbell-bridge front (doorbell)","value":"http://192.168.1.5:8090/push/front/OLDTOKEN?event=doorbell"},"2":{"title":"doorbell-bridge front (motion)","value":"http://192.168.1.5:8090/push/front/OLDTOKEN?event=motion"},"3":{"title":"doorbell-bridge front_2 (doorbell)","value":"http://192.168.1.5:8090/push/front_2/OTHER?event=doorbell"}}}"#;

    #[test]
    fn the_listing_gives_the_http_favorites_in_id_order() {
        let favs = parse(LISTING).unwrap();
        assert!(!favs.is_empty());
        let ids: Vec<&str> = favs.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["0", "1", "2", "3"]);
        assert_eq!(favs[1].title, "doorbell-bridge front (doorbell)");
        assert!(
            !format!("{favs:?}").contains("OLDTOKEN"),
            "values are not printed"
        );
    }

    #[test]
    fn stale_favorites_of_the_camera_are_removed_and_others_left_alone() {
        let favs = parse(LISTING).unwrap();
        let title = crate::doorbird::title("front", crate::doorbird::Input::Doorbell);
        let new = "http://192.168.1.5:8090/push/front/NEW?event=doorbell";
        let p = plan(&favs, &title, new);
        assert_eq!(p.keep, None);
        assert_eq!(p.remove, ["1"], "not Home Assistant's, not front_2's");
        let old = "http://192.168.1.5:8090/push/front/OLDTOKEN?event=doorbell";
        assert_eq!(
            plan(&favs, &title, old),
            Plan {
                keep: Some("1".into()),
                remove: vec![]
            }
        );
        assert_eq!(find(&favs, &title, old).as_deref(), Some("1"));
    }

    #[test]
    fn duplicates_of_our_favorite_are_removed_too() {
        let fav = |id: &str| Favorite {
            id: id.into(),
            title: "t".into(),
            value: "v".into(),
        };
        let p = plan(&[fav("4"), fav("9")], "t", "v");
        assert_eq!(p.keep.as_deref(), Some("4"));
        assert_eq!(p.remove, ["9"]);
    }

    #[test]
    fn a_listing_is_read_within_bounds() {
        let many: serde_json::Map<String, serde_json::Value> = (0..500)
            .map(|i| {
                (
                    i.to_string(),
                    serde_json::json!({"title": "x".repeat(5000), "value": "v"}),
                )
            })
            .collect();
        let text = serde_json::json!({ "http": many }).to_string();
        let favs = parse(&text).unwrap();
        assert_eq!(favs.len(), MAX_READ);
        assert!(favs.iter().all(|f| f.title.len() <= MAX_TEXT));
        let odd = r#"{"http":{"../x":{"title":"t","value":"v"},"7":{"title":"t"}}}"#;
        assert!(parse(odd).unwrap().is_empty(), "bad id, no value");
        assert_eq!(parse(r#"{"sip":{}}"#).unwrap(), vec![]);
        assert!(matches!(parse("[]"), Err(Error::Shape(_))));
        assert!(matches!(parse("nope"), Err(Error::Json(_))));
    }

    #[test]
    fn the_requests_encode_title_and_value() {
        let base = Url::parse("http://10.0.0.9/").unwrap();
        let url = save_url(
            &base,
            "doorbell-bridge front (doorbell)",
            "http://h:1/p/t?event=doorbell",
        )
        .unwrap();
        assert_eq!(url.path(), "/bha-api/favorites.cgi");
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            [
                ("action".into(), "save".into()),
                ("type".into(), "http".into()),
                ("title".into(), "doorbell-bridge front (doorbell)".into()),
                ("value".into(), "http://h:1/p/t?event=doorbell".into()),
            ]
        );
        assert_eq!(
            remove_url(&base, "3").unwrap().as_str(),
            "http://10.0.0.9/bha-api/favorites.cgi?action=remove&type=http&id=3"
        );
    }
}
