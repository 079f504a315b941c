//! The pseudonym key: made on the first start only. Once the box has named reporters, a missing
//! key stops the gateway with a config error (exit 78) instead of silently giving every reporter
//! a new pseudonym.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::daemon::{Options, Rig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_lost_after_the_first_report_is_a_config_error_not_a_new_key() {
    let rig = Rig::start(Options::default()).await;
    let key = rig.dir.path().join("pseudonym.key");
    assert!(!key.exists() && !rig.db_path().exists());

    // First start: no database yet, so the key is made.
    let daemon = rig.daemon().await;
    assert!(key.exists(), "the first start makes the key");
    let first_key = std::fs::read(&key).unwrap();
    rig.sim.inject("+243812340011", "AJALI karibu na Kalimbi");
    crate::common::wait_until(Duration::from_secs(60), "the report delivered", || {
        rig.stub().incidents().len() == 1
    })
    .await;
    daemon.stop().await;

    // A restart with the key in place keeps it.
    let daemon = rig.daemon().await;
    daemon.stop().await;
    assert_eq!(std::fs::read(&key).unwrap(), first_key);

    // The key is lost (a restored card without it, a wrong path in the config).
    std::fs::remove_file(&key).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
        .args(["run", "--config"])
        .arg(&rig.config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "the gateway started without its pseudonym key (made a new one: {})",
                key.exists()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(78), "{stderr}");
    assert!(stderr.contains(&key.display().to_string()), "{stderr}");
    assert!(stderr.contains("docs/privacy.md"), "{stderr}");
    assert!(!key.exists(), "no new key was made in its place");
    // check-config (systemd's and the technician's check) says the same before any start.
    let check = Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"))
        .args(["check-config", "--config"])
        .arg(&rig.config_path)
        .output()
        .unwrap();
    let check_stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(78), "{check_stderr}");
    let errors = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("error: "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(errors(&check_stderr), errors(&stderr));
    rig.shutdown().await;
}
