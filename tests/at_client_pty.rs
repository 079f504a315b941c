//! The AT client against the simulated modem, over a real pseudo-terminal opened like a serial port.

use std::time::Duration;

use at::commands::{
    At, Cgmi, Cgmm, Cmee, Cmgd, Cmgf, Cmgl, Cmgr, Cnmi, CpinQuery, CpmsSet, CregQuery, Csq, Echo,
    ListFilter, PinState,
};
use at::{AtClient, AtError, Storage, Urc};
use kufatilia_gateway::port;
use modem_sim::{SimConfig, SimModem};
use tokio::sync::mpsc::Receiver;

/// Published SMS-DELIVER examples (with SMSC prefix), as found in many PDU references.
const PDU_A: &str = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";
const PDU_B: &str = "07911326040000F0040B911346610089F60000208062917314080AE8329BFD4697D9EC37";

const WAIT: Duration = Duration::from_secs(10);

async fn connect(sim: &SimModem) -> (AtClient, Receiver<Urc>) {
    let port = port::open(&sim.device_path(), 115200).expect("open the simulated modem");
    AtClient::new(port)
}

async fn init(client: &mut AtClient) {
    client.run(&Echo(false)).await.unwrap();
    client.run(&Cmee(1)).await.unwrap();
    client.run(&Cmgf::Pdu).await.unwrap();
    client.run(&CpmsSet::all(Storage::Sim)).await.unwrap();
    client.run(&Cnmi::STORE_AND_NOTIFY).await.unwrap();
}

async fn next_urc(urcs: &mut Receiver<Urc>) -> Urc {
    tokio::time::timeout(WAIT, urcs.recv())
        .await
        .expect("a URC in time")
        .expect("URC channel open")
}

#[tokio::test]
async fn init_then_indication_read_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        link: Some(dir.path().join("modem0")),
        ..SimConfig::default()
    };
    let sim = SimModem::start(cfg).await.unwrap();
    let (mut client, mut urcs) = connect(&sim).await;
    init(&mut client).await;
    assert_eq!(client.run(&CpinQuery).await.unwrap(), PinState::Ready);
    assert!(client.run(&CregQuery).await.unwrap().stat.is_registered());
    assert_eq!(client.run(&Csq).await.unwrap().dbm(), Some(-73));

    sim.inject_pdu(PDU_A);
    let Urc::NewMessage { storage, index } = next_urc(&mut urcs).await else {
        panic!("expected +CMTI");
    };
    assert_eq!(storage, Storage::Sim);
    let msg = client
        .run(&Cmgr(index))
        .await
        .unwrap()
        .expect("a message in that slot");
    assert_eq!(msg.pdu, PDU_A);
    client.run(&Cmgd(index)).await.unwrap();
    assert_eq!(sim.sim_used(), 0);
    assert_eq!(
        client.run(&Cmgr(index)).await.unwrap_err().cms_code(),
        Some(321)
    );

    // The log shows the order: read before delete.
    let log = sim.command_log();
    let read = log
        .iter()
        .position(|l| l == &format!("AT+CMGR={index}"))
        .unwrap();
    let delete = log
        .iter()
        .position(|l| l == &format!("AT+CMGD={index}"))
        .unwrap();
    assert!(read < delete);
}

#[tokio::test]
async fn a_urc_inside_a_listing_goes_to_the_urc_channel() {
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let (mut client, mut urcs) = connect(&sim).await;
    init(&mut client).await;
    sim.set_faults(|f| f.urc_inside_next_reply = Some("+CMTI: \"SM\",9".into()));
    // Stored while indications were on: each gives a +CMTI first.
    sim.inject_pdu(PDU_A);
    sim.inject_pdu(PDU_B);
    assert!(matches!(
        next_urc(&mut urcs).await,
        Urc::NewMessage { index: 1, .. }
    ));
    assert!(matches!(
        next_urc(&mut urcs).await,
        Urc::NewMessage { index: 2, .. }
    ));
    let list = client.run(&Cmgl(ListFilter::All)).await.unwrap();
    assert_eq!(
        list.iter().map(|m| m.pdu.as_str()).collect::<Vec<_>>(),
        [PDU_A, PDU_B]
    );
    assert_eq!(
        next_urc(&mut urcs).await,
        Urc::NewMessage {
            storage: Storage::Sim,
            index: 9
        }
    );
}

