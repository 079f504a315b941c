//! The store on a real SQLite file: idempotent intake, reassembly across restarts, the reply
//! guard, stable batches and the send retry schedule.

use store::{
    DecodeStatus, DecodedPart, FIRST_SEND_RETRY, IncidentDraft, NewOutgoing, NewReceived,
    RefusalKind, ReplyGuard, ReplyKind, ReplyPlan, ReplyVerdict, SessionState, Store, TurnPlan,
    TurnResult, TurnSettings, TurnWrite,
};

fn received(pdu: &str) -> NewReceived {
    NewReceived {
        modem: "m1".into(),
        storage: "SM".into(),
        sim_index: Some(1),
        pdu_hex: pdu.into(),
        received_at: time::OffsetDateTime::now_utc(),
    }
}

fn part(seq: u8, text: &str) -> DecodedPart {
    DecodedPart::Part {
        sender: "+243812345678".into(),
        sender_kind: pdu::AddressKind::International,
        smsc_time: None,
        text: text.into(),
        reference: 7,
        total: 3,
        seq,
        // Plain letters are the same codes in GSM-7 as in ASCII.
        encoding: pdu::Encoding::Gsm7,
        user_data: text.as_bytes().to_vec(),
    }
}

const GUARD: ReplyGuard = ReplyGuard {
    max_per_sender_per_hour: 2,
    max_per_day: 3,
};

fn draft(message_id: i64) -> IncidentDraft {
    IncidentDraft {
        message_id,
        reference: format!("K-{message_id:04}"),
        incident_type: "accident".into(),
        language: Some("sw".into()),
        description: "mgodi".into(),
        location: None,
    }
}

fn reply_to(recipient: &str) -> NewOutgoing {
    NewOutgoing {
        modem: "m1".into(),
        recipient: recipient.into(),
        text: "Asante".into(),
        kind: ReplyKind::Ack,
    }
}

