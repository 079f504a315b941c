//! Answers real modems give, replayed: hand-written transcripts in the format of
//! `doctor --record`, built from TS 27.007/27.005 and the makers' manuals, played by the
//! simulator's transcript personality on a real pty to the daemon's modem link.

use tempfile::TempDir;

use crate::common::Running;
use crate::common::link::{modem_config, start};

use at::transcript::Transcript;
use kufatilia_gateway::LinkState;
use modem_sim::{SimConfig, SimModem};
use store::Store;

/// A Wavecom Fastrack (Q24 family) from power-on: `+WIND: 3` (ready for AT commands) before
/// anything, `+WIND: 1` (SIM inserted) landing inside the `AT+CGMI` answer, and `+CME ERROR:
/// 515` ("please wait, init in progress") to SIM commands until `+WIND: 4` (ready for all
/// commands) — which comes seconds after the gateway starts its set-up.
const WAVECOM_BOOT: &str = r#"# kufatilia-gateway modem transcript 1
# Wavecom Fastrack Supreme, SIM without PIN, cold start.
0.000 < +WIND: 3
0.300 > AT
0.301 < AT
0.301 < OK
0.400 > ATE0
0.401 < ATE0
0.401 < OK
0.500 > AT+CMEE=1
0.501 < OK
0.600 > AT+CGMI
0.601 < +WIND: 1
0.601 < WAVECOM MODEM
0.601 < OK
0.700 > AT+CGMM
0.701 < MULTIBAND  900E  1800
0.701 < OK
0.800 > AT+CGMR
0.801 < R7.43.0.201003231620.FXT009 2064572 032310 16:20
0.801 < OK
0.900 > AT+CGSN
0.901 < 353315022018549
0.901 < OK
1.000 > AT+CPIN?
1.001 < +CPIN: READY
1.001 < OK
1.100 > AT+CIMI
1.101 < +CME ERROR: 515
1.200 > AT+CCID
1.201 < +CCID: "89243010000123456789"
1.201 < OK
1.300 > AT+CMGF=0
1.301 < +CME ERROR: 515
1.900 < +WIND: 7
2.500 > AT+CMGF=0
2.501 < +CME ERROR: 515
3.100 < +WIND: 4
3.200 > AT+CMGF=0
3.201 < OK
3.300 > AT+CPMS="SM","SM","SM"
3.301 < +CPMS: 0,50,0,50,0,50
3.301 < OK
3.400 > AT+CNMI=2,1,0,0,0
3.401 < OK
3.500 > AT+CSCA?
3.501 < +CSCA: "+243990000001",145
3.501 < OK
3.600 > AT+CREG?
3.601 < +CREG: 0,1
3.601 < OK
3.700 > AT+CSQ
3.701 < +CSQ: 17,0
3.701 < OK
3.800 > AT+COPS?
3.801 < +COPS: 0,0,"VODACOM CD"
3.801 < OK
3.900 > AT+CMGL=4
3.901 < OK
"#;

/// A plain 27.007 modem's set-up, with the `AT+CPIN?` and `AT+CREG?` answers and what follows
/// the last command given.
fn generic_session(cpin_answer: &str, creg_answer: &str, tail: &str) -> String {
    format!(
        r#"# kufatilia-gateway modem transcript 1
0.000 > AT
0.001 < OK
0.100 > ATE0
0.101 < OK
0.200 > AT+CMEE=1
0.201 < OK
0.300 > AT+CGMI
0.301 < Telit
0.301 < OK
0.400 > AT+CGMM
0.401 < LE910-EU V2
0.401 < OK
0.500 > AT+CGMR
0.501 < 20.00.413
0.501 < OK
0.600 > AT+CGSN
0.601 < 351622070123456
0.601 < OK
0.700 > AT+CPIN?
{cpin_answer}
0.800 > AT+CIMI
0.801 < 630010123456789
0.801 < OK
0.900 > AT+CMGF=0
0.901 < OK
1.000 > AT+CPMS="SM","SM","SM"
1.001 < +CPMS: 0,30,0,30,0,30
1.001 < OK
1.100 > AT+CNMI=2,1,0,0,0
1.101 < OK
1.200 > AT+CSCA?
1.201 < +CSCA: "+243990000001",145
1.201 < OK
1.300 > AT+CREG?
{creg_answer}
1.400 > AT+CSQ
1.401 < +CSQ: 21,99
1.401 < OK
1.500 > AT+CMGL=4
1.501 < OK
{tail}"#
    )
}

async fn replay(transcript: &str) -> SimModem {
    SimModem::start(SimConfig::replaying(Transcript::parse(transcript).unwrap()))
        .await
        .unwrap()
}

/// A modem link to the simulator replaying `transcript` on a real pty, once the link is ready.
/// The store and the simulator live as long as it does.
struct Replayed {
    link: Running,
    sim: SimModem,
    _store: Store,
    _dir: TempDir,
}

