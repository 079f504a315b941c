//! The gateway's clock against the network's: a Raspberry Pi has no real-time clock, so after a
//! power cut without internet it may believe it is 1970. Every message carries the service
//! centre's timestamp; comparing the two tells the technician when the box's clock is wrong.

use std::time::Duration;

use time::OffsetDateTime;
use time::macros::datetime;

/// No clock that reads earlier than this is right: the day this version was released. Raise it
/// with each release (it is checked against `Cargo.toml`'s version in the tests only by eye).
const RELEASED: OffsetDateTime = datetime!(2026-11-27 00:00 UTC);

/// What a comparison found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClockVerdict {
    Fine,
    /// The gateway's clock reads earlier than the release of this version.
    BeforeRelease,
    /// Gateway minus service centre, in seconds, beyond the allowed difference.
    Skewed {
        seconds: i64,
    },
}

/// Compares the gateway clock `now` with a service-centre timestamp (if the message had a valid
/// one).
pub(crate) fn check(
    now: OffsetDateTime,
    smsc: Option<OffsetDateTime>,
    allowed: Duration,
) -> ClockVerdict {
    if now < RELEASED {
        return ClockVerdict::BeforeRelease;
    }
    let Some(smsc) = smsc else {
        return ClockVerdict::Fine;
    };
    let seconds = (now - smsc).whole_seconds();
    if seconds.unsigned_abs() > allowed.as_secs() {
        ClockVerdict::Skewed { seconds }
    } else {
        ClockVerdict::Fine
    }
}

/// The verdict in words a technician acts on; `None` when fine.
pub(crate) fn warning(verdict: &ClockVerdict) -> Option<String> {
    match verdict {
        ClockVerdict::Fine => None,
        ClockVerdict::BeforeRelease => Some(format!(
            "the gateway clock reads {} — before this version was released: the Pi has no clock battery; connect it to the internet (NTP) or set the date",
            OffsetDateTime::now_utc().date()
        )),
        ClockVerdict::Skewed { seconds } => Some(format!(
            "the gateway clock is {} the network's by {} min: check NTP (timedatectl) or set the date",
            if *seconds > 0 { "ahead of" } else { "behind" },
            seconds.unsigned_abs() / 60
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_MIN: Duration = Duration::from_secs(600);

    #[test]
    fn verdicts() {
        let now = datetime!(2027-03-01 12:00 UTC);
        assert_eq!(check(now, None, TEN_MIN), ClockVerdict::Fine);
        assert_eq!(
            check(now, Some(now - Duration::from_secs(300)), TEN_MIN),
            ClockVerdict::Fine
        );
        assert_eq!(
            check(now, Some(now - Duration::from_secs(3600)), TEN_MIN),
            ClockVerdict::Skewed { seconds: 3600 }
        );
        assert_eq!(
            check(now, Some(now + Duration::from_secs(7200)), TEN_MIN),
            ClockVerdict::Skewed { seconds: -7200 }
        );
        let boot_1970 = datetime!(1970-01-01 00:01 UTC);
        assert_eq!(
            check(boot_1970, Some(now), TEN_MIN),
            ClockVerdict::BeforeRelease
        );
        assert!(
            warning(&ClockVerdict::Skewed { seconds: -7200 })
                .unwrap()
                .contains("behind")
        );
    }
}