/// Records message `message_id` as a report (the daemon's decision for a message outside a
/// survey), with `reply` through the reply guard.
async fn report(store: &Store, message_id: i64, reply: Option<NewOutgoing>) -> TurnResult {
    let settings = TurnSettings {
        guard: GUARD,
        session_timeout_ms: 3_600_000,
        max_reports_per_sender_per_hour: 20,
    };
    store
        .conversation_turn(message_id, "m1".into(), None, settings, move |session| {
            assert_eq!(session, None::<SessionState>, "no sender, no session");
            TurnPlan {
                write: TurnWrite::Incident(draft(message_id)),
                reply: reply.map_or(ReplyPlan::None, ReplyPlan::Send),
            }
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn same_pdu_twice_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let a = store.insert_received(received("0011AA")).await.unwrap();
    let b = store.insert_received(received("0011aa ")).await.unwrap();
    assert!(!a.duplicate);
    assert!(b.duplicate);
    assert_eq!(a.id, b.id);
    assert_eq!(store.pending_received(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn parts_join_in_any_order_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let ids = {
        let store = Store::open(&path).unwrap();
        let mut ids = Vec::new();
        for pdu in ["01", "02", "03", "04"] {
            ids.push(store.insert_received(received(pdu)).await.unwrap().id);
        }
        assert_eq!(
            store.record_decoded(ids[0], part(3, "c")).await.unwrap(),
            None
        );
        assert_eq!(
            store.record_decoded(ids[1], part(1, "a")).await.unwrap(),
            None
        );
        ids
    };
    // A new process: the waiting parts are still there.
    let store = Store::open(&path).unwrap();
    // The same part again (the network resent it) is recognised.
    assert_eq!(
        store.record_decoded(ids[2], part(1, "a")).await.unwrap(),
        None
    );
    let message = store.record_decoded(ids[3], part(2, "b")).await.unwrap();
    assert!(message.is_some());
    let messages = store.unhandled_messages(10).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, "abc");
    assert_eq!(messages[0].parts, 3);
    assert_eq!(messages[0].decode_status, DecodeStatus::Ok);
    // Decoding the same row again does nothing.
    assert_eq!(
        store.record_decoded(ids[3], part(2, "b")).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_lost_part_expires_into_an_incomplete_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let id = store.insert_received(received("01")).await.unwrap().id;
    store.record_decoded(id, part(2, "middle")).await.unwrap();
    assert_eq!(store.expire_incomplete(3_600_000).await.unwrap(), 0);
    assert_eq!(store.expire_incomplete(-1).await.unwrap(), 1);
    let messages = store.unhandled_messages(10).await.unwrap();
    assert_eq!(messages[0].decode_status, DecodeStatus::Incomplete);
    assert_eq!(messages[0].text, "middle");
}

#[tokio::test]
async fn undecodable_pdu_becomes_a_message_marked_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let id = store.insert_received(received("ZZ")).await.unwrap().id;
    let undecodable = DecodedPart::Undecodable {
        error: "not hex".into(),
    };
    let message = store.record_decoded(id, undecodable).await.unwrap();
    let message = message.unwrap();
    report(&store, message, None).await;
    let batch = store.next_batch("gw", 10).await.unwrap().unwrap();
    assert_eq!(batch.incidents[0].decode_status, DecodeStatus::Undecodable);
    assert_eq!(batch.incidents[0].raw_pdus, vec!["ZZ".to_string()]);
}

async fn message(store: &Store, pdu: &str) -> i64 {
    let id = store.insert_received(received(pdu)).await.unwrap().id;
    let single = DecodedPart::Single {
        sender: "+243812345678".into(),
        sender_kind: pdu::AddressKind::International,
        smsc_time: Some("2026-11-27T10:00:00+01:00".into()),
        text: format!("AJALI {pdu}"),
    };
    store.record_decoded(id, single).await.unwrap().unwrap()
}

#[tokio::test]
async fn reply_guard_limits_per_sender_and_per_day() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let mut verdicts = Vec::new();
    let mut messages = Vec::new();
    for (i, who) in ["+2431", "+2431", "+2431", "+2432", "+2433"]
        .iter()
        .enumerate()
    {
        let m = message(&store, &format!("0{i}")).await;
        messages.push(m);
        let turn = report(&store, m, Some(reply_to(who))).await;
        assert!(turn.applied);
        assert!(turn.incident_id.is_some());
        verdicts.push(turn.verdict.unwrap());
    }
    let refused = |v: &ReplyVerdict, kind: RefusalKind, why: &str| matches!(v, ReplyVerdict::Refused { kind: k, reason } if *k == kind && reason.starts_with(why));
    assert!(matches!(verdicts[0], ReplyVerdict::Queued(_)));
    assert!(matches!(verdicts[1], ReplyVerdict::Queued(_)));
    assert!(refused(&verdicts[2], RefusalKind::RateLimit, "rate limit"));
    assert!(matches!(verdicts[3], ReplyVerdict::Queued(_)));
    assert!(refused(
        &verdicts[4],
        RefusalKind::DailyBudget,
        "daily budget"
    ));
    // Recording the same message again neither duplicates the incident nor the reply.
    let again = report(&store, messages[3], Some(reply_to("+2439"))).await;
    assert_eq!(again, TurnResult::default());
    assert_eq!(store.queue_depths().await.unwrap().queued_sms, 3);
    assert_eq!(store.incident_summaries(0, 10).await.unwrap().len(), 5);
    let counts = store.reply_refusal_counts(0).await.unwrap();
    assert_eq!(
        counts.by_kind,
        vec![(RefusalKind::DailyBudget, 1), (RefusalKind::RateLimit, 1)]
    );
}

/// The guard compares the reply with the text of the message it answers, as stored.
#[tokio::test]
async fn a_message_repeating_our_reply_is_not_answered() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let first = message(&store, "21").await;
    // Our reply to it happens to read as the robot's next message will ("AJALI 22").
    let reply = NewOutgoing {
        text: "AJALI 22".into(),
        ..reply_to("+243812345678")
    };
    let turn = report(&store, first, Some(reply)).await;
    assert!(matches!(turn.verdict, Some(ReplyVerdict::Queued(_))));
    let echo = message(&store, "22").await;
    let turn = report(&store, echo, Some(reply_to("+243812345678"))).await;
    assert!(
        matches!(
            turn.verdict,
            Some(ReplyVerdict::Refused {
                kind: RefusalKind::Echo,
                ..
            })
        ),
        "{turn:?}"
    );
    assert!(turn.incident_id.is_some(), "the echo is still recorded");
}

#[tokio::test]
async fn batches_are_stable_until_delivered_and_quarantine_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let store = Store::open(&path).unwrap();
    for i in 0..5 {
        let m = message(&store, &format!("1{i}")).await;
        report(&store, m, None).await;
    }
    let first = store.next_batch("gw", 2).await.unwrap().unwrap();
    assert_eq!(first.id, "gw-b000001");
    assert_eq!(first.incidents.len(), 2);
    store
        .mark_batch_attempt_failed(&first.id, "503".into())
        .await
        .unwrap();
    drop(store);
    // After a restart the same batch comes back, same incidents.
    let store = Store::open(&path).unwrap();
    let again = store.next_batch("gw", 2).await.unwrap().unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.attempts, 1);
    let ids = |b: &store::PendingBatch| b.incidents.iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&first));
    store
        .quarantine_batch(&again.id, 400, "400 bad schema".into())
        .await
        .unwrap();
    let second = store.next_batch("gw", 2).await.unwrap().unwrap();
    assert_eq!(second.id, "gw-b000002");
    store.mark_batch_delivered(&second.id).await.unwrap();
    let third = store.next_batch("gw", 2).await.unwrap().unwrap();
    assert_eq!(third.incidents.len(), 1);
    store.mark_batch_delivered(&third.id).await.unwrap();
    assert!(store.next_batch("gw", 2).await.unwrap().is_none());
    let depths = store.queue_depths().await.unwrap();
    assert_eq!(depths.quarantined_batches, 1);
    assert_eq!(depths.undelivered_incidents, 2);
}

