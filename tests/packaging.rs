//! The Debian package's metadata (`[package.metadata.deb]` in Cargo.toml) against the files it
//! packages: what `cargo deb` would put in the .deb exists, the configuration is kept as
//! conffiles, the maintainer script never writes over a technician's configuration, and the unit
//! runs the packaged binary with the packaged config. (Building the .deb itself needs a release
//! build: see docs/install.md.)

use std::path::Path;

fn deb() -> toml::Table {
    let manifest: toml::Table =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
    manifest["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb]")
        .clone()
}

/// (source, destination, mode) of every asset.
fn assets(deb: &toml::Table) -> Vec<(String, String, String)> {
    deb["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_array().unwrap();
            let s = |i: usize| a[i].as_str().unwrap().to_owned();
            (s(0), s(1), s(2))
        })
        .collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn every_packaged_file_exists_and_lands_where_the_unit_and_docs_expect() {
    let deb = deb();
    let assets = assets(&deb);
    for (src, dest, mode) in &assets {
        // The binary is built by `cargo deb` (or given with --no-build); the rest is in the tree.
        if !src.starts_with("target/") {
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(src).is_file(),
                "{src} is packaged but missing"
            );
        }
        assert!(
            u32::from_str_radix(mode, 8).is_ok(),
            "{dest}: mode {mode} is not octal"
        );
    }
    let dest = |d: &str| assets.iter().find(|a| a.1 == d).map(|a| a.2.clone());
    assert_eq!(
        dest("usr/bin/"),
        Some("755".into()),
        "the binary in /usr/bin"
    );
    assert_eq!(
        dest("lib/udev/rules.d/99-kufatilia-modem.rules"),
        Some("644".into())
    );
    // The config may hold a PIN path or the platform URL: not world-readable.
    assert_eq!(
        dest("etc/kufatilia-gateway/gateway.toml"),
        Some("640".into())
    );
    assert_eq!(
        dest("etc/kufatilia-gateway/keywords.toml"),
        Some("640".into())
    );

    let unit = read("systemd/kufatilia-gateway.service");
    assert!(unit.contains(
        "ExecStart=/usr/bin/kufatilia-gateway run --config /etc/kufatilia-gateway/gateway.toml"
    ));
    assert!(unit.contains("StateDirectory=kufatilia-gateway"));
    assert!(unit.contains("ConfigurationDirectory=kufatilia-gateway"));
    let units = deb["systemd-units"].as_table().unwrap();
    assert_eq!(units["unit-name"].as_str(), Some("kufatilia-gateway"));
    assert_eq!(units["unit-scripts"].as_str(), Some("systemd/"));

    // The packaged default config points at the state directory the unit creates.
    let config = read("config/gateway.toml");
    assert!(config.contains("database = \"/var/lib/kufatilia-gateway/gateway.db\""));
}

/// `14day`, `2w`, `720h`... as seconds (the units journald.conf(5) takes that matter here).
fn timespan_secs(value: &str) -> u64 {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (n, unit) = value.split_at(split);
    let n: u64 = n
        .parse()
        .unwrap_or_else(|_| panic!("{value:?} is not a time span"));
    let unit_secs = match unit.trim() {
        "" | "s" | "sec" => 1,
        "min" | "m" => 60,
        "h" | "hour" => 3600,
        "d" | "day" => 86_400,
        "w" | "week" => 7 * 86_400,
        "month" => 2_629_800,
        other => panic!("unit {other:?} of {value:?}"),
    };
    n * unit_secs
}

#[test]
fn the_journal_keeps_the_gateways_log_for_a_bounded_time() {
    let deb = deb();
    let assets = assets(&deb);
    let drop_in = assets
        .iter()
        .find(|(_, dest, _)| {
            dest.starts_with("usr/lib/systemd/journald.conf.d/") && dest.ends_with(".conf")
        })
        .expect("a journald drop-in in the package");
    assert_eq!(drop_in.2, "644");
    let text = read(&drop_in.0);
    let setting = |key: &str| {
        text.lines()
            .skip_while(|l| l.trim() != "[Journal]")
            .find_map(|l| l.trim().strip_prefix(&format!("{key}=")).map(str::to_owned))
            .unwrap_or_else(|| panic!("{key} in [Journal] of {}", drop_in.0))
    };
    let retention = timespan_secs(&setting("MaxRetentionSec"));
    assert!(
        retention > 0 && retention <= 30 * 86_400,
        "MaxRetentionSec at most 30 days"
    );
    // Retention removes whole files: a file must not span much more than a day.
    assert!(timespan_secs(&setting("MaxFileSec")) <= 86_400);
    assert!(read("debian/postinst").contains("systemctl try-restart systemd-journald"));
}

