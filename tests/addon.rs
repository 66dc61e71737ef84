//! The Home Assistant app in `ha-addon/`: its `config.yaml` against the Supervisor's rules
//! (offline, see `addon_support/supervisor.rs`), the files around it, and the script that turns
//! the app options into the bridge's TOML, run with a fake bashio and loaded by the bridge.

#[path = "addon_support/dockerfile.rs"]
mod dockerfile;
#[path = "addon_support/options.rs"]
mod options;
#[path = "addon_support/script.rs"]
mod script;
#[path = "addon_support/supervisor.rs"]
mod supervisor;
// The external-tools rule the other tests share (tests/support), its pure part tested here.
#[path = "support/tools.rs"]
mod tools;
#[path = "addon_support/yaml.rs"]
mod yaml;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn load_yaml(rel: &str) -> Value {
    yaml::yaml_to_json(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn assert_none(problems: Vec<String>, what: &str) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

#[test]
fn config_yaml_passes_the_supervisor_checks() {
    let c = load_yaml("ha-addon/config.yaml");
    assert_none(supervisor::check_app_config(&c), "ha-addon/config.yaml");
    for f in [
        "ha-addon/config.yaml",
        "ha-addon/translations/en.yaml",
        "repository.yaml",
    ] {
        assert_none(yaml::yaml11_ambiguities(&read(f)), f);
    }
    // What the packaging issue asks for, beyond what the Supervisor requires.
    assert_eq!(c["slug"], "doorbell_bridge");
    assert_eq!(c["arch"], json!(["aarch64", "amd64"]));
    assert_eq!(c["init"], false, "s6-overlay must be PID 1");
    assert!(
        c["services"]
            .as_array()
            .unwrap()
            .contains(&json!("mqtt:need"))
    );
    assert_eq!(c["homeassistant"], "2024.11.0");
    assert_eq!(c["timeout"], 20);
    assert_eq!(
        c.get("host_network").cloned().unwrap_or(json!(false)),
        false
    );
    let map = c["map"].as_array().unwrap();
    let mapped_rw = |types: &[&str]| {
        map.iter().any(|m| {
            types.contains(&m["type"].as_str().unwrap_or_default()) && m["read_only"] == false
        })
    };
    assert!(mapped_rw(&["media"]), "media must be mapped read-write");
    assert!(
        mapped_rw(&["addon_config", "app_config"]),
        "the app config folder must be mapped"
    );
    assert_eq!(c["options"]["log_level"], "info");
    // The push listener's port is declared but off (null) until the user sets a host port.
    assert_eq!(c["ports"], json!({"8090/tcp": null}));
    assert!(c["ports_description"]["8090/tcp"].is_string());
    // The history page as a sidebar panel through ingress; its port stays unpublished.
    assert_eq!(c["ingress"], true);
    assert_eq!(c["ingress_port"], 8099);
    assert_eq!(c["panel_icon"], "mdi:doorbell");
    assert_eq!(c["panel_title"], "Visitors");
    assert!(c["ports"].get("8099/tcp").is_none());
}

/// The YAML block between the example-options markers of DOCS.md.
fn documented_options() -> Value {
    let docs = read("ha-addon/DOCS.md");
    let start = docs
        .find("<!-- example-options:start -->")
        .expect("start marker in DOCS.md");
    let end = docs
        .find("<!-- example-options:end -->")
        .expect("end marker in DOCS.md");
    let block = &docs[start..end];
    let body = block
        .split_once("```yaml\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("a ```yaml block between the markers")
        .0;
    yaml::yaml_to_json(body).expect("the documented options are YAML")
}

fn fixture_options() -> Value {
    serde_json::from_str(&read("tests/fixtures/addon/options.json")).unwrap()
}

#[test]
fn documented_options_match_the_schema() {
    let schema = &load_yaml("ha-addon/config.yaml")["schema"];
    let docs = documented_options();
    assert_none(
        options::validate_options(schema, &docs),
        "DOCS.md example options",
    );
    let fixture = fixture_options();
    assert_none(
        options::validate_options(schema, &fixture),
        "options.json fixture",
    );
    // The fixture is the documented example with a harder password and relay code.
    let mut same = fixture.clone();
    for secret in ["password", "relay_code"] {
        same["cameras"][0][secret] = docs["cameras"][0][secret].clone();
    }
    assert_eq!(same, docs, "options.json must stay the DOCS.md example");
}

#[test]
fn translations_cover_every_option() {
    let schema = load_yaml("ha-addon/config.yaml")["schema"].clone();
    let tr = load_yaml("ha-addon/translations/en.yaml")["configuration"].clone();
    let mut missing = Vec::new();
    let named = |t: &Value| t["name"].is_string() && t["description"].is_string();
    for (key, typ) in schema.as_object().unwrap() {
        if !named(&tr[key]) {
            missing.push(key.clone());
        }
        let fields = typ.as_array().and_then(|a| a.first()).unwrap_or(typ);
        for sub in fields
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or(Vec::new())
        {
            if !named(&tr[key]["fields"][sub]) {
                missing.push(format!("{key}.{sub}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "translations/en.yaml lacks name/description for {missing:?}"
    );
    for key in tr.as_object().unwrap().keys() {
        assert!(
            schema.get(key).is_some(),
            "translation for unknown option {key}"
        );
    }
}

/// The build args of a build from the repository root (the release workflow's).
const FROM_THE_ROOT: &[(&str, &str)] = &[("SOURCE", "context")];

fn dockerfile_at(rel: &Path) -> dockerfile::Dockerfile {
    let text = std::fs::read_to_string(rel).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
    dockerfile::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", rel.display()))
}

#[test]
fn dockerfile_names_its_base_and_builds_from_the_repository_root() {
    let d = read("ha-addon/Dockerfile");
    for want in [
        "ARG BUILD_FROM=ghcr.io/home-assistant/base:",
        "FROM ${BUILD_FROM}",
        "FROM rust:1.95-alpine AS toolchain",
        "apk add --no-cache musl-dev git",
        "cargo build --release --locked --no-default-features",
        "io.hass.type=\"app\"",
        "io.hass.version=\"${BUILD_VERSION}\"",
        "io.hass.arch=\"${BUILD_ARCH}\"",
        "org.opencontainers.image.source=",
    ] {
        assert!(d.contains(want), "Dockerfile lacks {want:?}");
    }
    assert!(
        !root().join("ha-addon/build.yaml").exists(),
        "build.yaml is retired"
    );
    // One version everywhere: config.yaml (the image tag), the crate, the label default.
    let version = load_yaml("ha-addon/config.yaml")["version"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(d.contains(&format!("ARG BUILD_VERSION={version}")));
    assert!(read("Cargo.toml").contains(&format!("\nversion = \"{version}\"")));
    assert!(read("ha-addon/CHANGELOG.md").contains(&format!("## {version}")));
    // From the root, every COPY source of the stages built exists and passes .dockerignore.
    let allowed: Vec<String> = read(".dockerignore")
        .lines()
        .filter_map(|l| l.strip_prefix('!'))
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect();
    let parsed = dockerfile_at(&root().join("ha-addon/Dockerfile"));
    let sources = parsed.context_sources(&HashMap::from_iter(FROM_THE_ROOT.iter().copied()));
    assert!(sources.len() >= 4, "COPY lines not found: {sources:?}");
    for s in &sources {
        assert!(
            root().join(s).exists(),
            "Dockerfile copies {s}, which does not exist"
        );
        assert!(
            allowed
                .iter()
                .any(|a| s == a || s.starts_with(&format!("{a}/"))),
            ".dockerignore keeps {s} out of the build context"
        );
    }
    // Files the crate reads at compile time must be in the build context too.
    let build_script = root().join("build.rs").exists() || read("Cargo.toml").contains("\nbuild =");
    assert!(
        !build_script || sources.iter().any(|s| s.starts_with("build")),
        "copy the build script"
    );
    assert!(
        !grep_src("include_str!(\"../"),
        "src/ includes a file from outside src/; copy it"
    );
}

/// The Supervisor builds the app folder as it is, with BUILD_FROM, BUILD_ARCH and
/// BUILD_VERSION only: that build copies nothing from the context (or only what the folder
/// has) and fetches the released tag instead.
#[test]
fn the_app_folder_alone_is_a_build_context_that_fetches_the_released_tag() {
    let parsed = dockerfile_at(&root().join("ha-addon/Dockerfile"));
    let supervisor_args = HashMap::from([
        ("BUILD_FROM", "ghcr.io/home-assistant/base:3.24"),
        ("BUILD_ARCH", "aarch64"),
        ("BUILD_VERSION", "0.1.0"),
    ]);
    assert_eq!(parsed.global_default("SOURCE"), Some("git"));
    let built: Vec<Option<&str>> = parsed
        .reachable(&supervisor_args)
        .into_iter()
        .map(|i| parsed.stages[i].name.as_deref())
        .collect();
    assert_eq!(
        built,
        [Some("toolchain"), Some("source-git"), Some("build"), None],
        "the stages the Supervisor's build runs"
    );
    for s in parsed.context_sources(&supervisor_args) {
        assert!(
            root().join("ha-addon").join(&s).exists(),
            "the app folder lacks {s}, which the Dockerfile copies"
        );
    }
    let fetch = parsed.stage("source-git").expect("a source-git stage");
    let run = fetch
        .body
        .iter()
        .find(|i| i.keyword == "RUN")
        .expect("source-git fetches");
    assert!(
        run.args.starts_with(
            "git clone --depth 1 --branch \"v${BUILD_VERSION}\" \"${SOURCE_REPOSITORY}\" /build"
        ),
        "{}",
        run.args
    );
    let declared: Vec<String> = fetch
        .body
        .iter()
        .filter(|i| i.keyword == "ARG")
        .map(|i| dockerfile::arg_of(&i.args).0)
        .collect();
    assert!(
        declared.contains(&"BUILD_VERSION".to_owned()),
        "ARG BUILD_VERSION in source-git"
    );
    assert!(declared.contains(&"SOURCE_REPOSITORY".to_owned()));
    // The binary and the s6 scripts come from the same source.
    let image = parsed.stages.last().unwrap();
    let copies: Vec<&str> = image
        .body
        .iter()
        .filter(|i| i.keyword == "COPY")
        .map(|i| i.args.as_str())
        .collect();
    assert_eq!(
        copies,
        [
            "--from=build /out/doorbell-bridge /usr/bin/doorbell-bridge",
            "--from=build /out/rootfs/ /"
        ]
    );
}

/// The fetch of the source-git stage, run for real against a local repository: the tag of the
/// version is cloned; a missing tag, or a tag whose crate has another version, fails naming it.
#[test]
fn the_source_fetch_takes_the_tag_of_the_version_and_refuses_anything_else() {
    if !tools::require(
        "the_source_fetch_takes_the_tag_of_the_version_and_refuses_anything_else",
        // sh (Debian: dash, essential) runs it as Docker's RUN does; it has no --version to probe.
        &[("git", "git")],
    ) {
        return;
    }
    let parsed = dockerfile_at(&root().join("ha-addon/Dockerfile"));
    let run = parsed
        .stage("source-git")
        .unwrap()
        .body
        .iter()
        .find(|i| i.keyword == "RUN")
        .unwrap()
        .args
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let upstream = dir.path().join("upstream");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(&upstream)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::create_dir(&upstream).unwrap();
    git(&["init", "--quiet"]);
    let manifest = |v: &str| format!("[package]\nname = \"doorbell-bridge\"\nversion = \"{v}\"\n");
    std::fs::write(upstream.join("Cargo.toml"), manifest("0.2.0")).unwrap();
    git(&["add", "Cargo.toml"]);
    git(&["commit", "--quiet", "-m", "0.2.0"]);
    git(&["tag", "v0.2.0"]);
    git(&["tag", "v0.3.0"]); // a tag on a commit of another version
    let fetch = |version: &str, n: usize| {
        let dest = dir.path().join(format!("build{n}"));
        let script = run.replace(" /build", &format!(" {}", dest.display()));
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("BUILD_VERSION", version)
            .env("SOURCE_REPOSITORY", &upstream)
            .output()
            .unwrap();
        (out, dest)
    };
    let (out, dest) = fetch("0.2.0", 1);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("Cargo.toml")).unwrap(),
        manifest("0.2.0")
    );
    for (n, version) in [(2, "0.4.0"), (3, "0.3.0")] {
        let (out, _) = fetch(version, n);
        assert!(!out.status.success(), "v{version} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("v{version} of ")) && err.contains("is the tag released?"),
            "{err}"
        );
    }
}

fn grep_src(needle: &str) -> bool {
    fn walk(dir: &Path, needle: &str) -> bool {
        std::fs::read_dir(dir).unwrap().any(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, needle)
            } else {
                std::fs::read_to_string(&p).is_ok_and(|t| t.contains(needle))
            }
        })
    }
    walk(&root().join("src"), needle)
}

#[test]
fn scripts_are_executable_bashio_scripts() {
    use std::os::unix::fs::PermissionsExt;
    // The file checks below need no tool; `bash -n` and shellcheck do.
    let lint = tools::require(
        "scripts_are_executable_bashio_scripts (bash -n, shellcheck)",
        &[("bash", "bash"), ("shellcheck", "shellcheck")],
    );
    let scripts = [
        (
            "ha-addon/rootfs/etc/services.d/doorbell-bridge/run",
            "#!/usr/bin/with-contenv bashio",
        ),
        (
            "ha-addon/rootfs/etc/services.d/doorbell-bridge/finish",
            "#!/usr/bin/env bash",
        ),
        (
            "ha-addon/rootfs/usr/bin/doorbell-bridge-config",
            "#!/usr/bin/with-contenv bashio",
        ),
        ("ha-addon/build-context.sh", "#!/usr/bin/env bash"),
        ("tests/fixtures/addon/bashio", "#!/usr/bin/env bash"),
    ];
    for (rel, shebang) in scripts {
        let text = read(rel);
        assert!(text.starts_with(shebang), "{rel} must start with {shebang}");
        let mode = std::fs::metadata(root().join(rel))
            .unwrap()
            .permissions()
            .mode();
        assert!(
            mode & 0o111 != 0,
            "{rel} is not executable (git update-index --chmod=+x)"
        );
        if lint {
            let out = Command::new("bash")
                .arg("-n")
                .arg(root().join(rel))
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{rel}: bash -n: {err}");
        }
    }
    let run = read("ha-addon/rootfs/etc/services.d/doorbell-bridge/run");
    assert!(run.contains("exec doorbell-bridge run --config"));
    let finish = read("ha-addon/rootfs/etc/services.d/doorbell-bridge/finish");
    assert!(finish.contains("/run/s6-linux-init-container-results/exitcode"));
    assert!(finish.contains("exec /run/s6/basedir/bin/halt"));
    if lint {
        let out = Command::new("shellcheck")
            .args(scripts.map(|(rel, _)| root().join(rel)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "shellcheck:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(rel: &str) -> (u32, u32) {
    let bytes = std::fs::read(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{rel} is not a PNG"
    );
    assert_eq!(&bytes[12..16], b"IHDR", "{rel}: IHDR first");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The store shows `icon.png` (square, about 128 px) and `logo.png` (about 250 x 100).
#[test]
fn icon_and_logo_have_the_store_sizes() {
    assert_eq!(png_size("ha-addon/icon.png"), (128, 128));
    assert_eq!(png_size("ha-addon/logo.png"), (250, 100));
}

#[test]
fn repository_yaml_makes_the_repository_an_app_repository() {
    let r = load_yaml("repository.yaml");
    for key in ["name", "url", "maintainer"] {
        assert!(
            r[key].as_str().is_some_and(|s| !s.is_empty()),
            "repository.yaml: {key}"
        );
    }
    let url = r["url"].as_str().unwrap();
    assert!(url.starts_with("https://"));
    // One project URL everywhere (replace all three together).
    assert_eq!(load_yaml("ha-addon/config.yaml")["url"], url);
    let source = format!("org.opencontainers.image.source=\"{url}\"");
    assert!(
        read("ha-addon/Dockerfile").contains(&source),
        "Dockerfile: {source}"
    );
}

#[test]
fn no_other_file_looks_like_an_app() {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                if name != ".git" && name != "target" {
                    walk(&p, found);
                }
            } else if ["config.yaml", "config.yml", "config.json"].contains(&name.as_str()) {
                found.push(p);
            }
        }
    }
    let mut found = Vec::new();
    walk(&root(), &mut found);
    assert_eq!(
        found,
        vec![root().join("ha-addon/config.yaml")],
        "the Supervisor takes each for an app"
    );
}

#[test]
fn a_missing_tool_fails_under_ci_and_is_reported_skipped_elsewhere() {
    assert_eq!(
        tools::verdict("jq", "jq", true, Some("true")),
        tools::Verdict::Run
    );
    assert_eq!(tools::verdict("jq", "jq", true, None), tools::Verdict::Run);
    let tools::Verdict::Fail(message) =
        tools::verdict("shellcheck", "shellcheck", false, Some("true"))
    else {
        panic!("a missing tool must fail under CI");
    };
    assert!(message.contains("apt-get install shellcheck"), "{message}");
    for ci in [None, Some(""), Some("false"), Some("0")] {
        assert_eq!(
            tools::verdict("jq", "jq", false, ci),
            tools::Verdict::Skip("SKIPPED: jq not installed (apt-get install jq)".into()),
            "CI={ci:?}"
        );
    }
}
