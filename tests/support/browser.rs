//! A real browser for the tests: headless Chromium driven over WebDriver (W3C) by Debian's
//! chromedriver (packages `chromium` and `chromium-driver`).
//!
//! [`Browser::start`] runs chromedriver on a free port (`--port=0`; the port is read from its
//! "started successfully on port N" line), waits until `/status` says ready, and opens one
//! session of `/usr/bin/chromium` with a fresh profile in a temp dir. Dropping the `Browser`
//! kills chromedriver and every Chromium process it started (they share a process group of their
//! own). Every wait is a condition polled until a deadline; no step sleeps for readiness.
//!
//! A test first asks [`available`]: a missing Chromium fails under CI and prints
//! `SKIPPED: ...` elsewhere (the rule of [`super::tools::require`]).
//!
//! Panic messages name the WebDriver command and the driver's answer, never a request body (a
//! test may type a password into a page).

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The browser (Debian's wrapper script, which runs /usr/lib/chromium/chromium).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The WebDriver server that matches it.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A phone-sized window (CSS pixels), for the narrow layout.
pub const PHONE: (u32, u32) = (390, 844);
/// A desktop-sized window (CSS pixels); the size a session starts with.
pub const DESKTOP: (u32, u32) = (1280, 800);

/// How long chromedriver may take to print its port and report ready.
const DRIVER_START: Duration = Duration::from_secs(30);
/// Bound for one WebDriver command (session creation starts Chromium: slow on a busy machine).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between polls of a condition (the condition is the signal; this only paces it).
const POLL: Duration = Duration::from_millis(50);
/// Generous bound for a page condition in the tests (a failure, not a pace).
pub const PAGE_WAIT: Duration = Duration::from_secs(30);
/// Browser log entries kept (chromedriver hands each one out once; we keep them).
const MAX_LOG_ENTRIES: usize = 1000;
/// chromedriver output kept for a failure message.
const MAX_DRIVER_OUTPUT: usize = 64 * 1024;
/// The key of an element reference in W3C WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium's flags: headless, no sandbox (tests run as root), and nothing that reaches out
/// on its own (updates, sync, background fetches, QUIC).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// `true` when Chromium and chromedriver are installed; otherwise fails under CI and prints
/// `SKIPPED: ...` elsewhere.
#[must_use]
pub fn available(test: &str) -> bool {
    super::tools::require(
        test,
        &[(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")],
    )
}

/// Where a test's screenshot goes: `$CARGO_TARGET_TMPDIR/browser/<name>.png`.
pub fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("browser")
        .join(format!("{name}.png"))
}

/// The port in chromedriver's start line ("ChromeDriver was started successfully on port N.").
pub fn parse_port(line: &str) -> Option<u16> {
    let rest = line.split_once("started successfully on port ")?.1;
    rest.trim_end().trim_end_matches('.').parse().ok()
}

/// The URLs among `urls` whose origin is not `origin` (e.g. `http://127.0.0.1:8080`), in order,
/// without repeats. A URL that does not parse counts as foreign; `data:` URLs are no request.
pub fn foreign_urls(origin: &str, urls: &[String]) -> Vec<String> {
    let own = url::Url::parse(origin).map(|u| u.origin()).ok();
    let mut foreign: Vec<String> = Vec::new();
    for u in urls {
        if u.starts_with("data:") {
            continue;
        }
        let same = match (&own, url::Url::parse(u)) {
            (Some(own), Ok(parsed)) => parsed.origin() == *own,
            _ => false,
        };
        if !same && !foreign.contains(u) {
            foreign.push(u.clone());
        }
    }
    foreign
}

/// The URL a Chromium network log line is about ("http://h/x.png - Failed to load resource: ...").
pub fn network_log_url(message: &str) -> Option<String> {
    let first = message.split_whitespace().next()?;
    url::Url::parse(first).ok().map(|_| first.to_string())
}

/// A WebDriver URL as a command name: its path, without the session id.
pub fn command_name(url: &str) -> String {
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    match path.strip_prefix("/session/") {
        Some(rest) => match rest.split_once('/') {
            Some((_, command)) => format!("/session/{{id}}/{command}"),
            None => "/session/{id}".to_string(),
        },
        None => path.to_string(),
    }
}

/// Whether a script's answer counts as true, as JavaScript's `Boolean()` would have it.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// One entry of the browser log (console messages, failed loads, uncaught errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`, `DEBUG`.
    pub level: String,
    /// `console-api`, `network`, `javascript`, ...
    pub source: String,
    pub message: String,
}

/// A WebDriver command that failed: the command and what the driver said.
#[derive(Debug, Clone)]
pub struct CommandError(pub String);

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// chromedriver and its Chromium processes, killed together on drop.
struct Driver {
    child: Child,
    port: u16,
    output: Arc<Mutex<String>>,
}

impl Driver {
    fn start(profile: &Path) -> Driver {
        let stderr = std::fs::File::create(profile.with_extension("stderr"))
            .expect("create chromedriver's stderr file");
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            // A process group of its own, which Chromium joins: drop kills them all.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("start {CHROMEDRIVER}: {e} (apt-get install chromium-driver)")
            });
        let stdout = child.stdout.take().expect("chromedriver stdout");
        let output = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let kept = Arc::clone(&output);
        // Reads chromedriver's output to its end, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = parse_port(&line) {
                    let _ = port_tx.send(port);
                }
                let mut kept = kept.lock().unwrap();
                if kept.len() + line.len() < MAX_DRIVER_OUTPUT {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
        });
        let mut driver = Driver {
            child,
            port: 0,
            output,
        };
        match port_rx.recv_timeout(DRIVER_START) {
            Ok(port) => driver.port = port,
            Err(_) => panic!(
                "chromedriver printed no port within {DRIVER_START:?}; its output:\n{}",
                driver.output()
            ),
        }
        driver
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    fn kill(&mut self) {
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals the process group we created for
        // chromedriver (its pid); no memory is involved.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// A headless Chromium with one WebDriver session.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`
    session: String,
    logs: Mutex<Vec<LogEntry>>,
    // Field order: the driver (and Chromium) die before the profile is removed.
    driver: Driver,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a session with a [`DESKTOP`]-sized window (see [`Browser::set_viewport`]) and a fresh profile.
    pub async fn start() -> Browser {
        doorbell_bridge::onvif::install_crypto_provider();
        let profile = tempfile::tempdir().expect("temp dir for the browser profile");
        let user_data = profile.path().join("profile");
        let driver = Driver::start(&user_data);
        let http = reqwest::Client::builder()
            .timeout(COMMAND_TIMEOUT)
            .no_proxy()
            .build()
            .expect("HTTP client for chromedriver");
        let base = format!("http://127.0.0.1:{}", driver.port);
        let mut browser = Browser {
            http,
            session: String::new(),
            logs: Mutex::new(Vec::new()),
            driver,
            profile,
        };
        browser.wait_ready(&base).await;
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", user_data.display()));
        args.push(format!("--window-size={},{}", DESKTOP.0, DESKTOP.1));
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                "goog:loggingPrefs": { "browser": "ALL" },
            }}
        });
        let answer = browser
            .request(
                reqwest::Method::POST,
                &format!("{base}/session"),
                Some(caps),
            )
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{e}\nchromedriver output:\n{}\nstderr:\n{}",
                    browser.driver.output(),
                    browser.driver_stderr()
                )
            });
        let id = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session answer without sessionId: {answer}"));
        browser.session = format!("{base}/session/{id}");
        browser
    }

    /// Polls chromedriver's `/status` until it says ready.
    async fn wait_ready(&self, base: &str) {
        let deadline = Instant::now() + DRIVER_START;
        loop {
            let last = match self
                .request(reqwest::Method::GET, &format!("{base}/status"), None)
                .await
            {
                Ok(v) if v["ready"] == json!(true) => return,
                Ok(v) => v.to_string(),
                Err(e) => e.0,
            };
            if Instant::now() > deadline {
                panic!("chromedriver not ready within {DRIVER_START:?}: {last}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn driver_stderr(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("profile.stderr")).unwrap_or_default()
    }

    /// The profile folder (Chromium's processes carry it on their command line).
    pub fn profile_dir(&self) -> PathBuf {
        self.profile.path().join("profile")
    }

    /// chromedriver's process id, which is also the process group of Chromium's processes.
    pub fn driver_pid(&self) -> u32 {
        self.driver.child.id()
    }

    /// One WebDriver request: the answer's `value`, or the command and the driver's error.
    async fn request(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> Result<Value, CommandError> {
        let what = format!("WebDriver {method} {}", command_name(url));
        let mut req = self.http.request(method, url);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body).expect("JSON body"));
        }
        let res = req
            .send()
            .await
            .map_err(|e| CommandError(format!("{what}: {e}")))?;
        let status = res.status();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| CommandError(format!("{what}: reading the answer: {e}")))?;
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| {
            CommandError(format!("{what}: answer is not JSON ({e}), HTTP {status}"))
        })?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if status.is_success() {
            Ok(value)
        } else {
            Err(CommandError(format!(
                "{what}: HTTP {status}: {} {}",
                value["error"].as_str().unwrap_or("?"),
                value["message"].as_str().unwrap_or("")
            )))
        }
    }

    /// A command on this session (`path` after `/session/<id>`), panicking on an error.
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_command(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn try_command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, CommandError> {
        self.request(method, &format!("{}{path}", self.session), body)
            .await
    }

    /// Opens `url` and returns once the page has loaded (WebDriver's normal load strategy).
    pub async fn navigate(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The current page's URL.
    pub async fn current_url(&self) -> String {
        let v = self.command(reqwest::Method::GET, "/url", None).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// Sets the viewport (the page's `innerWidth` x `innerHeight`, what a screenshot shows) to
    /// `size`, e.g. [`PHONE`] or [`DESKTOP`], through Chromium's device metrics override (a
    /// headless window's frame takes an unknown part of a window size), and waits until the
    /// page sees it.
    pub async fn set_viewport(&self, (width, height): (u32, u32)) {
        self.command(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Emulation.setDeviceMetricsOverride",
                "params": { "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false },
            })),
        )
        .await;
        self.wait_until(
            &format!("window.innerWidth === {width} && window.innerHeight === {height}"),
            PAGE_WAIT,
        )
        .await;
    }

    /// Runs `js` as a function body (`return ...` gives the answer) with `args` as `arguments`.
    pub async fn execute_script(&self, js: &str, args: Vec<Value>) -> Value {
        self.try_execute_script(js, args)
            .await
            .unwrap_or_else(|e| panic!("{e}\nscript: {js}"))
    }

    /// [`execute_script`](Self::execute_script) that hands back a script error.
    pub async fn try_execute_script(
        &self,
        js: &str,
        args: Vec<Value>,
    ) -> Result<Value, CommandError> {
        self.try_command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": js, "args": args })),
        )
        .await
    }

    /// Polls the JavaScript expression `condition` until it is truthy, and returns its value.
    /// A script error counts as not yet (the page may still be building); past `deadline` it
    /// panics with the last value or error and the browser log.
    pub async fn wait_until(&self, condition: &str, deadline: Duration) -> Value {
        let until = Instant::now() + deadline;
        let script = format!("return ({condition});");
        loop {
            let last = match self.try_execute_script(&script, Vec::new()).await {
                Ok(v) if truthy(&v) => return v,
                Ok(v) => v.to_string(),
                Err(e) => e.0,
            };
            if Instant::now() > until {
                let log: Vec<String> = self
                    .log()
                    .await
                    .iter()
                    .map(|e| format!("{} {}: {}", e.level, e.source, e.message))
                    .collect();
                panic!(
                    "not true within {deadline:?}: {condition}\nlast: {last}\nbrowser log:\n  {}",
                    log.join("\n  ")
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The elements matching the CSS `selector`, in document order.
    pub async fn find_all(&self, selector: &str) -> Vec<Element<'_>> {
        let v = self
            .command(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": selector })),
            )
            .await;
        v.as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str())
                    .map(|id| Element {
                        browser: self,
                        id: id.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching `selector`; panics naming it when there is none.
    pub async fn find(&self, selector: &str) -> Element<'_> {
        self.find_all(selector)
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element matches {selector:?}"))
    }

    /// The visible text of every element matching `selector`.
    pub async fn texts(&self, selector: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.find_all(selector).await {
            out.push(e.text().await);
        }
        out
    }

    /// Writes a PNG of the viewport to `path` (folders made as needed) and prints the path on
    /// the terminal. Returns the PNG's size in bytes.
    pub async fn screenshot(&self, path: &Path) -> usize {
        let v = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("screenshot answer is a string"))
            .expect("screenshot answer is base64");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "the screenshot is not a PNG"
        );
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Not println!: the test harness shows captured output only for failures.
        let _ = writeln!(std::io::stderr(), "screenshot: {}", path.display());
        png.len()
    }

    /// Every browser log entry of this session so far (console, network, uncaught errors).
    pub async fn log(&self) -> Vec<LogEntry> {
        // chromedriver's log endpoint hands each entry out once; keep them (bounded).
        let fresh = self
            .try_command(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await
            .unwrap_or(Value::Null);
        let mut logs = self.logs.lock().unwrap();
        for e in fresh.as_array().into_iter().flatten() {
            if logs.len() < MAX_LOG_ENTRIES {
                logs.push(LogEntry {
                    level: e["level"].as_str().unwrap_or_default().to_string(),
                    source: e["source"].as_str().unwrap_or_default().to_string(),
                    message: e["message"].as_str().unwrap_or_default().to_string(),
                });
            }
        }
        logs.clone()
    }

    /// The `SEVERE` log entries: console errors, failed loads, uncaught exceptions.
    pub async fn errors(&self) -> Vec<LogEntry> {
        self.log()
            .await
            .into_iter()
            .filter(|e| e.level == "SEVERE")
            .collect()
    }

    /// The page's origin, e.g. `http://127.0.0.1:8080`.
    pub async fn origin(&self) -> String {
        let v = self
            .execute_script("return location.origin;", Vec::new())
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// Every URL the page requested that is not of its own origin: the resource timing entries
    /// (loaded or not) and the failed loads in the browser log.
    pub async fn foreign_requests(&self) -> Vec<String> {
        let origin = self.origin().await;
        let v = self
            .execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name);",
                Vec::new(),
            )
            .await;
        let mut urls: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u.as_str().map(str::to_string))
            .collect();
        urls.extend(
            self.log()
                .await
                .iter()
                .filter(|e| e.source == "network")
                .filter_map(|e| network_log_url(&e.message)),
        );
        foreign_urls(&origin, &urls)
    }

    /// `Ok` when the page requested nothing but its own origin; otherwise the foreign URLs.
    pub async fn check_own_origin_only(&self) -> Result<(), String> {
        let foreign = self.foreign_requests().await;
        if foreign.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the page at {} requested other origins: {}",
                self.origin().await,
                foreign.join(", ")
            ))
        }
    }

    /// Ends the session politely (Chromium closes), then stops chromedriver as drop does.
    pub async fn quit(self) {
        let _ = self.try_command(reqwest::Method::DELETE, "", None).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.driver.kill();
    }
}

