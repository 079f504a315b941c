//! PDUs decoded per second, on a mix like a gateway's inbox: single GSM-7 reports, parts of
//! concatenated GSM-7 and UCS-2 messages (with emoji), an alphanumeric operator promo, and a
//! status report. Run with `cargo bench --bench pdu_decode`.
// A benchmark may unwrap: it measures, it does not run in the field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use time::macros::datetime;

fn inbox() -> Vec<String> {
    let when = datetime!(2026-03-14 09:26:53 +02:00);
    let smsc = "+243990000000";
    let mut mix = Vec::new();
    // Single GSM-7 reports.
    for (i, text) in [
        "AJALI shimo la Kamituga limeanguka, watu 3 wamejeruhiwa",
        "VOL on a volé le matériel à la mine de Lugushwa hier soir",
        "WATOTO children working at the Nyabibwe site again today",
    ]
    .iter()
    .enumerate()
    {
        let from = format!("+24381234567{i}");
        mix.extend(pdu::encode_deliver(&from, text, when, smsc, 0).expect("encodes"));
    }
    // A 3-part GSM-7 message (153-septet parts with UDH and fill bits).
    let long = "USHURU barrière illégale sur la route de Shabunda, ils demandent 5000 FC par sac. "
        .repeat(5);
    mix.extend(pdu::encode_deliver("0812345678", &long, when, smsc, 7).expect("encodes"));
    // A 2-part UCS-2 message with emoji (surrogate pairs).
    let ucs2 =
        "Vurugu 😡 katika soko la Misisi, watu wengi wamekimbia 🏃🏽‍♂️ tafadhali msaada 🙏".repeat(2);
    mix.extend(pdu::encode_deliver("+243991112233", &ucs2, when, smsc, 8).expect("encodes"));
    // An operator promo from an alphanumeric sender.
    mix.extend(
        pdu::encode_deliver(
            "Vodacom",
            "Bonus 100% sur vos recharges ce week-end!",
            when,
            smsc,
            0,
        )
        .expect("encodes"),
    );
    // A status report (python-gsmmodem's test vector) and the classic "hellohello" DELIVER.
    mix.push("0006D60B911326880736F4111011719551401110117195714000".to_string());
    mix.push(
        "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37".to_string(),
    );
    mix
}

fn decode_mix(c: &mut Criterion) {
    let mix = inbox();
    for hex in &mix {
        assert!(pdu::decode(hex).is_ok(), "bench PDU does not decode: {hex}");
    }
    let mut group = c.benchmark_group("pdu");
    group.throughput(Throughput::Elements(mix.len() as u64));
    group.bench_function("decode_inbox_mix", |b| {
        b.iter(|| {
            for hex in &mix {
                black_box(pdu::decode(black_box(hex)).ok());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, decode_mix);
criterion_main!(benches);
