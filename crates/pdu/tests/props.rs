//! Property tests of the PDU codec: encode -> decode round trips for random text in every
//! alphabet and around the 160/153 and 70/67 boundaries, part-size limits, and arbitrary
//! bytes into the decoder without a panic.

use pdu::{self, Encoding, Pdu, SubmitOptions};
use proptest::prelude::*;
use time::OffsetDateTime;

/// Every character of the GSM-7 default alphabet (escape excluded).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION: &str = "€[]{}~^\\|\u{000C}";

fn chars_of(set: &'static str) -> Vec<char> {
    set.chars().collect()
}

/// Lengths that sit on and around the part boundaries, plus anything up to 700.
fn length(boundaries: &'static [usize]) -> impl Strategy<Value = usize> {
    prop_oneof![proptest::sample::select(boundaries), 0usize..700,]
}

const GSM_BOUNDARIES: &[usize] = &[
    0, 1, 152, 153, 154, 159, 160, 161, 305, 306, 307, 458, 459, 460, 612, 613,
];
const UCS2_BOUNDARIES: &[usize] = &[0, 1, 66, 67, 68, 69, 70, 71, 133, 134, 135, 200, 201, 202];

fn text_from(pool: Vec<char>, boundaries: &'static [usize]) -> impl Strategy<Value = String> {
    length(boundaries).prop_flat_map(move |n| {
        proptest::collection::vec(proptest::sample::select(pool.clone()), n)
            .prop_map(|v| v.into_iter().collect::<String>())
    })
}

fn gsm_basic_text() -> impl Strategy<Value = String> {
    text_from(chars_of(GSM_BASIC), GSM_BOUNDARIES)
}

fn gsm_extended_text() -> impl Strategy<Value = String> {
    // Roughly one extension character in four, so escape pairs land on every boundary.
    let mut pool = chars_of(GSM_BASIC);
    pool.truncate(40);
    pool.extend(chars_of(GSM_EXTENSION).iter().cycle().take(14));
    text_from(pool, GSM_BOUNDARIES)
}

fn ucs2_text() -> impl Strategy<Value = String> {
    // Swahili/French letters, Cyrillic, CJK and emoji (surrogate pairs).
    let pool: Vec<char> = "abcêçœ’“”жщ你好😀🙏🏽👍🚑⛏️✓"
        .chars()
        .chain(['\u{1F600}', '\u{1F4A9}', '\u{10348}', '\u{FFFD}'])
        .collect();
    text_from(pool, UCS2_BOUNDARIES)
}

/// Octets of user data (header included) in a PDU produced by our encoders.
fn user_data_octets(pdu_hex: &str) -> usize {
    let bytes = hex::decode(pdu_hex).expect("encoder output is hex");
    let smsc_len = usize::from(bytes[0]) + 1;
    let tpdu = &bytes[smsc_len..];
    let first = tpdu[0];
    let is_submit = first & 0x03 == 0x01;
    // first octet, [MR], address length, TOA, address, PID, DCS, [VP | SCTS], UDL
    let mut i = if is_submit { 2 } else { 1 };
    let addr_semi_octets = usize::from(tpdu[i]);
    i += 2 + addr_semi_octets.div_ceil(2) + 2;
    if is_submit {
        if first & 0x18 == 0x10 {
            i += 1;
        }
    } else {
        i += 7;
    }
    tpdu.len() - (i + 1)
}

