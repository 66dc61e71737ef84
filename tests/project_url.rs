//! The project's URL is written once, as `repository` in `Cargo.toml`; every other file that
//! carries it must agree, so moving the project is a one-line change plus what this test lists.

use std::path::{Path, PathBuf};

use regex::Regex;
use sha1::{Digest, Sha1};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `[package] repository` in Cargo.toml.
fn repository() -> String {
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml");
    let url = manifest["package"]["repository"]
        .as_str()
        .expect("Cargo.toml: [package] repository is the project's URL; set it")
        .to_owned();
    assert!(
        url.starts_with("https://github.com/") && !url.ends_with('/') && !url.ends_with(".git"),
        "Cargo.toml repository {url:?}: the blueprint and release links assume \
         https://github.com/<owner>/<name>"
    );
    url
}

/// `<owner>/<name>` of the repository URL.
fn slug(url: &str) -> &str {
    url.trim_start_matches("https://github.com/")
}

/// The raw URL of a file on the default branch (what Home Assistant imports a blueprint from).
fn raw_url(repository: &str, path: &str) -> String {
    format!(
        "https://raw.githubusercontent.com/{}/main/{path}",
        slug(repository)
    )
}

/// The first value of a top-level `key: value` line of a YAML file.
fn yaml_top_level(rel: &str, key: &str) -> String {
    let text = read(rel);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("{rel}: no top-level {key}"))
        .trim()
        .to_owned()
}

const BLUEPRINT: &str = "blueprints/automation/doorbell-bridge/ring_notification.yaml";

#[test]
fn every_file_that_names_the_project_url_agrees_with_cargo_toml() {
    let repo = repository();
    let blueprint = read(BLUEPRINT);
    let dockerfile = read("ha-addon/Dockerfile");
    let readme = read("README.md");
    let import = format!(
        "https://my.home-assistant.io/redirect/blueprint_import/?blueprint_url={}",
        raw_url(&repo, BLUEPRINT)
    );
    // (file, what it must hold, why)
    let table: Vec<(&str, bool, String)> = vec![
        (
            "ha-addon/config.yaml",
            yaml_top_level("ha-addon/config.yaml", "url") == repo,
            format!("url: {repo}"),
        ),
        (
            "repository.yaml",
            yaml_top_level("repository.yaml", "url") == repo,
            format!("url: {repo}"),
        ),
        (
            "ha-addon/Dockerfile",
            dockerfile.contains(&format!("org.opencontainers.image.source=\"{repo}\"")),
            format!("org.opencontainers.image.source=\"{repo}\""),
        ),
        (
            "ha-addon/Dockerfile",
            dockerfile.contains(&format!("\nARG SOURCE_REPOSITORY={repo}\n")),
            format!("ARG SOURCE_REPOSITORY={repo} (what a build from the app folder fetches)"),
        ),
        (
            BLUEPRINT,
            blueprint.contains(&format!("source_url: {repo}/blob/main/{BLUEPRINT}\n")),
            format!("source_url: {repo}/blob/main/{BLUEPRINT}"),
        ),
        ("README.md", readme.contains(&import), import.clone()),
    ];
    assert!(!table.is_empty());
    let wrong: Vec<String> = table
        .iter()
        .filter(|(_, ok, _)| !ok)
        .map(|(file, _, want)| format!("{file}: expected {want}"))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(doorbell_bridge::mqtt::discovery::SUPPORT_URL, repo);
}

/// Any link to a GitHub repository named like this one, anywhere in the tracked text files,
/// points to the repository of Cargo.toml (a copy left behind when the project moves fails).
#[test]
fn no_file_links_to_another_copy_of_the_project() {
    let repo = repository();
    let link =
        Regex::new(r"(?:github\.com|githubusercontent\.com)/([A-Za-z0-9_.-]+/doorbell-bridge)\b")
            .unwrap();
    let mut files = Vec::new();
    walk(&root(), &mut files);
    assert!(files.len() > 10, "the walk found the repository's files");
    let mut wrong = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue; // binary
        };
        for m in link.captures_iter(&text) {
            if &m[1] != slug(&repo) {
                wrong.push(format!("{}: {}", file.display(), &m[0]));
            }
        }
    }
    assert!(wrong.is_empty(), "not {repo}:\n{}", wrong.join("\n"));
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !(name.starts_with('.') && name != ".github" && name != ".ci" || name == "target") {
                walk(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// The Supervisor names an app from a repository `<first 8 hex of sha1(lowercased URL)>_<slug>`
/// (`supervisor/store/utils.py`, `get_hash_from_repository`); the blueprint's default tap path
/// is that app's panel, so it follows the URL.
#[test]
fn the_blueprint_opens_the_panel_of_the_app_installed_from_this_repository() {
    let repo = repository();
    let hash: String = Sha1::digest(repo.to_lowercase().as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    let app_slug = yaml_top_level("ha-addon/config.yaml", "slug");
    let expected = format!("default: /hassio/ingress/{hash}_{app_slug}\n");
    assert!(
        read(BLUEPRINT).contains(&expected),
        "{BLUEPRINT}: the tap_path default must be {expected:?}"
    );
}