/// A reference to an element of the current page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Element<'_> {
    /// Its rendered text (`innerText`, as a person sees it).
    pub async fn text(&self) -> String {
        let v = self
            .browser
            .command(
                reqwest::Method::GET,
                &format!("/element/{}/text", self.id),
                None,
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The attribute `name` as written in the document, `None` when absent.
    pub async fn attribute(&self, name: &str) -> Option<String> {
        let v = self
            .browser
            .command(
                reqwest::Method::GET,
                &format!("/element/{}/attribute/{name}", self.id),
                None,
            )
            .await;
        v.as_str().map(str::to_string)
    }

    /// The DOM property `name` (e.g. `naturalWidth`, `checked`, `value`).
    pub async fn property(&self, name: &str) -> Value {
        self.browser
            .command(
                reqwest::Method::GET,
                &format!("/element/{}/property/{name}", self.id),
                None,
            )
            .await
    }

    /// Clicks it (scrolled into view; fails when another element covers it).
    pub async fn click(&self) {
        self.browser
            .command(
                reqwest::Method::POST,
                &format!("/element/{}/click", self.id),
                Some(json!({})),
            )
            .await;
    }

    /// Types `text` into it (an input, a textarea).
    pub async fn send_keys(&self, text: &str) {
        self.browser
            .command(
                reqwest::Method::POST,
                &format!("/element/{}/value", self.id),
                Some(json!({ "text": text })),
            )
            .await;
    }
}
