//! Config fixtures: every valid one parses; every invalid one fails with the message in its
//! first line (`# expect: ...`), because the message is user interface.

use std::path::Path;

use doorbell_bridge::config;

fn fixtures(dir: &str) -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn valid_configs_parse() {
    let files = fixtures("valid");
    assert!(!files.is_empty(), "no valid fixtures found");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        if let Err(e) = config::from_toml(&text, &f) {
            panic!("{}: {e}", f.display());
        }
    }
}

#[test]
fn invalid_configs_fail_with_their_message() {
    let files = fixtures("invalid");
    assert!(files.len() >= 5, "invalid fixtures missing");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let want = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: first line must be '# expect: ...'", f.display()));
        let err = config::from_toml(&text, &f).expect_err(&f.display().to_string());
        let got = err.to_string();
        assert!(got.starts_with(&f.display().to_string()), "{got}");
        assert!(
            got.contains(want),
            "{}:\n want {want:?}\n got  {got:?}",
            f.display()
        );
    }
}

#[test]
fn example_config_parses() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let text = std::fs::read_to_string(&f).unwrap();
    let c = config::from_toml(&text, &f).unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.cameras.is_empty());
}
