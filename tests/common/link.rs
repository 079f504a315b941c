//! The modem-link tests' set-up: a published PDU made into distinct messages, a modem's config,
//! timings short enough for tests, and a reply put in the queue.

use std::path::Path;
use std::time::Duration;

use at::ClientOptions;
use config::ModemConfig;
use kufatilia_gateway::{ModemLink, ModemOptions};
use store::{NewOutgoing, ReplyKind, Store};

use super::{Running, spawn};

/// A published SMS-DELIVER (service-centre time 2002-08-26); [`pdu`] varies its seconds.
pub const PDU_A: &str =
    "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";

/// [`PDU_A`] with its timestamp's seconds set from `n`: a distinct message per `n` below 60.
pub fn pdu(n: u32) -> String {
    let ts = "20806291731408";
    let pos = PDU_A.find(ts).unwrap();
    let seconds = format!("{}{}", n % 10, (n / 10) % 6);
    let mut p = PDU_A.to_string();
    p.replace_range(pos + 10..pos + 12, &seconds);
    p
}

/// A modem on `device`, swept every second, sending without a gap.
pub fn modem_config(name: &str, device: &Path) -> ModemConfig {
    ModemConfig {
        name: name.into(),
        device: device.to_path_buf(),
        baud: 115200,
        operator: None,
        pin_file: None,
        own_number: None,
        sweep_interval: Duration::from_secs(1),
        send_gap: Duration::ZERO,
        fallback: None,
        balance_ussd: None,
        low_balance_below: None,
        fallback_after: Duration::from_millis(500),
    }
}

/// `base` with waits and timeouts short enough for a test.
pub fn fast_on(base: ModemOptions) -> ModemOptions {
    ModemOptions {
        backoff_start: Duration::from_millis(100),
        backoff_max: Duration::from_millis(500),
        outgoing_poll: Duration::from_millis(300),
        health_interval: Duration::from_secs(1),
        timeout_cap: Some(Duration::from_secs(1)),
        wake_timeout: Duration::from_millis(300),
        registration_wait: Duration::from_secs(2),
        client: ClientOptions {
            quiet: Duration::from_millis(100),
            max_drain: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(300),
            probe_attempts: 2,
        },
        ..base
    }
}

pub fn fast() -> ModemOptions {
    fast_on(ModemOptions::default())
}

/// A link on `cfg` with [`fast`] timings, running.
pub fn start(cfg: ModemConfig, store: &Store) -> Running {
    spawn(ModemLink::new(cfg, store.clone(), fast()))
}

/// Queues an acknowledgement to `to` on `modem`.
pub async fn queue(store: &Store, modem: &str, to: &str, text: &str) -> i64 {
    store
        .queue_outgoing(NewOutgoing {
            modem: modem.into(),
            recipient: to.into(),
            text: text.into(),
            kind: ReplyKind::Ack,
        })
        .await
        .unwrap()
}

/// A number's digits as PDU semi-octets (swapped pairs, `F` filling an odd count).
pub fn semi_octets(digits: &str) -> String {
    let mut d: Vec<char> = digits.chars().collect();
    if d.len() % 2 == 1 {
        d.push('F');
    }
    d.chunks(2).map(|p| format!("{}{}", p[1], p[0])).collect()
}

/// The network's SMS-STATUS-REPORT (status 00, received by the phone) for a message sent to
/// an international number, with the simulator's SMSC prefix left empty.
pub fn delivered_report(message_reference: u8, number: &str) -> String {
    let digits = number.trim_start_matches('+');
    format!(
        "0006{message_reference:02X}{:02X}91{}{ts}{ts}00",
        digits.len(),
        semi_octets(digits),
        ts = "62117221000000"
    )
}
