//! The release workflow and the Home Assistant app agree: the image name, the architectures,
//! the version (tag, label, Cargo.toml) and the `io.hass.*` labels. Pure file reading.

#[allow(dead_code)]
#[path = "addon_support/yaml.rs"]
mod yaml;

use std::path::PathBuf;

use serde_json::Value;

const WORKFLOW: &str = ".github/workflows/release.yml";

/// Home Assistant architecture -> Docker platform.
const PLATFORMS: &[(&str, &str)] = &[("amd64", "linux/amd64"), ("aarch64", "linux/arm64")];

fn read(rel: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn load(rel: &str) -> Value {
    yaml::yaml_to_json(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn steps(job: &Value) -> Vec<&Value> {
    job["steps"]
        .as_array()
        .map(|s| s.iter().collect())
        .unwrap_or_default()
}

fn uses<'a>(job: &'a Value, action: &str) -> Option<&'a Value> {
    steps(job)
        .into_iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
}

/// What disagrees between the workflow and the app's `config.yaml`.
fn problems(workflow: &Value, app: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let tags = &workflow["on"]["push"]["tags"];
    if !tags
        .as_array()
        .is_some_and(|t| t.contains(&Value::from("v*")))
    {
        p.push(format!("on.push.tags must be [\"v*\"], is {tags}"));
    }
    if workflow["env"]["IMAGE"] != app["image"] {
        p.push(format!(
            "env.IMAGE {} is not config.yaml's image {}",
            workflow["env"]["IMAGE"], app["image"]
        ));
    }
    let image = &workflow["jobs"]["image"];
    let matrix: Vec<(String, String)> = image["strategy"]["matrix"]["include"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let s = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
            (s("arch"), s("platform"))
        })
        .collect();
    let arches: Vec<String> = matrix.iter().map(|(a, _)| a.clone()).collect();
    let app_arches: Vec<String> = app["arch"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    let (mut a, mut b) = (arches.clone(), app_arches.clone());
    a.sort();
    b.sort();
    if a != b {
        p.push(format!(
            "the matrix builds {arches:?}, config.yaml's arch is {app_arches:?}"
        ));
    }
    for (arch, platform) in &matrix {
        match PLATFORMS.iter().find(|(a, _)| a == arch) {
            Some((_, expected)) if expected == platform => {}
            _ => p.push(format!("arch {arch} is built for platform {platform}")),
        }
    }
    for action in ["docker/setup-qemu-action", "docker/setup-buildx-action"] {
        if uses(image, action).is_none() {
            p.push(format!("the image job does not use {action}"));
        }
    }
    match uses(image, "docker/build-push-action") {
        None => p.push("the image job does not use docker/build-push-action".into()),
        Some(build) => {
            let with = &build["with"];
            let s = |k: &str| with[k].as_str().unwrap_or_default();
            if s("file") != "ha-addon/Dockerfile" || s("context") != "." {
                p.push("build ha-addon/Dockerfile with the repository root as context".into());
            }
            let version = "${{ steps.version.outputs.version }}";
            for label in [
                "io.hass.type=app".to_owned(),
                format!("io.hass.version={version}"),
                "io.hass.arch=${{ matrix.arch }}".to_owned(),
            ] {
                if !s("labels").lines().any(|l| l.trim() == label) {
                    p.push(format!("label {label} is missing"));
                }
            }
            for arg in [
                // The checked-out tree, not a fetch of the tag (SOURCE=git, the default).
                "SOURCE=context".to_owned(),
                "BUILD_ARCH=${{ matrix.arch }}".to_owned(),
                format!("BUILD_VERSION={version}"),
            ] {
                if !s("build-args").lines().any(|l| l.trim() == arg) {
                    p.push(format!("build arg {arg} is missing"));
                }
            }
            if s("tags") != format!("${{{{ env.IMAGE }}}}:{version}-${{{{ matrix.arch }}}}") {
                p.push(format!("per-arch tag {:?}", s("tags")));
            }
        }
    }
    let version_step = steps(image)
        .into_iter()
        .find(|s| s["id"] == "version")
        .and_then(|s| s["run"].as_str());
    if !version_step
        .is_some_and(|r| r.contains("ha-addon/config.yaml") && r.contains("GITHUB_REF_NAME"))
    {
        p.push("the version step must check the tag against config.yaml's version".into());
    }
    let manifest = steps(&workflow["jobs"]["manifest"])
        .into_iter()
        .filter_map(|s| s["run"].as_str())
        .find(|r| r.contains("imagetools create"));
    match manifest {
        None => p.push("no multi-arch manifest (buildx imagetools create)".into()),
        Some(run) => {
            for arch in &app_arches {
                if !run.contains(&format!("\"${{IMAGE}}:${{version}}-{arch}\"")) {
                    p.push(format!("the manifest leaves out {arch}"));
                }
            }
            if !run.contains("--tag \"${IMAGE}:${version}\"") {
                p.push("the manifest is not tagged with the version".into());
            }
        }
    }
    p
}

#[test]
fn the_release_workflow_builds_what_config_yaml_names() {
    assert!(!PLATFORMS.is_empty());
    let app = load("ha-addon/config.yaml");
    let found = problems(&load(WORKFLOW), &app);
    assert!(found.is_empty(), "{WORKFLOW}:\n  {}", found.join("\n  "));
    // The tag the workflow accepts is config.yaml's version, which is the crate's.
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    assert_eq!(
        app["version"],
        manifest["package"]["version"].as_str().unwrap()
    );
    // The image lives under the project's owner.
    let repository = manifest["package"]["repository"].as_str().unwrap();
    let owner = repository
        .trim_start_matches("https://github.com/")
        .split('/')
        .next()
        .unwrap();
    assert!(
        app["image"]
            .as_str()
            .unwrap()
            .starts_with(&format!("ghcr.io/{owner}/")),
        "config.yaml image {} is not under ghcr.io/{owner}/",
        app["image"]
    );
}

#[test]
fn a_workflow_out_of_step_with_config_yaml_is_caught() {
    let app = load("ha-addon/config.yaml");
    let good = load(WORKFLOW);
    type Break = fn(&mut Value);
    let cases: &[(Break, &str)] = &[
        (
            |w| w["env"]["IMAGE"] = Value::from("ghcr.io/x/y"),
            "env.IMAGE",
        ),
        (
            |w| {
                w["jobs"]["image"]["strategy"]["matrix"]["include"]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            },
            "the matrix builds",
        ),
        (
            |w| {
                w["jobs"]["image"]["strategy"]["matrix"]["include"][0]["platform"] =
                    Value::from("linux/arm64")
            },
            "is built for platform",
        ),
        (
            |w| w["on"]["push"]["tags"] = serde_json::json!(["*"]),
            "on.push.tags",
        ),
        (
            |w| {
                let steps = w["jobs"]["image"]["steps"].as_array_mut().unwrap();
                let build = steps
                    .iter_mut()
                    .find(|s| s["uses"].as_str().is_some_and(|u| u.contains("build-push")))
                    .unwrap();
                let args = build["with"]["build-args"].as_str().unwrap();
                build["with"]["build-args"] = Value::from(args.replace("SOURCE=context\n", ""));
            },
            "build arg SOURCE=context",
        ),
    ];
    for (break_it, expected) in cases {
        let mut w = good.clone();
        break_it(&mut w);
        let found = problems(&w, &app);
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "expected {expected:?}, got {found:?}"
        );
    }
    let mut fewer_arches = app.clone();
    fewer_arches["arch"] = serde_json::json!(["amd64"]);
    assert!(!problems(&good, &fewer_arches).is_empty());
}

