//! The command line as a technician uses it: exit codes (sysexits) and messages.

use std::process::Command;

fn gateway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
}

fn write_config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    std::fs::write(
        dir.join("keywords.toml"),
        include_str!("../config/keywords.toml"),
    )
    .unwrap();
    config::secrets::write_secret(&dir.join("token"), b"t0ken").unwrap();
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            "gateway_id = \"goma-01\"\ndatabase = \"g.db\"\n[platform]\nurl = \"http://127.0.0.1:9\"\ntoken_file = \"token\"\n{extra}"
        ),
    )
    .unwrap();
    path
}

#[test]
fn check_config_accepts_a_good_config_and_prints_reply_costs() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "");
    let out = gateway()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("replies.ack.fr: 1 SMS"), "{stdout}");
}

#[test]
fn check_config_names_the_bad_key_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "batch_maks = 5\n");
    let out = gateway()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("platform.batch_maks"), "{stderr}");
    assert!(stderr.contains("did you mean `batch_max`"), "{stderr}");
}

#[test]
fn check_config_refuses_a_token_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "");
    std::fs::write(dir.path().join("token"), "t0ken").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.path().join("token"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = gateway()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
}

#[test]
fn decode_pdu_prints_json_and_rejects_garbage_with_65() {
    // The classic "hellohello" SMS-DELIVER (dreamfabric.com PDU tutorial).
    let out = gateway()
        .args([
            "decode-pdu",
            "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["type"], "deliver");
    assert_eq!(json["text"], "hellohello");
    let out = gateway()
        .args(["decode-pdu", "07917283ZZ"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid SMS PDU"));
}

/// `decode-pdu -` and `decode-pdu` with no argument read standard input, one PDU a line, so a
/// modem's listing can be piped in.
#[test]
fn decode_pdu_reads_standard_input() {
    use std::io::Write;
    const HELLO: &str = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37";
    for args in [&["decode-pdu", "-"][..], &["decode-pdu"][..]] {
        let mut child = gateway()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{HELLO}\n\n  {HELLO}  \n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&stdout)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(docs.len(), 2, "{stdout}");
        assert!(docs.iter().all(|d| d["text"] == "hellohello"), "{stdout}");
    }
    let out = gateway()
        .arg("decode-pdu")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no PDU given"));
}

#[test]
fn a_wrong_command_line_exits_64() {
    let out = gateway().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
}