#[test]
fn the_configuration_is_kept_as_conffiles_and_never_overwritten() {
    let deb = deb();
    let conffiles: Vec<&str> = deb["conf-files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let etc: Vec<String> = assets(&deb)
        .into_iter()
        .filter(|a| a.1.starts_with("etc/"))
        .map(|a| format!("/{}", a.1))
        .collect();
    assert!(!etc.is_empty());
    for file in &etc {
        assert!(
            conffiles.contains(&file.as_str()),
            "{file} is installed in /etc but is not a conffile: an upgrade would overwrite it"
        );
    }

    assert_eq!(deb["maintainer-scripts"].as_str(), Some("debian/"));
    let postinst = read("debian/postinst");
    assert!(postinst.starts_with("#!/bin/sh"));
    assert!(
        postinst.contains("#DEBHELPER#"),
        "cargo deb adds the unit's enable here"
    );
    assert!(postinst.contains("adduser --system"));
    assert!(
        postinst.contains("kufatilia dialout"),
        "the user reaches the modems"
    );
    // Ownership and mode may change; the content is the technician's.
    for line in postinst.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        for writer in ["cp ", "mv ", "install ", "sed -i", "tee ", "> ", ">> "] {
            assert!(
                !(line.contains(writer) && line.contains("/etc/kufatilia-gateway")),
                "postinst writes into the configuration: {line}"
            );
        }
    }
}

/// The box's binary carries no simulated modem and no platform stub: the package, the Pi builds
/// and the benchmarks all build and measure it without the `demo` feature, which is the only
/// way those crates reach the daemon.
#[test]
fn the_box_binary_is_built_without_the_demo_feature() {
    let deb = deb();
    assert_eq!(
        deb.get("default-features").and_then(|v| v.as_bool()),
        Some(false),
        "[package.metadata.deb] must set default-features = false"
    );
    for script in ["cross/build.sh", "bench/run.sh"] {
        let text = read(script);
        for line in text.lines().filter(|l| {
            let l = l.trim_start();
            !l.starts_with('#') && l.contains("--bin kufatilia-gateway")
        }) {
            assert!(
                line.contains("--no-default-features"),
                "{script}: `{}` builds the box's binary with the demo feature",
                line.trim()
            );
        }
    }
    // `cargo bench` builds the package's binary again, with the default features, into
    // target/release: the benchmarks must measure a copy taken before that.
    let bench = read("bench/run.sh");
    let measured = bench
        .lines()
        .find(|l| l.starts_with("bin="))
        .expect("bench/run.sh names the binary it measures (bin=...)");
    assert!(
        !measured.contains("release/kufatilia-gateway"),
        "bench/run.sh measures {measured}, which `cargo bench` rebuilds with the demo feature"
    );
    assert!(
        bench.contains("cp \"$target_dir/release/kufatilia-gateway\" \"$bin\""),
        "bench/run.sh copies the binary it built without the demo feature to $bin"
    );
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let deps = manifest["dependencies"].as_table().unwrap();
    for tool in ["kufatilia-modem-sim", "kufatilia-platform-stub"] {
        assert_eq!(
            deps[tool].get("optional").and_then(|v| v.as_bool()),
            Some(true),
            "{tool} must stay an optional dependency of the daemon"
        );
    }
    let demo = manifest["features"]["demo"].as_array().unwrap();
    assert!(
        demo.iter()
            .any(|f| f.as_str() == Some("dep:kufatilia-modem-sim")),
        "the demo feature brings the simulator"
    );
}