/// Whether a GitHub Actions tag filter matches `tag`, with `*` as the only wildcard (any
/// characters but `/`).
fn tag_filter_matches(filter: &str, tag: &str) -> bool {
    match filter.split_once('*') {
        None => filter == tag,
        Some((head, rest)) => {
            let Some(after) = tag.strip_prefix(head) else {
                return false;
            };
            // The star takes 0..n characters (no '/'); the rest of the filter matches the rest.
            (0..=after.len())
                .filter(|&n| after.is_char_boundary(n) && !after[..n].contains('/'))
                .any(|n| tag_filter_matches(rest, &after[n..]))
        }
    }
}

/// A local build from the app folder fetches the tag `v<version>`; that is the tag the release
/// workflow runs on and accepts for this version, so every released version can be fetched.
#[test]
fn the_tag_the_app_folder_build_fetches_is_the_tag_a_release_makes() {
    let dockerfile = read("ha-addon/Dockerfile");
    let pattern = "--branch \"v${BUILD_VERSION}\"";
    assert!(
        dockerfile.contains(pattern),
        "Dockerfile: git clone {pattern}"
    );
    let version = load("ha-addon/config.yaml")["version"]
        .as_str()
        .unwrap()
        .to_owned();
    let tag = format!("v{version}");
    let workflow = load(WORKFLOW);
    let filters: Vec<&str> = workflow["on"]["push"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        filters.iter().any(|f| tag_filter_matches(f, &tag)),
        "{tag} starts no release ({filters:?})"
    );
    let check = steps(&workflow["jobs"]["image"])
        .into_iter()
        .find(|s| s["id"] == "version")
        .and_then(|s| s["run"].as_str())
        .unwrap();
    assert!(
        check.contains("test \"v${version}\" = \"${GITHUB_REF_NAME}\""),
        "the workflow accepts only the tag v<version>: {check}"
    );
    assert!(tag_filter_matches("v*", "v0.1.0"));
    assert!(!tag_filter_matches("v*", "0.1.0"));
    assert!(tag_filter_matches("v*.*", "v1.2"));
    assert!(!tag_filter_matches("v*", "v1/2"));
}