async fn ready_link(name: &str, transcript: &str, balance_ussd: Option<&str>) -> Replayed {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gateway.db")).unwrap();
    let sim = replay(transcript).await;
    let mut cfg = modem_config(name, &sim.device_path());
    cfg.balance_ussd = balance_ussd.map(str::to_string);
    let mut link = start(cfg, &store);
    link.wait_state(LinkState::Ready).await;
    Replayed {
        link,
        sim,
        _store: store,
        _dir: dir,
    }
}

/// A registered modem's session whose balance code `*100#` gets these answer lines.
fn ussd_session(answer: &str) -> String {
    generic_session(
        "0.701 < +CPIN: READY\n0.701 < OK",
        "1.301 < +CREG: 0,1\n1.301 < OK",
        &format!("1.600 > AT+CUSD=1,\"*100#\",15\n1.601 < OK\n{answer}\n"),
    )
}

/// The link's status once it has read a balance.
async fn balance_read(link: &Running) -> kufatilia_gateway::ModemStatus {
    crate::common::eventually("the balance read", || async {
        link.status.snapshot().balance.is_some()
    })
    .await;
    link.status.snapshot()
}

#[tokio::test]
async fn a_wavecom_cold_start_becomes_ready() {
    let Replayed {
        link,
        sim,
        _store,
        _dir,
    } = ready_link("wavecom", WAVECOM_BOOT, None).await;
    let s = link.status.snapshot();
    // The `+WIND: 1` inside the answer is not the manufacturer.
    assert_eq!(s.manufacturer.as_deref(), Some("WAVECOM MODEM"));
    assert_eq!(s.registration.as_deref(), Some("home"));
    assert_eq!(s.sim_total, Some(50));
    let log = sim.command_log();
    // PDU mode was asked until the modem was ready for it, not given up on.
    assert!(
        log.iter().filter(|l| *l == "AT+CMGF=0").count() >= 3,
        "{log:?}"
    );
    link.stop().await;
}

#[tokio::test]
async fn sms_only_registration_counts_as_registered() {
    let session = generic_session(
        "0.701 < +CPIN: READY\n0.701 < OK",
        "1.301 < +CREG: 2,6,\"00C3\",\"0001A2B3\",7\n1.301 < OK",
        "",
    );
    let Replayed {
        link,
        sim,
        _store,
        _dir,
    } = ready_link("lte", &session, None).await;
    let s = link.status.snapshot();
    assert_eq!(s.registration.as_deref(), Some("home (SMS only)"));
    // Registered at the first answer: no polling for a registration that is already there.
    let log = sim.command_log();
    let first_csq = log.iter().position(|l| l == "AT+CSQ").unwrap();
    assert_eq!(
        log[..first_csq].iter().filter(|l| *l == "AT+CREG?").count(),
        1,
        "{log:?}"
    );
    link.stop().await;
}

#[tokio::test]
async fn a_cpin_answer_whose_ok_never_comes_still_unlocks_the_set_up() {
    let session = generic_session("0.701 < +CPIN: READY", "1.301 < +CREG: 0,1\n1.301 < OK", "");
    let Replayed {
        link,
        sim: _sim,
        _store,
        _dir,
    } = ready_link("late-ok", &session, None).await;
    assert_eq!(link.status.snapshot().registration.as_deref(), Some("home"));
    link.stop().await;
}

#[tokio::test]
async fn a_ussd_answer_ended_by_the_network_over_two_lines_is_the_balance() {
    let session = ussd_session("4.100 < +CUSD: 2,\"Solde: 1250.00 FC\n4.100 < Bonus: 200 MB\",15");
    let Replayed {
        link,
        sim: _sim,
        _store,
        _dir,
    } = ready_link("ussd", &session, Some("*100#")).await;
    let s = balance_read(&link).await;
    assert_eq!(
        s.balance.as_deref(),
        Some("Solde: 1250.00 FC\nBonus: 200 MB")
    );
    assert_eq!(s.balance_amount, Some(1250.0));
    assert_eq!(
        s.balance_raw.as_deref(),
        Some("dcs 15: Solde: 1250.00 FC\nBonus: 200 MB")
    );
    link.stop().await;
}

#[tokio::test]
async fn a_ussd_answer_in_ucs2_hex_under_dcs_15_is_read_as_ucs2() {
    let hex: String = "Crédit: 300 FC"
        .encode_utf16()
        .map(|u| format!("{u:04X}"))
        .collect();
    let session = ussd_session(&format!("4.100 < +CUSD: 0,\"{hex}\",15"));
    let Replayed {
        link,
        sim: _sim,
        _store,
        _dir,
    } = ready_link("ussd", &session, Some("*100#")).await;
    let s = balance_read(&link).await;
    assert_eq!(s.balance.as_deref(), Some("Crédit: 300 FC"));
    assert_eq!(s.balance_amount, Some(300.0));
    link.stop().await;
}
