//! The field faults of issue 4, each end to end: the link against simulated modems on real ptys
//! and a real SQLite store. Every test checks that nothing is lost: what the network delivered is
//! in the store and gone from the SIM, and every queued reply went out exactly once.

use crate::common::link::{fast, modem_config, pdu, queue, start};
use crate::common::{WAIT, eventually, spawn, stored};

use std::collections::BTreeSet;
use std::time::Duration;

use kufatilia_gateway::{LinkState, ModemLink, Quirks};
use modem_sim::{Personality, SimConfig, SimModem, UssdEncoding, UssdReply};
use store::Store;

/// A published SMS-STATUS-REPORT (message reference 214, delivered), without SMSC.
const REPORT: &str = "0006D60B911326880736F4111011719551401110117195714000";

/// Every `AT+CMGD=<i>` comes after a read of slot `i` (a message leaves the SIM only once read).
fn assert_reads_before_deletes(log: &[String]) {
    let mut seen_read = false;
    for line in log {
        if line.starts_with("AT+CMGL") || line.starts_with("AT+CMGR") {
            seen_read = true;
        }
        if line.starts_with("AT+CMGD") {
            assert!(seen_read, "deleted before any read: {log:?}");
        }
    }
}

#[tokio::test]
async fn replies_of_an_unplugged_modem_go_out_once_through_its_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let orange_sim = SimModem::start(SimConfig {
        link: Some(dir.path().join("orange-by-id")),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let vodacom_sim = SimModem::start(SimConfig::default()).await.unwrap();

    let mut orange_cfg = modem_config("orange", &orange_sim.device_path());
    orange_cfg.fallback = Some("vodacom".into());
    let orange = ModemLink::new(orange_cfg, store.clone(), fast());
    let mut vodacom = ModemLink::new(
        modem_config("vodacom", &vodacom_sim.device_path()),
        store.clone(),
        fast(),
    );
    vodacom.cover_for(
        "orange",
        orange.status(),
        orange.send_lock(),
        Duration::from_millis(500),
    );
    let mut orange = spawn(orange);
    let mut vodacom = spawn(vodacom);
    orange.wait_state(LinkState::Ready).await;
    vodacom.wait_state(LinkState::Ready).await;

    // While orange works, its replies go out on orange only.
    queue(&store, "orange", "+243811111111", "Asante 1").await;
    orange_sim.wait_for_sent(1, WAIT).await;
    // Recorded as sent before the unplug (an unplug while the answer is on its way leaves the
    // send in doubt, and it is retried: at least once).
    eventually("the first reply marked sent", || async {
        store.queue_depths().await.unwrap().sms_to_settle() == 0
    })
    .await;

    orange_sim.unplug().await;
    orange.wait_state(LinkState::Recovering).await;
    for n in 2..=4 {
        queue(&store, "orange", "+243811111111", &format!("Asante {n}")).await;
    }
    queue(&store, "vodacom", "+243822222222", "Merci").await;
    let through_vodacom = vodacom_sim.wait_for_sent(4, WAIT).await;
    eventually("every reply marked sent", || async {
        store.queue_depths().await.unwrap().sms_to_settle() == 0
    })
    .await;

    // Orange comes back: its new replies go out on orange again.
    orange_sim.replug().await.unwrap();
    orange.wait_state(LinkState::Ready).await;
    queue(&store, "orange", "+243811111111", "Asante 5").await;
    let through_orange = orange_sim.wait_for_sent(2, WAIT).await;
    eventually("the last reply marked sent", || async {
        store.queue_depths().await.unwrap().sms_to_settle() == 0
    })
    .await;

    let mut texts: Vec<String> = through_orange
        .iter()
        .chain(vodacom_sim.sent().iter())
        .map(|s| s.text.clone())
        .collect();
    texts.sort();
    assert_eq!(
        texts,
        [
            "Asante 1", "Asante 2", "Asante 3", "Asante 4", "Asante 5", "Merci"
        ],
        "each reply exactly once"
    );
    let fallback_texts: BTreeSet<_> = through_vodacom.iter().map(|s| s.text.as_str()).collect();
    assert!(fallback_texts.contains("Asante 2") && fallback_texts.contains("Asante 4"));
    assert_eq!(
        through_orange
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>(),
        ["Asante 1", "Asante 5"]
    );
    orange.stop().await;
    vodacom.stop().await;
}

#[tokio::test]
async fn status_reports_are_committed_then_deleted_like_messages() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let mut opts = fast();
    opts.submit.status_report = true;
    let mut link = spawn(ModemLink::new(
        modem_config("vodacom", &sim.device_path()),
        store.clone(),
        opts,
    ));
    link.wait_state(LinkState::Ready).await;
    assert!(
        sim.command_log().iter().any(|l| l == "AT+CNMI=2,1,0,2,0"),
        "reports asked to be stored and announced: {:?}",
        sim.command_log()
    );
    // Stored by the modem and announced with +CDSI.
    sim.inject_status_report(REPORT);
    eventually("the stored report committed", || async {
        stored(&store).await.contains(REPORT)
    })
    .await;
    eventually("and deleted from the SIM", || async { sim.sim_used() == 0 }).await;
    // Pushed straight to the line (+CDS) by a modem set so.
    let other = REPORT.replace("D60B", "D70B");
    sim.send_raw(format!("\r\n+CDS: 25\r\n{other}\r\n").as_bytes());
    eventually("the pushed report committed", || async {
        stored(&store).await.contains(&other)
    })
    .await;
    assert!(
        sim.command_log()
            .iter()
            .any(|l| l.starts_with("AT+CMGR=") || l.starts_with("AT+CMGL")),
    );
    assert_reads_before_deletes(&sim.command_log());
    link.stop().await;
}

