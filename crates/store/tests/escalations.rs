//! Escalations on a real SQLite file: one per report and focal point, kept by the schema
//! itself, and the escalations' own budget in the guard.

use std::sync::Arc;

use store::{
    DecodedPart, EscalationGuard, EscalationOutcome, IncidentDraft, NewEscalation, NewOutgoing,
    NewReceived, RefusalKind, ReplyGuard, ReplyKind, ReplyPlan, ReplyVerdict, Store, TurnPlan,
    TurnSettings, TurnWrite,
};

const AMANI: &str = "+243990000001";

/// An urgent report (`armed_group`) from message `n`; returns its incident id.
async fn urgent_report(store: &Store, n: u8) -> i64 {
    let id = store
        .insert_received(NewReceived {
            modem: "m1".into(),
            storage: "SM".into(),
            sim_index: Some(1),
            pdu_hex: format!("00{n:02X}"),
            received_at: time::OffsetDateTime::now_utc(),
        })
        .await
        .unwrap()
        .id;
    let single = DecodedPart::Single {
        sender: "+243812345678".into(),
        sender_kind: pdu::AddressKind::International,
        smsc_time: None,
        text: "SILAHA mgodi wa Bisie".into(),
    };
    let message_id = store.record_decoded(id, single).await.unwrap().unwrap();
    let settings = TurnSettings {
        guard: ReplyGuard {
            max_per_sender_per_hour: 5,
            max_per_day: 100,
        },
        session_timeout_ms: 3_600_000,
        max_reports_per_sender_per_hour: 20,
    };
    store
        .conversation_turn(message_id, "m1".into(), None, settings, move |_| TurnPlan {
            write: TurnWrite::Incident(IncidentDraft {
                message_id,
                reference: format!("K7-{message_id:04}"),
                incident_type: "armed_group".into(),
                language: Some("sw".into()),
                description: "mgodi wa Bisie".into(),
                location: Some("Bisie".into()),
            }),
            reply: ReplyPlan::None,
        })
        .await
        .unwrap()
        .incident_id
        .unwrap()
}

fn guard(max_parts_per_day: u32) -> EscalationGuard {
    EscalationGuard {
        max_parts_per_day,
        transliterate: true,
        recipient_check: Arc::new(|_| None),
    }
}

fn alert(incident_id: i64, to: &str) -> NewEscalation {
    NewEscalation {
        incident_id,
        partner: "ong-goma".into(),
        label: "Amani".into(),
        out: NewOutgoing {
            modem: "m1".into(),
            recipient: to.into(),
            text: format!("DHARURA K7-{incident_id:04}"),
            kind: ReplyKind::Escalation,
        },
        parts: 1,
    }
}

#[tokio::test]
async fn a_report_is_escalated_once_per_focal_point_and_the_schema_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let store = Store::open(&path).unwrap();
    let incident = urgent_report(&store, 1).await;
    let types = vec!["armed_group".to_string()];
    assert_eq!(
        store.urgent_undelivered(types.clone()).await.unwrap()[0].done,
        Vec::<String>::new()
    );

    let first = store
        .escalate(alert(incident, AMANI), guard(10))
        .await
        .unwrap();
    assert!(
        matches!(first, EscalationOutcome::Done(ReplyVerdict::Queued(_))),
        "{first:?}"
    );
    // The caller asks again (a restart forgot it did): nothing more is queued.
    let again = store
        .escalate(alert(incident, AMANI), guard(10))
        .await
        .unwrap();
    assert_eq!(again, EscalationOutcome::AlreadyDone);
    assert_eq!(store.queue_depths().await.unwrap().queued_sms, 1);
    assert_eq!(
        store.urgent_undelivered(types).await.unwrap()[0].done,
        vec![AMANI.to_string()]
    );
    assert_eq!(store.queue_depths().await.unwrap().escalations_pending, 1);

    // Not only the code: the database itself refuses a second row.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let second = conn.execute(
        "INSERT INTO escalations (incident_id, focal_point, partner, label, state, created_at_ms)
         VALUES (?1, ?2, 'ong-goma', 'Amani', 'queued', 0)",
        rusqlite::params![incident, AMANI],
    );
    assert!(second.is_err(), "a second escalation row was accepted");
}

#[tokio::test]
async fn the_escalation_budget_is_its_own_and_a_refusal_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let a = urgent_report(&store, 1).await;
    let b = urgent_report(&store, 2).await;
    let sent = store.escalate(alert(a, AMANI), guard(1)).await.unwrap();
    assert!(matches!(
        sent,
        EscalationOutcome::Done(ReplyVerdict::Queued(_))
    ));
    let refused = store.escalate(alert(b, AMANI), guard(1)).await.unwrap();
    assert!(
        matches!(
            &refused,
            EscalationOutcome::Done(ReplyVerdict::Refused { kind: RefusalKind::EscalationBudget, reason })
                if reason.contains("escalation.max_parts_per_day = 1")
        ),
        "{refused:?}"
    );
    // A bigger budget later does not bring it back: refused once is refused for this report.
    assert_eq!(
        store.escalate(alert(b, AMANI), guard(100)).await.unwrap(),
        EscalationOutcome::AlreadyDone
    );
    assert_eq!(store.queue_depths().await.unwrap().queued_sms, 1);
    let counts = store.reply_refusal_counts(0).await.unwrap();
    assert_eq!(counts.by_kind, vec![(RefusalKind::EscalationBudget, 1)]);
}
