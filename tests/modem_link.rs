//! The modem link against the simulated modem on a real pty and a real SQLite store: nothing is
//! deleted from the SIM before it is committed, and nothing is lost across faults.

use crate::common::link::{fast, modem_config, pdu, queue, start};
use crate::common::{Running, WAIT, eventually, spawn, stored};

use std::path::Path;
use std::time::Duration;

use config::ModemConfig;
use kufatilia_gateway::{LinkState, ModemLink, ModemOptions};
use modem_sim::{Personality, SimConfig, SimModem};
use pdu::{self, Pdu};
use store::Store;

/// Every `AT+CMGD=i` follows a read or listing that returned slot i.
fn assert_reads_before_deletes(log: &[String]) {
    for (pos, line) in log.iter().enumerate() {
        if let Some(i) = line.strip_prefix("AT+CMGD=") {
            let read = format!("AT+CMGR={i}");
            let seen = log[..pos]
                .iter()
                .any(|l| l == &read || l.starts_with("AT+CMGL"));
            assert!(seen, "{line} with no read of it before: {log:?}");
        }
    }
}

#[tokio::test]
async fn messages_already_on_the_sim_and_new_ones_are_committed_then_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig {
        link: Some(dir.path().join("modem0")),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.inject_pdu(&pdu(1));
    sim.inject_pdu(&pdu(2));
    assert_eq!(sim.sim_used(), 2);

    let mut cfg = modem_config("vodacom", &sim.device_path());
    cfg.balance_ussd = Some("*100#".into());
    let mut link = start(cfg, &store);
    link.wait_state(LinkState::Ready).await;
    eventually("the two stored messages swept", || async {
        stored(&store).await.len() == 2
    })
    .await;
    sim.inject_pdu(&pdu(3));
    eventually("the indicated message taken", || async {
        stored(&store).await.len() == 3
    })
    .await;
    eventually("the SIM emptied", || async { sim.sim_used() == 0 }).await;
    assert_eq!(
        stored(&store).await,
        [pdu(1), pdu(2), pdu(3)].into_iter().collect()
    );
    assert_reads_before_deletes(&sim.command_log());

    eventually("the balance asked by USSD", || async {
        link.status.snapshot().balance.is_some()
    })
    .await;
    let s = link.status.snapshot();
    assert_eq!(s.balance.as_deref(), Some("Solde: 1250.00 FC"));
    assert_eq!(s.state, LinkState::Ready);
    assert_eq!(s.signal_dbm, Some(-73));
    assert_eq!(s.signal, "good");
    assert_eq!(s.operator.as_deref(), Some("Vodacom CD"));
    assert_eq!(s.registration.as_deref(), Some("home"));
    assert_eq!(s.sim_total, Some(10));
    assert_eq!(s.received, 3);
    assert!(s.last_message_at.is_some());
    link.stop().await;
}

#[tokio::test]
async fn unplug_and_replug_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig {
        link: Some(dir.path().join("by-id")),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut link = start(modem_config("orange", &sim.device_path()), &store);
    link.wait_state(LinkState::Ready).await;
    sim.inject_pdu(&pdu(1));
    eventually("first message stored", || async {
        stored(&store).await.len() == 1
    })
    .await;

    sim.unplug().await;
    link.wait_state(LinkState::Recovering).await;
    // The network keeps delivering to the SIM while the gateway cannot see the modem.
    sim.inject_pdu(&pdu(2));
    sim.inject_pdu(&pdu(3));
    sim.replug().await.unwrap();
    eventually("messages from the unplugged time stored", || async {
        stored(&store).await.len() == 3
    })
    .await;
    eventually("the SIM emptied", || async { sim.sim_used() == 0 }).await;
    assert!(link.status.snapshot().reconnects >= 1);
    assert_reads_before_deletes(&sim.command_log());
    link.stop().await;
}

#[tokio::test]
async fn a_full_sim_is_drained_through_the_network_queue() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig {
        slots: 2,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    for n in 1..=5 {
        sim.inject_pdu(&pdu(n));
    }
    assert_eq!(sim.sim_used(), 2);
    assert_eq!(sim.network_queue_len(), 3);
    let link = start(modem_config("airtel", &sim.device_path()), &store);
    eventually("all five stored", || async {
        stored(&store).await.len() == 5
    })
    .await;
    eventually("SIM and network queue empty", || async {
        sim.sim_used() == 0 && sim.network_queue_len() == 0
    })
    .await;
    assert_reads_before_deletes(&sim.command_log());
    link.stop().await;
}

