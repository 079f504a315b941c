//! Two modems in one daemon: a reply goes out on the modem that received the report, and while
//! that modem is unplugged, through the fallback its config names — each reply exactly once.

use std::path::Path;
use std::time::Duration;

use config::Config;
use intake::Keywords;
use kufatilia_gateway::daemon::Daemon;
use kufatilia_gateway::{LinkState, StatusHandle};
use modem_sim::{SimConfig, SimModem};
use store::{NewOutgoing, ReplyKind};

const WAIT: Duration = Duration::from_secs(60);

async fn wait_state(status: &StatusHandle, state: LinkState) {
    let mut s = status.clone();
    tokio::time::timeout(WAIT, s.wait_for(|s| s.state == state))
        .await
        .unwrap_or_else(|_| panic!("never {state:?}: {:?}", status.snapshot()));
}

async fn wait_queue_empty(daemon: &Daemon) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while daemon.store.queue_depths().await.unwrap().sms_to_settle() != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "replies still queued"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_named_in_the_config_sends_for_an_unplugged_modem() {
    let dir = tempfile::tempdir().unwrap();
    let orange = SimModem::start(SimConfig {
        link: Some(dir.path().join("orange-by-id")),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let vodacom = SimModem::start(SimConfig::default()).await.unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = format!(
        r#"
gateway_id = "test-gw"
database = "gateway.db"

[[modem]]
name = "orange"
device = {:?}
sweep_interval = "1s"
send_gap = "10ms"
fallback = "vodacom"
fallback_after = "300ms"

[[modem]]
name = "vodacom"
device = {:?}
sweep_interval = "1s"
send_gap = "10ms"

[platform]
url = "http://127.0.0.1:{closed}/api/gateway"
token_file = "token"
"#,
        orange.device_path(),
        vodacom.device_path(),
    );
    config::secrets::write_secret(&dir.path().join("token"), b"test-token\n").unwrap();
    let config = Config::parse(&text, Path::new("test config"), dir.path()).unwrap();
    let daemon = Daemon::start(config, Keywords::builtin().unwrap())
        .await
        .unwrap();
    let (orange_status, vodacom_status) = (daemon.modems[0].clone(), daemon.modems[1].clone());
    wait_state(&orange_status, LinkState::Ready).await;
    wait_state(&vodacom_status, LinkState::Ready).await;

    // The acknowledgement goes out on the modem the report came in on.
    orange.inject("+243811111111", "AJALI mgodi wa Kalimbi");
    let acks = orange.wait_for_sent(1, WAIT).await;
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].to, "+243811111111");
    assert!(vodacom.sent().is_empty());
    // Unplugging while the modem's "+CMGS" answer is on its way would leave the send in doubt
    // (retried later: at least once); wait until the store recorded it.
    wait_queue_empty(&daemon).await;

    orange.unplug().await;
    wait_state(&orange_status, LinkState::Recovering).await;
    for n in 1..=3 {
        daemon
            .store
            .queue_outgoing(NewOutgoing {
                modem: "orange".into(),
                recipient: "+243811111111".into(),
                text: format!("Ujumbe {n}"),
                kind: ReplyKind::Ack,
            })
            .await
            .unwrap();
    }
    let through_vodacom = vodacom.wait_for_sent(3, WAIT).await;
    let mut texts: Vec<_> = through_vodacom.iter().map(|s| s.text.clone()).collect();
    texts.sort();
    assert_eq!(texts, ["Ujumbe 1", "Ujumbe 2", "Ujumbe 3"]);
    wait_queue_empty(&daemon).await;
    // Nothing twice, and the unplugged modem sent nothing more.
    assert_eq!(vodacom.sent().len(), 3, "{:?}", vodacom.sent());
    assert_eq!(orange.sent().len(), 1);
    daemon.stop().await;
}
