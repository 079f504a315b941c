//! At most once per SMS: a claimed row (`sending`) is never due again, survives a restart as
//! it is, and waits for a technician's decision.

use store::{NewOutgoing, OutgoingState, ReplyKind, Settle, Store, StoreReader};

fn sms(to: &str) -> NewOutgoing {
    NewOutgoing {
        modem: "m1".into(),
        recipient: to.into(),
        text: "Asante, tumepokea ripoti yako".into(),
        kind: ReplyKind::Ack,
    }
}

/// A reply claimed for the modem and then lost to a crash (no outcome recorded) is not sent
/// again after the restart: it is counted as unconfirmed and due only once a technician says
/// "resend"; the other decisions record it without sending.
#[tokio::test]
async fn a_claimed_sms_is_never_due_again_until_a_technician_decides() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let (lost, settled_sent, settled_failed) = {
        let store = Store::open(&path).unwrap();
        let lost = store.queue_outgoing(sms("+243810000001")).await.unwrap();
        let sent = store.queue_outgoing(sms("+243810000002")).await.unwrap();
        let failed = store.queue_outgoing(sms("+243810000003")).await.unwrap();
        for id in [lost, sent, failed] {
            assert!(store.claim_outgoing(id).await.unwrap());
            // A second claim (another link, the fallback) gets nothing.
            assert!(!store.claim_outgoing(id).await.unwrap());
        }
        (lost, sent, failed)
        // The "crash": the store goes away with the three rows claimed, no outcome recorded.
    };

    let store = Store::open(&path).unwrap();
    assert!(
        store.due_outgoing("m1", 10).await.unwrap().is_empty(),
        "nothing claimed is due again after a restart"
    );
    let reader = StoreReader::open(&path).unwrap();
    assert_eq!(reader.queue_depths().unwrap().unconfirmed_sms, 3);
    let listed: Vec<i64> = reader
        .unconfirmed_outgoing()
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(listed, vec![lost, settled_sent, settled_failed]);

    store
        .settle_unconfirmed(settled_sent, Settle::Sent)
        .await
        .unwrap();
    store
        .settle_unconfirmed(settled_failed, Settle::Failed)
        .await
        .unwrap();
    assert!(store.due_outgoing("m1", 10).await.unwrap().is_empty());
    assert_eq!(
        store.outgoing_state(settled_sent).await.unwrap().0,
        OutgoingState::Sent
    );
    assert_eq!(
        store.outgoing_state(settled_failed).await.unwrap().0,
        OutgoingState::Failed
    );

    store
        .settle_unconfirmed(lost, Settle::Resend)
        .await
        .unwrap();
    let due: Vec<i64> = store
        .due_outgoing("m1", 10)
        .await
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(due, vec![lost], "only the one the technician resent is due");
    assert_eq!(reader.queue_depths().unwrap().unconfirmed_sms, 0);

    // A decision on a row that is not `sending` is refused: it never touches a live send.
    let e = store
        .settle_unconfirmed(lost, Settle::Sent)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not sending"), "{e}");
    assert_eq!(
        store.outgoing_state(lost).await.unwrap().0,
        OutgoingState::Queued
    );
}
