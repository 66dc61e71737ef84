//! The DoorBird LAN API fixtures (`tests/fixtures/doorbird/`, composed from the public
//! descriptions, see its README) read by the crate's pure DoorBird readers.

use doorbell_bridge::doorbird::{self, Input, favorites, schedule};

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/doorbird")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `info.cgi` answers and what is read from them: (file, model, firmware, MAC).
const INFO: &[(&str, Option<&str>, &str, &str)] = &[
    (
        "info.json",
        Some("DoorBird D2101V"),
        "000125 build 15870439",
        "1c:ca:e3:71:12:34",
    ),
    (
        "info-wifi-only.json",
        None,
        "000109 build 5504573",
        "1c:ca:e3:70:9a:bc",
    ),
];

#[test]
fn every_info_fixture_gives_its_device_information() {
    assert!(!INFO.is_empty());
    for (file, model, firmware, mac) in INFO {
        let info = doorbird::parse_info(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(info.manufacturer.as_deref(), Some("DoorBird"), "{file}");
        assert_eq!(info.model.as_deref(), *model, "{file}");
        assert_eq!(info.firmware.as_deref(), Some(*firmware), "{file}");
        assert_eq!(info.mac.as_deref(), Some(*mac), "{file}");
    }
}

#[test]
fn the_fixture_favorites_and_schedule_are_relinked_to_a_new_registration() {
    let favs = favorites::parse(&fixture("favorites.json")).unwrap();
    assert!(!favs.is_empty());
    let entries = schedule::parse(&fixture("schedule.json")).unwrap();
    assert!(!entries.is_empty());
    let mut stale = Vec::new();
    for input in Input::ALL {
        let url = format!(
            "http://192.168.1.5:8090/push/front/NEW?event={}",
            input.as_str()
        );
        let plan = favorites::plan(&favs, &doorbird::title("front", input), &url);
        assert_eq!(
            plan.keep, None,
            "{input:?}: the fixture holds only an old URL"
        );
        assert_eq!(
            plan.remove.len(),
            1,
            "{input:?}: one stale favorite of camera front"
        );
        stale.extend(plan.remove);
    }
    assert_eq!(stale, ["1", "2"]);
    let bell = schedule::relink(&entries, Input::Doorbell, "9", &stale);
    assert_eq!(bell.len(), 1);
    assert!(bell[0].calls("9") && bell[0].calls("0") && !bell[0].calls("1"));
    let motion = schedule::relink(&entries, Input::Motion, "10", &stale);
    assert!(motion[0].calls("10") && !motion[0].calls("2"));
    assert!(
        entries.iter().any(|e| e.input == "rfid"),
        "other inputs are read and left alone"
    );
}