#[tokio::test]
async fn a_hung_modem_is_reset_and_comes_back_at_the_same_path_while_another_works() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let hung = SimModem::start(SimConfig {
        link: Some(dir.path().join("hung-by-id")),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let other = SimModem::start(SimConfig::default()).await.unwrap();
    let mut a = start(modem_config("hung", &hung.device_path()), &store);
    let mut b = start(modem_config("other", &other.device_path()), &store);
    a.wait_state(LinkState::Ready).await;
    b.wait_state(LinkState::Ready).await;

    hung.inject_pdu(&pdu(1));
    eventually("first message stored", || async {
        stored(&store).await.contains(&pdu(1))
    })
    .await;
    // The AT stack hangs; only a reset brings it back. Messages keep arriving on its SIM.
    hung.set_faults(|f| f.hang_until_reset = true);
    hung.inject_pdu(&pdu(2));
    hung.inject_pdu(&pdu(3));
    a.wait_state(LinkState::Recovering).await;
    other.inject_pdu(&pdu(4));
    eventually("the reset happened", || async { hung.resets() == 1 }).await;
    a.wait_state(LinkState::Ready).await;
    eventually("everything stored", || async {
        let s = stored(&store).await;
        (1..=4).all(|n| s.contains(&pdu(n)))
    })
    .await;
    eventually("both SIMs empty", || async {
        hung.sim_used() == 0 && other.sim_used() == 0
    })
    .await;
    let log = hung.command_log();
    assert!(log.iter().any(|l| l == "AT+CFUN=1,1"), "{log:?}");
    assert_reads_before_deletes(&log);
    assert!(a.status.snapshot().reconnects >= 2);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_modem_gone_for_a_while_is_waited_for_at_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig {
        link: Some(dir.path().join("by-id")),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut link = start(modem_config("airtel", &sim.device_path()), &store);
    link.wait_state(LinkState::Ready).await;
    sim.unplug_for(Duration::from_secs(2)).await;
    sim.inject_pdu(&pdu(5));
    link.wait_state(LinkState::Recovering).await;
    let detail = link.status.snapshot().detail.unwrap_or_default();
    assert!(!detail.is_empty());
    link.wait_state(LinkState::Ready).await;
    eventually("the message of the gone time stored", || async {
        stored(&store).await.contains(&pdu(5))
    })
    .await;
    eventually("the SIM emptied", || async { sim.sim_used() == 0 }).await;
    // It answered as soon as it was back: a modem that was only gone is not reset.
    assert_eq!(sim.resets(), 0, "{:?}", sim.command_log());
    link.stop().await;
}

#[tokio::test]
async fn memory_full_on_send_takes_the_stored_messages_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig {
        slots: 2,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.set_faults(|f| f.fail_every_nth_send = Some((1, 322)));
    let mut link = start(modem_config("airtel", &sim.device_path()), &store);
    link.wait_state(LinkState::Ready).await;
    // The SIM fills, and the network holds the rest.
    for n in 1..=5 {
        sim.inject_pdu(&pdu(n));
    }
    queue(&store, "airtel", "+243812345678", "Asante.").await;
    eventually("the send failure recorded", || async {
        link.status.snapshot().send_failures >= 1
    })
    .await;
    eventually("all five stored", || async {
        stored(&store).await.len() == 5
    })
    .await;
    eventually("SIM and network queue empty", || async {
        sim.sim_used() == 0 && sim.network_queue_len() == 0
    })
    .await;
    let log = sim.command_log();
    let failed_send = log.iter().position(|l| l.starts_with("<PDU>")).unwrap();
    assert!(
        log[failed_send..].iter().any(|l| l.starts_with("AT+CMGL")),
        "a sweep follows the memory-full answer: {log:?}"
    );
    // The reply is still queued for a later retry, with its reason.
    let depths = store.queue_depths().await.unwrap();
    assert_eq!((depths.queued_sms, depths.failed_sms), (1, 0));
    assert!(sim.sent().is_empty());
    assert_reads_before_deletes(&log);
    link.stop().await;
}

#[tokio::test]
async fn garbage_on_the_line_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    sim.set_faults(|f| f.garbage_before_reply = Some(b"\xff\x00~~\r\nZX#\r\n".to_vec()));
    let mut link = start(modem_config("noisy", &sim.device_path()), &store);
    link.wait_state(LinkState::Ready).await;
    for n in 1..=3 {
        sim.inject_pdu(&pdu(n));
        sim.send_raw(b"\r\n^WEIRD: 1\r\n\x07\x1b");
    }
    eventually("all three stored", || async {
        stored(&store).await.len() == 3
    })
    .await;
    eventually("the SIM emptied", || async { sim.sim_used() == 0 }).await;
    link.stop().await;
}

#[tokio::test]
async fn balance_by_ussd_is_decoded_and_a_low_one_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig {
        ussd: Some(UssdReply {
            code: "*100#".into(),
            text: "Solde: 120.50 FC".into(),
            encoding: UssdEncoding::PackedGsm7Hex,
        }),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut cfg = modem_config("orange", &sim.device_path());
    cfg.balance_ussd = Some("*100#".into());
    cfg.low_balance_below = Some(500.0);
    let link = ModemLink::new(cfg, store.clone(), fast());
    let ask = link.balance_request();
    let mut link = spawn(link);
    link.wait_state(LinkState::Ready).await;
    eventually("the balance decoded", || async {
        link.status.snapshot().balance.as_deref() == Some("Solde: 120.50 FC")
    })
    .await;
    let s = link.status.snapshot();
    assert_eq!(s.balance_amount, Some(120.5));
    assert!(s.low_balance);
    assert!(s.balance_at.is_some());
    // On demand: one more request goes out.
    let asked = || {
        sim.command_log()
            .iter()
            .filter(|l| l.starts_with("AT+CUSD=1,\"*100#\""))
            .count()
    };
    let before = asked();
    ask.ask();
    eventually("asked again on demand", || async { asked() > before }).await;
    link.stop().await;

    // A UCS-2 answer above the threshold.
    let sim = SimModem::start(SimConfig {
        ussd: Some(UssdReply {
            code: "*111#".into(),
            text: "Crédit: 2500 FC".into(),
            encoding: UssdEncoding::Ucs2Hex,
        }),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut cfg = modem_config("airtel", &sim.device_path());
    cfg.balance_ussd = Some("*111#".into());
    cfg.low_balance_below = Some(500.0);
    let mut link = start(cfg, &store);
    eventually("the UCS-2 balance decoded", || async {
        link.status.snapshot().balance.as_deref() == Some("Crédit: 2500 FC")
    })
    .await;
    assert!(!link.status.snapshot().low_balance);
    link.wait_state(LinkState::Ready).await;
    link.stop().await;
}

#[tokio::test]
async fn quectel_roaming_identity_and_the_clock_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig {
        personality: Personality::Quectel,
        registration: 5,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut link = start(modem_config("quectel", &sim.device_path()), &store);
    link.wait_state(LinkState::Ready).await;
    let s = link.status.snapshot();
    assert_eq!(s.personality, Quirks::Quectel);
    assert_eq!(s.registration.as_deref(), Some("roaming"));
    assert_eq!(s.imei.as_deref(), Some("356938035643809"));
    assert_eq!(s.imsi.as_deref(), Some("630010123456789"));
    assert_eq!(s.iccid.as_deref(), Some("8924301000012345678"));
    assert!(s.revision.is_some());
    assert_eq!(s.clock_warning, None);

    // A message stamped by the service centre in 2002: the clocks disagree.
    sim.inject_pdu(&pdu(1));
    eventually("the clock warning raised", || async {
        link.status
            .snapshot()
            .clock_warning
            .is_some_and(|w| w.contains("ahead of"))
    })
    .await;
    // One stamped now: they agree again.
    sim.inject("+243812345678", "AJALI");
    eventually("the clock warning cleared", || async {
        link.status.snapshot().clock_warning.is_none()
    })
    .await;
    eventually("both stored", || async { stored(&store).await.len() == 2 }).await;
    link.stop().await;
}

#[tokio::test]
async fn huawei_boot_heartbeats_do_not_restart_the_set_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let huawei = SimModem::start(SimConfig {
        personality: Personality::Huawei,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut link = start(modem_config("huawei", &huawei.device_path()), &store);
    link.wait_state(LinkState::Ready).await;
    let inits = |log: Vec<String>| log.iter().filter(|l| *l == "AT+CMGF=0").count();
    let before = inits(huawei.command_log());
    for _ in 0..3 {
        huawei.send_raw(b"\r\n^BOOT:20952548,0,0,0,75\r\n");
    }
    huawei.inject_pdu(&pdu(9));
    eventually("stored", || async { stored(&store).await.len() == 1 }).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(inits(huawei.command_log()), before, "^BOOT is a heartbeat");
    assert_eq!(link.status.snapshot().personality, Quirks::Huawei);
    link.stop().await;
}

#[tokio::test]
async fn a_sim800_behind_a_pin_is_reset_and_unlocked_again_after_it_re_enumerates() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let pin_file = dir.path().join("pin");
    config::secrets::write_secret(&pin_file, b"4321\n").unwrap();
    let sim = SimModem::start(SimConfig {
        personality: Personality::Sim800,
        pin: Some("4321".into()),
        link: Some(dir.path().join("sim800-by-id")),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut cfg = modem_config("sim800", &sim.device_path());
    cfg.pin_file = Some(pin_file);
    let mut link = start(cfg, &store);
    link.wait_state(LinkState::Ready).await;
    assert_eq!(link.status.snapshot().personality, Quirks::Simcom);
    sim.inject_pdu(&pdu(1));
    eventually("first stored", || async { stored(&store).await.len() == 1 }).await;

    sim.set_faults(|f| f.hang_until_reset = true);
    sim.inject_pdu(&pdu(2));
    link.wait_state(LinkState::Recovering).await;
    eventually("the reset happened", || async { sim.resets() == 1 }).await;
    link.wait_state(LinkState::Ready).await;
    eventually("the message of the hung time stored", || async {
        stored(&store).await.len() == 2
    })
    .await;
    eventually("the SIM emptied", || async { sim.sim_used() == 0 }).await;
    // One PIN entry per boot of the SIM, never a second try in a row.
    let pins = sim
        .command_log()
        .iter()
        .filter(|l| l.starts_with("AT+CPIN="))
        .count();
    assert_eq!(pins, 2, "{:?}", sim.command_log());
    assert_reads_before_deletes(&sim.command_log());
    link.stop().await;
}

#[tokio::test]
async fn an_unregistered_modem_still_gives_its_stored_messages_and_keeps_its_replies_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = SimModem::start(SimConfig {
        registration: 2,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.inject_pdu(&pdu(1));
    let mut link = start(modem_config("searching", &sim.device_path()), &store);
    link.wait_state(LinkState::Ready).await;
    assert_eq!(
        link.status.snapshot().registration.as_deref(),
        Some("searching")
    );
    eventually("the stored message taken", || async {
        stored(&store).await.len() == 1 && sim.sim_used() == 0
    })
    .await;
    // Sending fails while not registered (+CMS ERROR: 331) and is retried later.
    queue(&store, "searching", "+243812345678", "Asante.").await;
    eventually("the failure recorded", || async {
        link.status.snapshot().send_failures == 1
    })
    .await;
    let depths = store.queue_depths().await.unwrap();
    assert_eq!((depths.queued_sms, depths.failed_sms), (1, 0));
    assert!(sim.sent().is_empty());
    sim.set_registration(1);
    eventually("registration seen", || async {
        link.status.snapshot().registration.as_deref() == Some("home")
    })
    .await;
    link.stop().await;
}