#[tokio::test]
async fn a_late_answer_is_never_taken_for_the_next_command() {
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let (mut client, _urcs) = connect(&sim).await;
    init(&mut client).await;
    sim.set_faults(|f| f.delay_next_reply = Some(Duration::from_millis(1500)));
    let e = client
        .run_with_timeout(&Cgmm, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(e, AtError::Timeout { .. }), "{e}");
    // The model's answer ("SIMULATED-MODEM") arrives while we ask for the manufacturer.
    assert_eq!(client.run(&Cgmi).await.unwrap(), "Kufatilia");
    assert_eq!(client.run(&Cgmm).await.unwrap(), "SIMULATED-MODEM");
    assert_eq!(client.run(&Cgmi).await.unwrap(), "Kufatilia");
}

#[tokio::test]
async fn garbage_on_the_line_is_skipped() {
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let (mut client, mut urcs) = connect(&sim).await;
    init(&mut client).await;
    sim.send_raw(b"\x00\xff\xfe\x13\r\n\xf0\x9f\r\n");
    sim.set_faults(|f| f.garbage_before_reply = Some(b"\x00\x00\xff\r\n".to_vec()));
    assert_eq!(client.run(&Cgmi).await.unwrap(), "Kufatilia");
    sim.inject_pdu(PDU_A);
    assert!(matches!(next_urc(&mut urcs).await, Urc::NewMessage { .. }));
    let list = client.run(&Cmgl(ListFilter::All)).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].pdu, PDU_A);
}

#[tokio::test]
async fn unplug_is_modem_gone_and_the_reader_stops() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("by-id-modem");
    let sim = SimModem::start(SimConfig {
        link: Some(link.clone()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (mut client, mut urcs) = connect(&sim).await;
    init(&mut client).await;
    sim.unplug().await;
    assert!(!link.exists());
    let e = client.run(&At).await.unwrap_err();
    assert!(matches!(e, AtError::ModemGone), "{e}");
    // The reader ended: the URC channel is closed (no task left polling a dead line).
    assert_eq!(tokio::time::timeout(WAIT, urcs.recv()).await.unwrap(), None);
    assert!(!client.is_connected());
    assert!(matches!(client.run(&At).await, Err(AtError::ModemGone)));

    // Plugged back: same path, a modem that starts over (echo on) and keeps its SIM.
    sim.replug().await.unwrap();
    assert!(link.exists());
    let (mut client, _urcs) = connect(&sim).await;
    client.run(&At).await.unwrap();
    init(&mut client).await;
    assert_eq!(client.run(&Cgmi).await.unwrap(), "Kufatilia");
}

#[tokio::test]
async fn a_hung_modem_times_out_then_recovers() {
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let (mut client, _urcs) = connect(&sim).await;
    init(&mut client).await;
    sim.set_hang(true);
    let e = client
        .run_with_timeout(&Cgmi, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(e, AtError::Timeout { .. }), "{e}");
    // Still hung: the resync probes fail, so does the command.
    let e = client.run(&Cgmi).await.unwrap_err();
    assert!(e.is_link_fault(), "{e}");
    sim.set_hang(false);
    assert_eq!(client.run(&Cgmi).await.unwrap(), "Kufatilia");
}

#[tokio::test]
async fn a_send_goes_through_the_prompt_and_is_decoded_by_the_modem() {
    use at::commands::Cmgs;
    use pdu::{SubmitOptions, encode_submit};
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let (mut client, _urcs) = connect(&sim).await;
    // With echo still on: the echo of the command and of the PDU must be skipped.
    let parts = encode_submit(
        "+243812345678",
        "Asante. Ripoti yako K7-4821 imepokelewa.",
        &SubmitOptions::default(),
    )
    .unwrap();
    let mr = client
        .run(&Cmgs {
            tpdu_len: parts[0].tpdu_len,
            pdu: parts[0].hex.clone(),
        })
        .await
        .unwrap();
    let sent = sim.wait_for_sent(1, WAIT).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "+243812345678");
    assert_eq!(sent[0].text, "Asante. Ripoti yako K7-4821 imepokelewa.");
    assert_eq!(sent[0].message_reference, mr);

    init(&mut client).await;
    sim.set_faults(|f| f.fail_every_nth_send = Some((2, 38)));
    let e = client
        .run(&Cmgs {
            tpdu_len: parts[0].tpdu_len,
            pdu: parts[0].hex.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.cms_code(), Some(38), "{e}");
    assert!(e.to_string().contains("network out of order"), "{e}");
    // A wrong length is refused by the modem, not sent.
    let e = client
        .run(&Cmgs {
            tpdu_len: parts[0].tpdu_len + 1,
            pdu: parts[0].hex.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.cms_code(), Some(304), "{e}");
    assert_eq!(sim.sent().len(), 1);
}
