//! What the modem link really sends when the SMS options are configured: the PDUs the
//! simulated modem received (on a real pty) carry the validity period and the status-report
//! request; and the status report the network then delivers comes back through the store and
//! the pipeline to mark the reply delivered.

use crate::common::link::delivered_report;
use crate::common::{WAIT, eventually};

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use config::{Config, ModemConfig, SmsConfig};
use intake::Keywords;
use kufatilia_gateway::Pipeline;
use kufatilia_gateway::{LinkState, ModemLink, ModemOptions};
use modem_sim::{SimConfig, SimModem};
use pdu::{self, Pdu, Validity};
use store::{NewOutgoing, ReplyKind, Store};
use tokio_util::sync::CancellationToken;

fn options(sms: &SmsConfig) -> ModemOptions {
    crate::common::link::fast_on(ModemOptions::with_sms_config(sms))
}

fn modem_config(device: &Path) -> ModemConfig {
    ModemConfig {
        fallback_after: Duration::from_secs(120),
        ..crate::common::link::modem_config("vodacom", device)
    }
}

#[tokio::test]
async fn configured_validity_and_report_request_are_in_the_sent_pdus_and_reports_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(
        r#"
gateway_id = "test-gw"
database = "gateway.db"

[sms]
validity = "2days"
status_reports = true

[platform]
url = "http://127.0.0.1:9/"
token_file = "token"
"#,
        Path::new("test config"),
        dir.path(),
    )
    .unwrap();
    let store = Store::open(&config.database).unwrap();
    let sim = SimModem::start(SimConfig::default()).await.unwrap();
    let mut link = ModemLink::new(
        modem_config(&sim.device_path()),
        store.clone(),
        options(&config.sms),
    );
    let mut status = link.status();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move { link.run(stop).await });
    tokio::time::timeout(WAIT, status.wait_for(|s| s.state == LinkState::Ready))
        .await
        .expect("link ready");

    let to = "+243812345678";
    let long = "Merci. Votre signalement K7-4822 (Violence) est bien reçu. ".repeat(4);
    let mut ids = Vec::new();
    for text in ["Asante. Ripoti yako K7-4821 imepokelewa.", long.as_str()] {
        let id = store
            .queue_outgoing(NewOutgoing {
                modem: "vodacom".into(),
                recipient: to.into(),
                text: text.into(),
                kind: ReplyKind::Ack,
            })
            .await
            .unwrap();
        ids.push(id);
    }
    let sent = sim.wait_for_sent(3, WAIT).await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    for s in &sent {
        let Pdu::Submit(submit) = pdu::decode(&s.pdu).unwrap() else {
            panic!("not an SMS-SUBMIT: {}", s.pdu)
        };
        assert!(submit.status_report_request, "{}", s.pdu);
        // Two days in the relative format (TS 23.040 §9.2.3.12.1: 168 + days).
        assert_eq!(
            submit.validity,
            Some(Validity::Relative(Duration::from_secs(2 * 86400))),
            "{}",
            s.pdu
        );
        assert_eq!(submit.recipient.value, to);
    }
    eventually("both replies marked sent", || async {
        store.queue_depths().await.unwrap().sms_to_settle() == 0
    })
    .await;

    // The network reports every part delivered; the reports reach the SIM and the link
    // commits them like any PDU.
    for s in &sent {
        sim.inject_pdu(&delivered_report(s.message_reference, to));
    }
    let pipeline = Pipeline::new(
        &config,
        Arc::new(Keywords::builtin().unwrap()),
        store.clone(),
    );
    eventually("the reports applied to both replies", || async {
        pipeline.process_available().await.unwrap();
        let mut all = true;
        for id in &ids {
            let d = store.delivery(*id).await.unwrap().unwrap();
            all &= d.state == Some(pdu::DeliveryState::Delivered);
        }
        all
    })
    .await;
    let long_reply = store.delivery(ids[1]).await.unwrap().unwrap();
    assert_eq!((long_reply.parts, long_reply.parts_reported), (2, 2));
    assert!(store.next_batch("test-gw", 10).await.unwrap().is_none());
    shutdown.cancel();
    task.await.unwrap().unwrap();
}
