//! Just enough of a Dockerfile reader for offline checks: instructions (continuation lines
//! joined, comments dropped), stages, and which stages a build with given build args runs, as
//! BuildKit decides it (the last stage, the stages its `FROM` and `COPY --from` name, and so
//! on; an unused stage is not built).

use std::collections::HashMap;

/// One instruction: its keyword (upper case) and the rest of the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub keyword: String,
    pub args: String,
}

/// One `FROM` stage.
#[derive(Debug, Clone)]
pub struct Stage {
    /// `AS name`, lower case.
    pub name: Option<String>,
    /// The image or stage it starts from, as written (`${VAR}` unexpanded).
    pub base: String,
    pub body: Vec<Instruction>,
}

/// A parsed Dockerfile: the `ARG`s before the first `FROM` (with their defaults) and the stages.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    pub global_args: Vec<(String, Option<String>)>,
    pub stages: Vec<Stage>,
}

pub fn parse(text: &str) -> Result<Dockerfile, String> {
    let mut instructions = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let (keyword, args) = pending
            .split_once(char::is_whitespace)
            .unwrap_or((pending.as_str(), ""));
        instructions.push(Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_owned(),
        });
        pending.clear();
    }
    if !pending.is_empty() {
        return Err(format!("a continuation line ends the file: {pending}"));
    }
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for ins in instructions {
        if ins.keyword == "FROM" {
            let words: Vec<&str> = ins
                .args
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let (base, name) = match words.as_slice() {
                [base] => (*base, None),
                [base, as_, name] if as_.eq_ignore_ascii_case("as") => {
                    (*base, Some(name.to_ascii_lowercase()))
                }
                _ => return Err(format!("FROM {}: not IMAGE [AS NAME]", ins.args)),
            };
            stages.push(Stage {
                name,
                base: base.to_owned(),
                body: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.body.push(ins);
        } else if ins.keyword == "ARG" {
            global_args.push(arg_of(&ins.args));
        } else {
            return Err(format!("{} before the first FROM", ins.keyword));
        }
    }
    if stages.is_empty() {
        return Err("no FROM".into());
    }
    Ok(Dockerfile {
        global_args,
        stages,
    })
}

/// `NAME[=default]` of an `ARG`.
pub fn arg_of(args: &str) -> (String, Option<String>) {
    match args.split_once('=') {
        Some((name, default)) => (name.trim().to_owned(), Some(unquote(default.trim()))),
        None => (args.trim().to_owned(), None),
    }
}

fn unquote(s: &str) -> String {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .to_owned()
}

impl Dockerfile {
    /// The default of a global `ARG`.
    pub fn global_default(&self, name: &str) -> Option<&str> {
        self.global_args
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, d)| d.as_deref())
    }

    /// `text` with `${NAME}` and `$NAME` of the global args replaced (build args first).
    pub fn expand(&self, text: &str, build_args: &HashMap<&str, &str>) -> String {
        let mut out = text.to_owned();
        for (name, default) in &self.global_args {
            let value = build_args
                .get(name.as_str())
                .copied()
                .or(default.as_deref())
                .unwrap_or_default();
            out = out
                .replace(&format!("${{{name}}}"), value)
                .replace(&format!("${name}"), value);
        }
        out
    }

    fn stage_named(&self, name: &str) -> Option<usize> {
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(&name.to_ascii_lowercase()))
    }

    /// Indexes of the stages a build of the last stage runs with these build args.
    pub fn reachable(&self, build_args: &HashMap<&str, &str>) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut todo = vec![self.stages.len() - 1];
        while let Some(i) = todo.pop() {
            if seen.contains(&i) {
                continue;
            }
            seen.push(i);
            let stage = &self.stages[i];
            let mut names = vec![self.expand(&stage.base, build_args)];
            for ins in &stage.body {
                if ins.keyword == "COPY" {
                    names.extend(
                        ins.args
                            .split_whitespace()
                            .filter_map(|w| w.strip_prefix("--from="))
                            .map(str::to_owned),
                    );
                }
            }
            todo.extend(names.iter().filter_map(|n| self.stage_named(n)));
        }
        seen.sort_unstable();
        seen
    }

    /// The stage named `name`.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stage_named(name).map(|i| &self.stages[i])
    }

    /// Sources of the `COPY` lines that read the build context (not `--from`) in the stages a
    /// build with these build args runs.
    pub fn context_sources(&self, build_args: &HashMap<&str, &str>) -> Vec<String> {
        self.reachable(build_args)
            .into_iter()
            .flat_map(|i| self.stages[i].body.iter())
            .filter(|ins| ins.keyword == "COPY" && !ins.args.contains("--from="))
            .flat_map(|ins| {
                let words: Vec<_> = ins
                    .args
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                words[..words.len().saturating_sub(1)]
                    .iter()
                    .map(|w| w.trim_end_matches('/').to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

#[test]
fn the_reader_follows_stages_and_build_args() {
    let text = "ARG PICK=a\nARG BASE=alpine\n# comment\nFROM ${BASE} AS a\nCOPY x \\\n  y /\n\
                FROM alpine AS b\nCOPY z /\nFROM alpine AS helper\n\
                FROM $PICK AS chosen\nRUN true\nFROM scratch\nCOPY --from=chosen / /\n\
                COPY --from=helper / /\n";
    let d = parse(text).unwrap();
    assert_eq!(d.global_default("PICK"), Some("a"));
    assert_eq!(d.stages.len(), 5);
    let none = HashMap::new();
    assert_eq!(d.reachable(&none), [0, 2, 3, 4]);
    assert_eq!(d.context_sources(&none), ["x", "y"]);
    let b = HashMap::from([("PICK", "b")]);
    assert_eq!(d.reachable(&b), [1, 2, 3, 4]);
    assert_eq!(d.context_sources(&b), ["z"]);
    assert_eq!(d.expand("${BASE}:$PICK", &b), "alpine:b");
    assert!(parse("RUN true\n").is_err(), "an instruction before FROM");
    assert!(parse("FROM a \\\n").is_err(), "a dangling continuation");
}