#[tokio::test]
async fn a_hung_modem_is_recovered_and_its_messages_taken() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let mut link = start(modem_config("hangs", &sim.device_path()), &store);
    link.wait_state(LinkState::Ready).await;
    sim.set_hang(true);
    sim.inject_pdu(&pdu(7));
    link.wait_state(LinkState::Recovering).await;
    sim.set_hang(false);
    link.wait_state(LinkState::Ready).await;
    eventually("the message from the hung time stored", || async {
        stored(&store).await.len() == 1
    })
    .await;
    eventually("the SIM emptied", || async { sim.sim_used() == 0 }).await;
    link.stop().await;
}

#[tokio::test]
async fn the_pin_is_entered_from_its_file_and_a_wrong_one_is_never_retried() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let pin_file = dir.path().join("pin");
    config::secrets::write_secret(&pin_file, b"1234\n").unwrap();
    let sim = SimModem::start(SimConfig {
        pin: Some("1234".into()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.inject_pdu(&pdu(1));
    let mut cfg = modem_config("pin-ok", &sim.device_path());
    cfg.pin_file = Some(pin_file.clone());
    let mut link = start(cfg, &store);
    link.wait_state(LinkState::Ready).await;
    eventually("message behind the PIN stored", || async {
        stored(&store).await.len() == 1
    })
    .await;
    link.stop().await;

    let wrong = SimModem::start(SimConfig {
        pin: Some("9999".into()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut cfg = modem_config("pin-wrong", &wrong.device_path());
    cfg.pin_file = Some(pin_file);
    let mut link = start(cfg, &store);
    link.wait_state(LinkState::Failed).await;
    let detail = link.status.snapshot().detail.unwrap_or_default();
    assert!(detail.contains("refused the PIN"), "{detail}");
    let tries = wrong
        .command_log()
        .iter()
        .filter(|l| l.starts_with("AT+CPIN="))
        .count();
    assert_eq!(tries, 1);
    link.stop().await;
}

#[tokio::test]
async fn huawei_and_sim800_personalities_and_two_modems_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let huawei = SimModem::start(SimConfig {
        personality: Personality::Huawei,
        flood_every: Some(Duration::from_millis(50)),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let sim800 = SimModem::start(SimConfig {
        personality: Personality::Sim800,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut a = start(modem_config("huawei", &huawei.device_path()), &store);
    let mut b = start(modem_config("sim800", &sim800.device_path()), &store);
    a.wait_state(LinkState::Ready).await;
    b.wait_state(LinkState::Ready).await;
    // Huawei numbers its slots from 0.
    huawei.inject_pdu(&pdu(1));
    sim800.inject_pdu(&pdu(2));
    eventually("both stored", || async { stored(&store).await.len() == 2 }).await;
    eventually("both SIMs empty", || async {
        huawei.sim_used() == 0 && sim800.sim_used() == 0
    })
    .await;
    assert!(huawei.command_log().iter().any(|l| l == "AT^CURC=0"));
    assert!(huawei.command_log().iter().any(|l| l == "AT+CMGD=0"));
    assert_eq!(a.status.snapshot().manufacturer.as_deref(), Some("huawei"));

    // One modem gone does not stop the other.
    huawei.unplug().await;
    a.wait_state(LinkState::Recovering).await;
    sim800.inject_pdu(&pdu(3));
    eventually("the other modem still receives", || async {
        stored(&store).await.len() == 3
    })
    .await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn injected_sms_are_real_pdus_and_queued_replies_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let mut link = start(modem_config("vodacom", &sim.device_path()), &store);
    link.wait_state(LinkState::Ready).await;

    sim.inject("+243812345678", "AJALI mgodi umeanguka Kalimbi");
    eventually("the report stored", || async {
        stored(&store).await.len() == 1
    })
    .await;
    let hex = stored(&store).await.into_iter().next().unwrap();
    let Pdu::Deliver(d) = pdu::decode(&hex).unwrap() else {
        panic!("not a DELIVER")
    };
    assert_eq!(d.sender.value, "+243812345678");
    assert_eq!(d.text.as_deref(), Some("AJALI mgodi umeanguka Kalimbi"));

    queue(
        &store,
        "vodacom",
        "+243812345678",
        "Asante. Ripoti yako K7-4821 (Ajali) imepokelewa.",
    )
    .await;
    let long = "Merci. Votre signalement K7-4822 (Violence) est bien reçu. ".repeat(4);
    queue(&store, "vodacom", "+243899999999", &long).await;
    // 1 part for the short reply, 2 for the long one (GSM-7 after transliteration).
    let sent = sim.wait_for_sent(3, WAIT).await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(sent[0].to, "+243812345678");
    assert_eq!(
        sent[0].text,
        "Asante. Ripoti yako K7-4821 (Ajali) imepokelewa."
    );
    let parts = &sent[1..];
    assert!(parts.iter().all(|p| p.to == "+243899999999"));
    let concat = parts[0].concat.expect("a long reply goes in parts");
    assert_eq!(concat.total, 2);
    assert!(
        parts
            .iter()
            .all(|p| p.concat.map(|c| c.reference) == Some(concat.reference))
    );
    let joined: String = parts.iter().map(|p| p.text.as_str()).collect();
    // Transliteration folds "ç" into GSM-7 so the reply costs less.
    assert_eq!(joined, long.replace('ç', "c"));
    eventually("both marked sent", || async {
        let d = store.queue_depths().await.unwrap();
        d.sms_to_settle() == 0
    })
    .await;
    assert_eq!(link.status.snapshot().sent, 2);
    link.stop().await;
}

#[tokio::test]
async fn a_refused_send_stays_queued_for_a_later_retry() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    sim.set_faults(|f| f.fail_every_nth_send = Some((1, 38)));
    let mut link = start(modem_config("airtel", &sim.device_path()), &store);
    link.wait_state(LinkState::Ready).await;
    queue(&store, "airtel", "+243812345678", "Asante.").await;
    eventually("the failure recorded", || async {
        link.status.snapshot().send_failures == 1
    })
    .await;
    let depths = store.queue_depths().await.unwrap();
    assert_eq!((depths.queued_sms, depths.failed_sms), (1, 0));
    assert!(sim.sent().is_empty());
    // The modem keeps working for what comes in.
    sim.inject("+243812345678", "WIZI");
    eventually("the report stored", || async {
        stored(&store).await.len() == 1
    })
    .await;
    link.stop().await;
}

/// The ids of the SMS left `sending` for a technician (`kufatilia-gateway unconfirmed`).
async fn unconfirmed_ids(store: &Store) -> Vec<i64> {
    let rows = store.unconfirmed_outgoing().await.unwrap();
    rows.iter().map(|u| u.id).collect()
}

/// A ready link named "airtel" whose failed sends would be due again after 100 ms: only the
/// link's judgement keeps a send back. The simulator has a stable name, so a reset that
/// re-enumerates it finds it again.
async fn retrying_at_once(dir: &Path) -> (Store, SimModem, Running) {
    let store = Store::open(&dir.join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig {
        link: Some(dir.join("modem")),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let options = ModemOptions {
        send_retry_after: Duration::from_millis(100),
        ..crate::common::link::fast()
    };
    let mut link = spawn(ModemLink::new(
        modem_config("airtel", &sim.device_path()),
        store.clone(),
        options,
    ));
    link.wait_state(LinkState::Ready).await;
    (store, sim, link)
}

#[tokio::test]
async fn a_send_the_modem_took_but_never_answered_is_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim, link) = retrying_at_once(dir.path()).await;
    sim.set_faults(|f| f.hang_after_next_send = true);
    let first = queue(&store, "airtel", "+243812345678", "Asante. K7-0001").await;
    eventually("the first reply handed to the network", || async {
        sim.sent().len() == 1
    })
    .await;
    // The modem hangs after sending it; the link resets it and sends what is due after it.
    queue(&store, "airtel", "+243812345679", "Asante. K7-0002").await;
    eventually("the second reply sent after the reset", || async {
        sim.sent().iter().any(|s| s.text == "Asante. K7-0002")
            && store.queue_depths().await.unwrap().queued_sms == 0
    })
    .await;
    assert!(sim.resets() >= 1, "the hung modem was reset");
    let copies = sim
        .sent()
        .iter()
        .filter(|s| s.text == "Asante. K7-0001")
        .count();
    assert_eq!(copies, 1, "an SMS the modem may have sent went out again");
    assert_eq!(
        unconfirmed_ids(&store).await,
        vec![first],
        "left for a technician's decision"
    );
    link.stop().await;
}

#[tokio::test]
async fn a_long_sms_refused_after_its_first_part_is_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim, link) = retrying_at_once(dir.path()).await;
    // Every second AT+CMGS is refused: the second part of each try.
    sim.set_faults(|f| f.fail_every_nth_send = Some((2, 38)));
    let long = "Asante. Ripoti yako K7-0003 imepokelewa. ".repeat(5);
    let id = queue(&store, "airtel", "+243812345678", &long).await;
    eventually("the failure recorded", || async {
        link.status.snapshot().send_failures == 1
    })
    .await;
    // A later reply, queued once a retry of the first would be due: the link takes due rows
    // oldest first, so a retry would go out before it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    queue(&store, "airtel", "+243812345679", "Asante. K7-0004").await;
    // Nothing left queued: a part that went out is never retried.
    eventually("the later reply sent and nothing queued", || async {
        sim.sent().iter().any(|s| s.text == "Asante. K7-0004")
            && store.queue_depths().await.unwrap().queued_sms == 0
    })
    .await;
    let first_parts = sim.sent().iter().filter(|s| s.to.ends_with("678")).count();
    assert_eq!(first_parts, 1, "the part that went out was sent again");
    assert_eq!(unconfirmed_ids(&store).await, vec![id]);
    link.stop().await;
}

/// Six replies queued before the link starts (it finds them all at once, as after an outage),
/// paced 0.7 s apart; returns once the first is sent. The sweep is hourly: it must not be what
/// finds a report.
async fn sending_a_paced_queue(dir: &Path) -> (Store, SimModem, Running) {
    let store = Store::open(&dir.join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let cfg = ModemConfig {
        send_gap: Duration::from_millis(700),
        sweep_interval: Duration::from_secs(3600),
        ..modem_config("vodacom", &sim.device_path())
    };
    for i in 0..6 {
        queue(&store, "vodacom", &format!("+24381234560{i}"), "Asante.").await;
    }
    let link = start(cfg, &store);
    sim.wait_for_sent(1, WAIT).await;
    (store, sim, link)
}

#[tokio::test]
async fn a_report_is_taken_between_paced_replies_not_after_the_whole_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim, link) = sending_a_paced_queue(dir.path()).await;
    sim.inject("+243899999999", "AJALI shimoni");
    eventually("the report stored", || async {
        stored(&store).await.len() == 1
    })
    .await;
    // Ordering, not timing: the +CMTI was served in a gap between two replies, while most of the
    // queue was still waiting.
    let sent_by_then = sim.sent().len();
    assert!(
        sent_by_then < 6,
        "the report waited for the whole queue ({sent_by_then} replies sent first)"
    );
    assert_eq!(sim.wait_for_sent(6, WAIT).await.len(), 6);
    link.stop().await;
}

#[tokio::test]
async fn stopping_does_not_wait_for_the_whole_queue_of_replies() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim, link) = sending_a_paced_queue(dir.path()).await;
    link.stop().await;
    let sent = sim.sent().len();
    assert!(sent < 6, "the stop waited for the whole queue");
    // What was not sent stays queued for the next start.
    let depths = store.queue_depths().await.unwrap();
    assert_eq!(depths.queued_sms as usize, 6 - sent);
}

/// A backlog larger than one round of sending (`send_batch`, 10) drains round after round, not
/// one round per `outgoing_poll`: before, 25 replies queued during an outage took two polls
/// after the first ten (with the default 5 s poll and 0.5 s gap, the rate of a backlog halved).
#[tokio::test]
async fn a_backlog_of_replies_drains_without_waiting_for_the_poll() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let cfg = ModemConfig {
        sweep_interval: Duration::from_secs(3600),
        ..modem_config("vodacom", &sim.device_path())
    };
    for i in 0..25 {
        queue(&store, "vodacom", &format!("+2438123456{i:02}"), "Asante.").await;
    }
    // The poll would come only in an hour: what is sent within WAIT was sent without it.
    let opts = ModemOptions {
        outgoing_poll: Duration::from_secs(3600),
        ..fast()
    };
    let link = spawn(ModemLink::new(cfg, store.clone(), opts));
    assert_eq!(sim.wait_for_sent(25, WAIT).await.len(), 25);
    assert_eq!(store.queue_depths().await.unwrap().queued_sms, 0);
    link.stop().await;
}