/// The only changes a batch ever sees: cut down before it was ever sent (never after), halved
/// after a refusal of the whole (its attempts start afresh), and passed over while set aside.
#[tokio::test]
async fn batches_are_cut_only_before_sending_or_halved_after_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    for i in 0..6 {
        let m = message(&store, &format!("3{i}")).await;
        report(&store, m, None).await;
    }
    let ids = |b: &store::PendingBatch| b.incidents.iter().map(|i| i.id).collect::<Vec<_>>();
    let first = store.next_batch("gw", 4).await.unwrap().unwrap();
    assert!(store.shrink_unsent_batch(&first.id, 3).await.unwrap());
    let cut = store.pending_batch(&first.id).await.unwrap().unwrap();
    assert_eq!(ids(&cut), ids(&first)[..3]);
    store
        .mark_batch_attempt_failed(&first.id, "500".into())
        .await
        .unwrap();
    assert!(
        !store.shrink_unsent_batch(&first.id, 1).await.unwrap(),
        "a batch once sent keeps its incidents"
    );
    store.split_batch(&first.id, 1).await.unwrap();
    let half = store.pending_batch(&first.id).await.unwrap().unwrap();
    assert_eq!(ids(&half), ids(&first)[..1]);
    assert_eq!(half.attempts, 0);
    // Set aside: the next batch is a new one, from the incidents given back first.
    let next = store
        .next_batch_skipping("gw", 10, vec![first.id.clone()])
        .await
        .unwrap()
        .unwrap();
    assert_ne!(next.id, first.id);
    assert_eq!(next.incidents.len(), 5);
    assert_eq!(next.incidents[0].id, ids(&first)[1]);
}

/// A store with one reply queued on modem "m1": the directory, the store, the reply's id.
async fn one_reply_queued() -> (tempfile::TempDir, Store, i64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let id = store
        .queue_outgoing(reply_to("+243812345678"))
        .await
        .unwrap();
    (dir, store, id)
}

#[tokio::test]
async fn failed_sends_back_off_then_give_up() {
    let (_dir, store, id) = one_reply_queued().await;
    let due = store.due_outgoing("m1", 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert!(store.due_outgoing("other", 10).await.unwrap().is_empty());
    let fail = || store.mark_send_failed_after(id, "+CMS ERROR: 38".into(), FIRST_SEND_RETRY);
    assert!(!fail().await.unwrap());
    // Backing off: not due again right away.
    assert!(store.due_outgoing("m1", 10).await.unwrap().is_empty());
    let mut gave_up = false;
    for _ in 0..10 {
        gave_up = fail().await.unwrap();
        if gave_up {
            break;
        }
    }
    assert!(gave_up);
    assert_eq!(store.queue_depths().await.unwrap().failed_sms, 1);
}

#[tokio::test]
async fn a_shortened_send_retry_is_due_after_its_wait() {
    let (_dir, store, id) = one_reply_queued().await;
    let wait = std::time::Duration::from_millis(300);
    assert!(
        !store
            .mark_send_failed_after(id, "+CMS ERROR: 38".into(), wait)
            .await
            .unwrap()
    );
    assert!(store.due_outgoing("m1", 10).await.unwrap().is_empty());
    // Due again once the wait is over (bounded: far below the 30 s default).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.due_outgoing("m1", 10).await.unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "never due again");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn many_concurrent_writers_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.insert_received(received(&format!("{i:04X}"))).await
        }));
    }
    for t in tasks {
        assert!(!t.await.unwrap().unwrap().duplicate);
    }
    assert_eq!(store.pending_received(1000).await.unwrap().len(), 200);
}

#[tokio::test]
async fn a_listing_is_committed_together_and_answered_in_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    let first = store.insert_received(received("00AA")).await.unwrap();
    // A listing with a PDU already stored and one listed twice (two slots, same PDU).
    let answers = store
        .insert_received_all(
            ["00BB", "00AA", "00CC", "00bb"]
                .into_iter()
                .map(received)
                .collect(),
        )
        .await;
    let answers: Vec<_> = answers.into_iter().map(|a| a.unwrap()).collect();
    assert_eq!(
        answers.iter().map(|a| a.duplicate).collect::<Vec<_>>(),
        vec![false, true, false, true]
    );
    assert_eq!(answers[1].id, first.id);
    assert_eq!(answers[3].id, answers[0].id);
    assert!(store.insert_received_all(Vec::new()).await.is_empty());
    let pending: Vec<_> = store
        .pending_received(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.pdu_hex)
        .collect();
    assert_eq!(pending, vec!["00AA", "00BB", "00CC"]);
}