/// `postrm purge`, run for real on a scratch root (dpkg's `DPKG_ROOT`): it removes the database,
/// its WAL, the pseudonym key and the secrets, names each, and touches nothing else; a plain
/// `remove` keeps everything.
#[test]
fn purging_the_package_removes_the_database_keys_and_secrets_and_says_so() {
    let postrm = read("debian/postrm");
    assert!(postrm.starts_with("#!/bin/sh") && postrm.contains("#DEBHELPER#"));
    // What it removes is where the package and its unit put things.
    let unit = read("systemd/kufatilia-gateway.service");
    assert!(unit.contains("StateDirectory=kufatilia-gateway"));
    assert!(unit.contains("ConfigurationDirectory=kufatilia-gateway"));
    let config = read("config/gateway.toml");
    for (key, dir) in [
        ("database", "/var/lib/kufatilia-gateway/"),
        ("pseudonym_secret_file", "/var/lib/kufatilia-gateway/"),
        ("token_file", "/etc/kufatilia-gateway/"),
    ] {
        assert!(
            config.contains(&format!("{key} = \"{dir}")),
            "{key} is not under {dir}, which postrm removes"
        );
    }

    let root = tempfile::tempdir().unwrap();
    let ours = [
        "var/lib/kufatilia-gateway/gateway.db",
        "var/lib/kufatilia-gateway/gateway.db-wal",
        "var/lib/kufatilia-gateway/gateway.db-shm",
        "var/lib/kufatilia-gateway/pseudonym.key",
        "etc/kufatilia-gateway/platform.token",
        "etc/kufatilia-gateway/platform.secret",
    ];
    let theirs = [
        "var/lib/other/data.db",
        "etc/other/secret",
        "var/lib/kufatilia-gateway-backup/gateway.db",
    ];
    for f in ours.iter().chain(&theirs) {
        let path = root.path().join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "+243812345678 AJALI mgodi").unwrap();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/postrm");
    let run = |action: &str| {
        let out = std::process::Command::new("sh")
            .arg(&script)
            .arg(action)
            .env("DPKG_ROOT", root.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "postrm {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let said = run("remove");
    assert!(said.is_empty(), "{said}");
    for f in ours.iter().chain(&theirs) {
        assert!(root.path().join(f).exists(), "remove took {f}");
    }

    let said = run("purge");
    for f in &ours {
        assert!(!root.path().join(f).exists(), "purge left {f}");
        assert!(
            said.contains(&format!("removed {}", root.path().join(f).display())),
            "{said}"
        );
    }
    for d in ["var/lib/kufatilia-gateway", "etc/kufatilia-gateway"] {
        assert!(!root.path().join(d).exists(), "purge left {d}");
    }
    for f in &theirs {
        assert!(root.path().join(f).exists(), "purge removed {f}, not ours");
    }
    assert!(said.contains("journal"), "{said}");
}

/// The release workflow runs `cross/release.sh` on a tag and publishes what it writes; the
/// script builds the targets whose Debian architectures install.md names, and the workflow
/// installs those targets' Rust standard libraries and cross linkers and uploads those names.
#[test]
fn the_release_workflow_and_script_agree_on_targets_and_files() {
    let workflow = read(".github/workflows/release.yml");
    let script = read("cross/release.sh");
    let install = read("docs/install.md");
    let list = |name: &str| -> Vec<String> {
        let line = script
            .lines()
            .find(|l| l.starts_with(&format!("{name}=(")))
            .unwrap_or_else(|| panic!("cross/release.sh sets no {name}"));
        line[name.len() + 2..line.find(')').unwrap()]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let targets = list("targets");
    let arches = list("arches");
    assert_eq!(
        targets,
        ["aarch64-unknown-linux-gnu", "armv7-unknown-linux-gnueabihf"]
    );
    assert_eq!(arches, ["arm64", "armhf"]);
    assert!(workflow.contains("tags: [\"v*\"]"), "a tag starts it");
    assert!(
        workflow.contains("cross/release.sh --out dist"),
        "{workflow}"
    );
    assert!(workflow.contains("cargo install --locked cargo-deb"));
    for t in &targets {
        assert!(workflow.contains(t.as_str()), "the workflow adds {t}");
        assert!(
            read("cross/build.sh").contains(t.as_str()),
            "cross/build.sh builds {t}"
        );
    }
    for gcc in ["gcc-aarch64-linux-gnu", "gcc-arm-linux-gnueabihf"] {
        assert!(workflow.contains(gcc), "the workflow installs {gcc}");
        assert!(install.contains(gcc), "install.md installs {gcc}");
    }
    for a in &arches {
        let file = format!("dist/kufatilia-gateway_*_{a}.deb");
        assert!(workflow.contains(&file), "the workflow uploads {file}");
        assert!(
            install.contains(&format!("kufatilia-gateway_X.Y.Z-1_{a}.deb")),
            "install.md names the {a} package"
        );
    }
    assert!(workflow.contains("dist/SHA256SUMS") && script.contains("> SHA256SUMS"));
    assert!(install.contains("cross/release.sh") && install.contains("SHA256SUMS"));
    // The workflow's tag is the version the packages carry: the script refuses another.
    assert!(script.contains("GITHUB_REF_NAME") && script.contains("v$version"));
    // Not part of CI: the release build takes longer than CI's budget.
    assert!(!read(".ci/run").contains("release.sh"));
}