fn check_submit_round_trip(text: &str, opts: &SubmitOptions) -> Result<(), TestCaseError> {
    let parts = pdu::encode_submit("+243812345678", text, opts).expect("encodes");
    let cost = pdu::sms_cost(text, opts.transliterate);
    if !opts.force_ucs2 {
        prop_assert_eq!(parts.len(), cost.parts);
    }
    let mut decoded = Vec::new();
    for part in &parts {
        prop_assert!(user_data_octets(&part.hex) <= 140, "part over 140 octets");
        prop_assert_eq!(part.tpdu_len, part.hex.len() / 2 - 1);
        match pdu::decode(&part.hex) {
            Ok(Pdu::Submit(s)) => decoded.push(s),
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        }
    }
    let n = parts.len();
    for (i, s) in decoded.iter().enumerate() {
        prop_assert_eq!(&s.recipient.value, "+243812345678");
        prop_assert_eq!(s.status_report_request, opts.status_report);
        if n == 1 {
            prop_assert_eq!(s.concat, None);
        } else {
            let c = s.concat.expect("multipart has a header");
            prop_assert_eq!(c.total as usize, n);
            prop_assert_eq!(c.seq as usize, i + 1);
            prop_assert_eq!(c.reference, u16::from(opts.concat_reference));
        }
        // Each part decodes on its own: no escape or surrogate pair cut in two.
        let part_text = s.text.clone().expect("text");
        if !text.contains('\u{FFFD}') {
            prop_assert!(
                !part_text.contains('\u{FFFD}'),
                "a part split a surrogate pair"
            );
        }
        if s.encoding == Encoding::Gsm7 {
            prop_assert!(s.data.last() != Some(&0x1B), "a part ends with an escape");
        }
    }
    let joined: String = decoded.iter().filter_map(|s| s.text.clone()).collect();
    if opts.transliterate {
        let expected = if pdu::sms_cost(text, true).encoding == Encoding::Gsm7
            && pdu::sms_cost(text, false).encoding == Encoding::Ucs2
        {
            pdu::transliterate(text)
        } else {
            text.to_string()
        };
        prop_assert_eq!(joined, expected);
    } else {
        prop_assert_eq!(joined, text);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn gsm7_basic_round_trips(text in gsm_basic_text(), reference: u8) {
        let opts = SubmitOptions { concat_reference: reference, ..SubmitOptions::default() };
        prop_assert_eq!(pdu::sms_cost(&text, false).encoding, Encoding::Gsm7);
        check_submit_round_trip(&text, &opts)?;
    }

    #[test]
    fn gsm7_with_extension_round_trips(text in gsm_extended_text(), srr: bool) {
        let opts = SubmitOptions { status_report: srr, ..SubmitOptions::default() };
        check_submit_round_trip(&text, &opts)?;
    }

    #[test]
    fn ucs2_round_trips(text in ucs2_text(), reference: u8) {
        let opts = SubmitOptions {
            concat_reference: reference,
            validity: Some(std::time::Duration::from_secs(86_400)),
            ..SubmitOptions::default()
        };
        check_submit_round_trip(&text, &opts)?;
    }

    #[test]
    fn any_text_round_trips(text in "\\PC{0,400}", force_ucs2: bool, transliterate: bool) {
        let opts = SubmitOptions { force_ucs2, transliterate, ..SubmitOptions::default() };
        check_submit_round_trip(&text, &opts)?;
    }

    #[test]
    fn transliteration_never_costs_more(text in "\\PC{0,300}") {
        prop_assert!(pdu::sms_cost(&text, true).parts <= pdu::sms_cost(&text, false).parts);
    }

    #[test]
    fn latin_text_transliterates_into_gsm7(text in "[a-zA-Z0-9 .,;:!?'\"()àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ’‘“”…«»–—]{0,200}") {
        prop_assert_eq!(pdu::sms_cost(&text, true).encoding, Encoding::Gsm7);
    }

    #[test]
    fn deliver_round_trips(
        text in prop_oneof![gsm_extended_text(), ucs2_text()],
        sender in prop_oneof![
            "\\+[1-9][0-9]{6,14}",
            "0[0-9]{8,9}",
            "[0-9]{3,5}",
            "[A-Za-z][A-Za-z0-9 ]{0,10}",
        ],
        unix in 631_152_000i64..3_786_825_600, // 1990 .. 2089
        quarters in -48i32..=56,
        reference: u8,
    ) {
        let offset = time::UtcOffset::from_whole_seconds(quarters * 900).unwrap();
        let when = OffsetDateTime::from_unix_timestamp(unix).unwrap().to_offset(offset);
        prop_assume!((1990..=2089).contains(&when.year()));
        let parts = pdu::encode_deliver(&sender, &text, when, "+243970000000", reference)
            .expect("encodes");
        let mut joined = String::new();
        for (i, hex) in parts.iter().enumerate() {
            prop_assert!(user_data_octets(hex) <= 140);
            let Ok(Pdu::Deliver(d)) = pdu::decode(hex) else {
                return Err(TestCaseError::fail("not a deliver"));
            };
            prop_assert_eq!(&d.sender.value, &sender);
            prop_assert_eq!(d.timestamp.to_offset_datetime(), Some(when));
            prop_assert_eq!(d.smsc.as_ref().map(|a| a.value.as_str()), Some("+243970000000"));
            if parts.len() > 1 {
                prop_assert_eq!(d.concat.map(|c| c.seq as usize), Some(i + 1));
            }
            joined.push_str(d.text.as_deref().unwrap_or_default());
        }
        prop_assert_eq!(joined, text);
    }
}

/// Valid PDUs to mutate: the published vectors of `pdu_vectors.rs` and some of our own.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = [
        "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
        "0011000B916407281553F80000AA0AE8329BFD4697D9EC37",
        "0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E064941B19CAB060319A5C522289C96D3D3ED32286C0FA7D96131BBEC024941B19CAB0603DDD36C36A88C87A7E565D0DB0D82C55EB0DB4B068BCD5C20",
        "07912160130300F4040B914151245584F600087010807121352B10212200A900AE00680065006C006C006F",
        "07912160130310F20404D0110041006060627171118A0120",
        "0006D60B911326880736F41110117195514011101171957140460700080400680069",
        "0019000B917228001011F100003170013193008017D474BB3CA787DB70903DCC4E93D3F43C885E9ED301",
    ]
    .iter()
    .map(|h| hex::decode(h).unwrap())
    .collect();
    let long = format!("{}€😀", "x".repeat(150));
    for part in pdu::encode_submit("+243812345678", &long, &SubmitOptions::default()).unwrap() {
        seeds.push(hex::decode(part.hex).unwrap());
    }
    seeds
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = pdu::decode(&hex::encode(&bytes));
        let _ = pdu::decode_tpdu(&bytes, None);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,120}|[0-9A-Fa-f \r\n]{0,300}") {
        let _ = pdu::decode(&s);
    }

    #[test]
    fn mutated_vectors_never_panic(
        seed in proptest::sample::select(seeds()),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
    ) {
        let mut bytes = seed;
        for (at, value, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = value,
                1 => bytes.truncate(i),
                2 => bytes.insert(i, value),
                _ => { bytes.remove(i); }
            }
        }
        if let Ok(p) = pdu::decode(&hex::encode(&bytes)) {
            // Whatever decodes also renders as JSON.
            let json = pdu::to_json(&p);
            prop_assert!(json.get("type").is_some());
        }
    }
}
