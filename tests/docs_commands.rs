//! The shell commands of README.md, docs/install.md and docs/platform-api.md, run as printed
//! against the simulated modem and the reference platform, so the docs cannot rot.
//!
//! Every shell block (a fence labelled `sh`, `bash`, `shell` or `console`) has a marker on the
//! last non-blank line before its fence:
//!
//! - `<!-- runnable -->`: run here, in document order, each block a `bash -e -o pipefail` script
//!   that must exit 0;
//! - `<!-- runnable: gateway running -->`: the same, once a gateway runs on the doc's config
//!   (`kufatilia-gateway run`, which is what the service starts);
//! - `<!-- not runnable: REASON -->`: needs a real box (systemd, apt, a USB modem...); listed by
//!   the test with its reason.
//!
//! A shell block with no marker fails [`every_shell_block_is_marked_runnable_or_with_a_reason`],
//! and so does an unlabelled block that starts with a command, so a new command in the docs
//! cannot slip through untested.
//!
//! Before a block runs, its text is rewritten as little as possible: `cargo run --release --`
//! and `kufatilia-gateway` become the test binary (no release build here), `sudo -u kufatilia`,
//! `sudo` and `install`'s `-o kufatilia -g kufatilia` go (the test is not root),
//! `/etc/kufatilia-gateway` and `/var/lib/kufatilia-gateway` move to a scratch directory, and
//! the port 8787 of the docs' examples becomes a free one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use modem_sim::{SimConfig, SimModem};
use platform_stub::{PlatformStub, StubConfig};

const DOCS: &[(&str, &str)] = &[
    ("README.md", include_str!("../README.md")),
    ("docs/install.md", include_str!("../docs/install.md")),
    (
        "docs/platform-api.md",
        include_str!("../docs/platform-api.md"),
    ),
];

/// What the marker before a block says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mark {
    Runnable,
    WithGateway,
    NotRunnable(String),
    Unmarked,
}

/// One fenced block of a doc.
#[derive(Debug, Clone)]
struct Block {
    /// The line of its opening fence, from 1.
    line: usize,
    /// A shell block (labelled so), or an unlabelled one that starts with a command.
    shell: bool,
    /// Labelled as shell, as the docs should.
    labelled: bool,
    mark: Mark,
    /// Its lines, without the fence's indentation.
    body: String,
}

/// Words that start a command: an unlabelled block starting with one is a shell block.
const COMMANDS: &[&str] = &[
    "kufatilia-gateway",
    "cargo",
    "sudo",
    "systemctl",
    "journalctl",
    "curl",
    "openssl",
    "printf",
    "echo",
    "ls",
    "apt",
    "cross/",
];

fn mark_of(line: &str) -> Mark {
    let line = line.trim();
    let Some(inner) = line
        .strip_prefix("<!--")
        .and_then(|l| l.strip_suffix("-->"))
        .map(str::trim)
    else {
        return Mark::Unmarked;
    };
    if inner == "runnable" {
        Mark::Runnable
    } else if inner == "runnable: gateway running" {
        Mark::WithGateway
    } else if let Some(reason) = inner.strip_prefix("not runnable:") {
        Mark::NotRunnable(reason.trim().to_string())
    } else {
        Mark::Unmarked
    }
}

fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            i += 1;
            continue;
        };
        let indent = lines[i].len() - trimmed.len();
        let info = info.trim().to_string();
        let start = i;
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            body.push(lines[i].get(indent..).unwrap_or(lines[i].trim_start()));
            i += 1;
        }
        i += 1;
        let labelled = matches!(info.as_str(), "sh" | "bash" | "shell" | "console");
        let first = body.iter().map(|l| l.trim()).find(|l| !l.is_empty());
        let starts_with_command = first.is_some_and(|f| COMMANDS.iter().any(|c| f.starts_with(c)));
        let mark = lines[..start]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map_or(Mark::Unmarked, |l| mark_of(l));
        out.push(Block {
            line: start + 1,
            shell: labelled || (info.is_empty() && starts_with_command),
            labelled,
            mark,
            body: body.join("\n"),
        });
    }
    out
}

/// Every shell block of the docs is marked runnable, or not runnable with a reason; an
/// unlabelled block of commands is refused too. Prints the ones not run, with their reasons.
#[test]
fn every_shell_block_is_marked_runnable_or_with_a_reason() {
    let mut problems = Vec::new();
    let mut runnable = 0;
    for (file, text) in DOCS {
        let mut here = 0;
        for b in blocks(text).into_iter().filter(|b| b.shell) {
            if !b.labelled {
                problems.push(format!(
                    "{file}:{}: a block of commands without `sh` after its fence",
                    b.line
                ));
            }
            match &b.mark {
                Mark::Runnable | Mark::WithGateway => here += 1,
                Mark::NotRunnable(reason) if !reason.is_empty() => {
                    eprintln!("{file}:{}: not run: {reason}", b.line);
                }
                Mark::NotRunnable(_) => problems.push(format!(
                    "{file}:{}: `not runnable:` without a reason",
                    b.line
                )),
                Mark::Unmarked => problems.push(format!(
                    "{file}:{}: neither <!-- runnable --> nor <!-- not runnable: REASON --> \
                     before this block:\n{}",
                    b.line, b.body
                )),
            }
        }
        assert!(here > 0, "{file} has no runnable block");
        runnable += here;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(runnable >= 7, "{runnable} runnable blocks");
}

/// Where a doc's commands run.
struct Scene {
    /// The scratch directory: the working directory, and where `/etc` and `/var/lib` go.
    root: PathBuf,
    /// The port the docs' `127.0.0.1:8787` becomes.
    port: u16,
}

impl Scene {
    fn new(root: &Path) -> Scene {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Scene {
            root: root.to_path_buf(),
            port,
        }
    }

    /// A block's text as this machine runs it (see the module's doc).
    fn rewrite(&self, body: &str) -> String {
        let bin = format!("'{}'", env!("CARGO_BIN_EXE_kufatilia-gateway"));
        let root = self.root.display().to_string();
        let mut text = body
            .replace("cargo run --release --", "kufatilia-gateway")
            .replace("sudo -u kufatilia ", "")
            .replace("sudo ", "")
            .replace(" -o kufatilia -g kufatilia", "")
            .replace(
                "/etc/kufatilia-gateway",
                &format!("{root}/etc/kufatilia-gateway"),
            )
            .replace(
                "/var/lib/kufatilia-gateway",
                &format!("{root}/var/lib/kufatilia-gateway"),
            )
            .replace("127.0.0.1:8787", &format!("127.0.0.1:{}", self.port));
        // The command, wherever a command starts; never a path or a package name.
        let mut out = String::new();
        while let Some(at) = text.find("kufatilia-gateway ") {
            let before = text[..at].chars().last();
            let command = before.is_none_or(|c| c.is_whitespace() || "|;&(".contains(c));
            out.push_str(&text[..at]);
            out.push_str(if command { &bin } else { "kufatilia-gateway" });
            if command {
                out.push(' ');
            }
            text = text[at + "kufatilia-gateway ".len() - usize::from(!command)..].to_string();
        }
        out.push_str(&text);
        out
    }

    /// Runs one block; its output, or a panic naming the block and what it printed.
    fn run(&self, file: &str, b: &Block) -> String {
        let script = format!(
            "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{}\n",
            self.rewrite(&b.body)
        );
        let child = Command::new("bash")
            .args(["-e", "-o", "pipefail", "-c", &script])
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = crate::common::output_within(child, Duration::from_secs(240));
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{file}:{}: exited {:?}\n--- script\n{script}\n--- stdout\n{stdout}\n--- stderr\n{}",
            b.line,
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

fn runnable(file: &str) -> Vec<Block> {
    let text = DOCS.iter().find(|(f, _)| *f == file).unwrap().1;
    blocks(text)
        .into_iter()
        .filter(|b| b.shell && matches!(b.mark, Mark::Runnable | Mark::WithGateway))
        .collect()
}

/// README's demo command, as printed.
#[cfg(feature = "demo")]
#[test]
fn readme_commands_run_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let scene = Scene::new(dir.path());
    let blocks = runnable("README.md");
    assert!(!blocks.is_empty());
    for b in &blocks {
        let out = scene.run("README.md", b);
        assert!(out.contains("Summary:"), "{out}");
    }
}

/// docs/platform-api.md: the OpenSSL command prints the signature the doc gives, and the
/// reference receiver started as printed takes the demo's signed reports.
#[cfg(feature = "demo")]
#[test]
fn platform_api_commands_run_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let scene = Scene::new(dir.path());
    let doc = DOCS[2].1;
    let signature = doc
        .split("X-Kufatilia-Signature: v2=")
        .nth(1)
        .map(|rest| rest[..64].to_string())
        .unwrap();
    let mut all = String::new();
    for b in runnable("docs/platform-api.md") {
        all.push_str(&scene.run("docs/platform-api.md", &b));
    }
    assert!(all.contains(&signature), "{all}");
    assert!(all.contains("your receiver accepted batch"), "{all}");
    assert!(dir.path().join("platform.sqlite").exists());
}

/// docs/install.md from step 4 on, on the shipped config with only the edits step 4 lists (the
/// modem's device, its own number and the platform url: the simulated modem and a receiver that
/// checks signatures, with the token and secret the doc writes), the files the doc's commands
/// write, and the gateway started as the service would start it. A report then reaches the
/// platform, and `send` puts an SMS on the modem's line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_commands_run_as_printed_on_the_shipped_config() {
    let dir = tempfile::tempdir().unwrap();
    let scene = Scene::new(dir.path());
    let etc = dir.path().join("etc/kufatilia-gateway");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(dir.path().join("var/lib/kufatilia-gateway")).unwrap();
    let stub = PlatformStub::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        StubConfig::single(
            dir.path().join("platform.db"),
            "TOKEN-FROM-THE-PLATFORM",
            Some(b"SECRET-FROM-THE-PLATFORM"),
        ),
    )
    .await
    .unwrap();
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    // Step 4's edits, as a technician makes them in the editor.
    let mut config = include_str!("../config/gateway.toml").to_string();
    for (from, to) in [
        (
            "device = \"/dev/kufatilia-modem0\"".to_string(),
            format!("device = {:?}", sim.device_path()),
        ),
        (
            "# own_number = \"+243810000000\"".to_string(),
            "own_number = \"+243990001234\"".to_string(),
        ),
        (
            "url = \"https://platform.example.org/api/gateway\"".to_string(),
            format!("url = {:?}", stub.url()),
        ),
    ] {
        assert!(config.contains(&from), "the shipped config has no {from}");
        config = config.replacen(&from, &to, 1);
    }
    let root = dir.path().display().to_string();
    config = config
        .replace(
            "/etc/kufatilia-gateway",
            &format!("{root}/etc/kufatilia-gateway"),
        )
        .replace(
            "/var/lib/kufatilia-gateway",
            &format!("{root}/var/lib/kufatilia-gateway"),
        );
    std::fs::write(etc.join("gateway.toml"), &config).unwrap();
    std::fs::write(
        etc.join("keywords.toml"),
        include_str!("../config/keywords.toml"),
    )
    .unwrap();
    let config_path = etc.join("gateway.toml");

    let blocks = runnable("docs/install.md");
    let mut gateway: Option<std::process::Child> = None;
    let mut outputs = Vec::new();
    for b in blocks {
        if b.mark == Mark::WithGateway && gateway.is_none() {
            let log = std::fs::File::create(dir.path().join("gateway.log")).unwrap();
            gateway = Some(
                Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
                    .args(["run", "--config"])
                    .arg(&config_path)
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .unwrap(),
            );
            // Step 6.1: a report from a phone reaches the platform, signed.
            sim.inject("+243812345678", "AJALI test");
            crate::common::wait_until(
                Duration::from_secs(120),
                "the report on the platform",
                || stub.incidents().len() == 1,
            )
            .await;
        }
        let out = tokio::task::spawn_blocking({
            let scene = Scene {
                root: scene.root.clone(),
                port: scene.port,
            };
            move || scene.run("docs/install.md", &b)
        })
        .await;
        if out.is_err()
            && let Some(g) = gateway.as_mut()
        {
            let _ = g.kill();
            let _ = g.wait();
            eprintln!(
                "gateway log:\n{}",
                std::fs::read_to_string(dir.path().join("gateway.log")).unwrap_or_default()
            );
        }
        outputs.push(out.unwrap());
    }
    let all = outputs.concat();
    assert!(all.contains(": OK"), "check-config said OK: {all}");
    assert!(all.contains("all good"), "doctor: {all}");
    assert!(all.contains("sent"), "send waited for the SMS: {all}");
    let sent = sim.sent();
    assert!(
        sent.iter()
            .any(|s| s.to == "+243812345678" && s.text == "Test Kufatilia"),
        "{sent:?}"
    );
    assert_eq!(stub.incidents().len(), 1);
    let mut g = gateway.expect("a block ran with the gateway");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(g.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = g.wait();
    stub.shutdown().await;
}

#[test]
fn the_rewrite_touches_commands_and_box_paths_only() {
    let scene = Scene {
        root: PathBuf::from("/scratch"),
        port: 4242,
    };
    let bin = env!("CARGO_BIN_EXE_kufatilia-gateway");
    assert_eq!(
        scene.rewrite(
            "sudo -u kufatilia kufatilia-gateway check-config --config /etc/kufatilia-gateway/gateway.toml"
        ),
        format!("'{bin}' check-config --config /scratch/etc/kufatilia-gateway/gateway.toml")
    );
    assert_eq!(
        scene.rewrite("echo x | sudo install -m 600 -o kufatilia -g kufatilia /dev/stdin /etc/kufatilia-gateway/t"),
        "echo x | install -m 600 /dev/stdin /scratch/etc/kufatilia-gateway/t"
    );
    assert_eq!(
        scene.rewrite("cargo run --release -- demo --platform-url http://127.0.0.1:8787"),
        format!("'{bin}' demo --platform-url http://127.0.0.1:4242")
    );
    assert_eq!(
        scene.rewrite("apt install ./kufatilia-gateway_*_arm64.deb"),
        "apt install ./kufatilia-gateway_*_arm64.deb"
    );
}
