//! Service-centre timestamps and absolute validity periods (TS 23.040 §9.2.3.11): seven
//! swapped semi-octet fields YY MM DD hh mm ss TZ, the time zone in quarters of an hour with its
//! sign in bit 3. The raw octets are always kept; an impossible date is reported, not trusted.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

use super::error::PduError;

/// Largest real time-zone offset, in quarters of an hour (UTC+14:00).
const MAX_QUARTERS: u8 = 56;

/// A TP-SCTS / TP-DT / absolute TP-VP value, kept as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    raw: [u8; 7],
}

impl Timestamp {
    /// Wraps the seven raw octets as they appear in the PDU.
    pub(crate) fn from_raw(raw: [u8; 7]) -> Timestamp {
        Timestamp { raw }
    }

    /// The seven raw octets as they appear in the PDU.
    pub(crate) fn raw(&self) -> [u8; 7] {
        self.raw
    }

    /// The raw octets in hex, as they appear in the PDU (e.g. `99309251619580`).
    pub(crate) fn raw_hex(&self) -> String {
        hex::encode_upper(self.raw)
    }

    /// The date, time and offset, or `None` when the fields do not make a real date (the
    /// SMSC clock is then not to be trusted; the JSON view says why).
    pub fn to_offset_datetime(&self) -> Option<OffsetDateTime> {
        self.parse().ok()
    }

    /// Why the timestamp is impossible, or `None` when it is a real date.
    pub(crate) fn problem(&self) -> Option<String> {
        self.parse().err()
    }

    /// RFC 3339 text with the PDU's own offset, or `None` when impossible.
    pub(crate) fn to_rfc3339(self) -> Option<String> {
        self.to_offset_datetime()
            .and_then(|dt| dt.format(&Rfc3339).ok())
    }

    /// Encodes a date-time; its offset must be a whole number of quarter hours within ±14 h,
    /// its year within 1990-2089 (the two-digit year window used when decoding).
    pub(crate) fn from_offset_datetime(dt: OffsetDateTime) -> Result<Timestamp, PduError> {
        let invalid = |reason: &str| PduError::InvalidInput {
            field: "timestamp",
            value: dt.to_string(),
            reason: reason.to_string(),
        };
        let year = dt.year();
        if !(1990..=2089).contains(&year) {
            return Err(invalid("the year must be within 1990-2089"));
        }
        let offset = dt.offset().whole_seconds();
        if offset % 900 != 0 {
            return Err(invalid(
                "the UTC offset must be a whole number of quarter hours",
            ));
        }
        let quarters = u8::try_from((offset / 900).unsigned_abs())
            .ok()
            .filter(|q| *q <= MAX_QUARTERS)
            .ok_or_else(|| invalid("the UTC offset must be within ±14 h"))?;
        let swap = |v: u8| ((v % 10) << 4) | (v / 10);
        let mut tz = swap(quarters);
        if offset < 0 {
            tz |= 0x08;
        }
        Ok(Timestamp {
            raw: [
                swap((year % 100) as u8),
                swap(u8::from(dt.month())),
                swap(dt.day()),
                swap(dt.hour()),
                swap(dt.minute()),
                swap(dt.second()),
                tz,
            ],
        })
    }

    fn parse(&self) -> Result<OffsetDateTime, String> {
        const NAMES: [&str; 6] = ["year", "month", "day", "hour", "minute", "second"];
        let mut v = [0u8; 6];
        for ((slot, octet), name) in v.iter_mut().zip(self.raw).zip(NAMES) {
            let (lo, hi) = (octet & 0x0F, octet >> 4);
            if lo > 9 || hi > 9 {
                return Err(format!(
                    "the {name} octet {octet:02X} is not two decimal digits"
                ));
            }
            *slot = lo * 10 + hi;
        }
        let [yy, mo, dd, hh, mi, ss] = v;
        let tz = self.raw[6];
        let (lo, hi) = (tz & 0x0F, tz >> 4);
        if hi > 9 {
            return Err(format!("the time zone octet {tz:02X} is not decimal"));
        }
        let quarters = (lo & 0x07) * 10 + hi;
        if quarters > MAX_QUARTERS {
            return Err(format!(
                "time zone of {quarters} quarter hours is beyond ±14 h"
            ));
        }
        // Two-digit years: the only published examples from the last century are from the
        // 1990s, and no SMSC sends a date before GSM existed.
        let year = if yy >= 90 {
            1900 + i32::from(yy)
        } else {
            2000 + i32::from(yy)
        };
        let month = Month::try_from(mo).map_err(|_| format!("month {mo} does not exist"))?;
        let date = Date::from_calendar_date(year, month, dd)
            .map_err(|_| format!("{year}-{mo:02}-{dd:02} is not a date"))?;
        let time = Time::from_hms(hh, mi, ss)
            .map_err(|_| format!("{hh:02}:{mi:02}:{ss:02} is not a time of day"))?;
        let seconds = i32::from(quarters) * 900;
        let offset = UtcOffset::from_whole_seconds(if lo & 0x08 != 0 { -seconds } else { seconds })
            .map_err(|_| format!("offset of {quarters} quarter hours is out of range"))?;
        Ok(date.with_time(time).assume_offset(offset))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Timestamp", 3)?;
        s.serialize_field("rfc3339", &self.to_rfc3339())?;
        s.serialize_field("raw", &self.raw_hex())?;
        s.serialize_field("problem", &self.problem())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ts(hex: &str) -> Timestamp {
        let bytes = hex::decode(hex).unwrap();
        Timestamp::from_raw(bytes.try_into().unwrap())
    }

    #[test]
    fn classic_example_is_1999_plus_two_hours() {
        // The SMS-DELIVER example of the "SMS and the PDU format" tutorial (dreamfabric.com):
        // 99 30 92 51 61 95 80 = 1999-03-29 15:16:59, time zone 08 quarters = +02:00.
        assert_eq!(
            ts("99309251619580").to_offset_datetime(),
            Some(datetime!(1999-03-29 15:16:59 +02:00))
        );
    }

    #[test]
    fn python_gsmmodem_timestamp_vectors() {
        // python-gsmmodem test/test_pdu.py (TestTimestamp).
        let cases = [
            ("51117200000000", datetime!(2015-11-27 00:00:00 +00:00)),
            ("51117200000080", datetime!(2015-11-27 00:00:00 +02:00)),
            ("70402132522423", datetime!(2007-04-12 23:25:42 +08:00)),
            ("7040213252242B", datetime!(2007-04-12 23:25:42 -08:00)),
        ];
        for (hex, dt) in cases {
            assert_eq!(ts(hex).to_offset_datetime(), Some(dt), "{hex}");
            assert_eq!(Timestamp::from_offset_datetime(dt).unwrap().raw_hex(), hex);
        }
    }

    #[test]
    fn quarter_hour_zones_both_signs() {
        // +05:45 (Nepal) = 23 quarters; -03:30 (Newfoundland) = 14 quarters.
        for dt in [
            datetime!(2024-02-29 23:59:59 +05:45),
            datetime!(2024-12-31 00:00:00 -03:30),
            datetime!(2026-06-01 12:00:00 +14:00),
            datetime!(2026-06-01 12:00:00 -12:00),
        ] {
            let t = Timestamp::from_offset_datetime(dt).unwrap();
            assert_eq!(t.to_offset_datetime(), Some(dt));
        }
        assert_eq!(
            ts("42208020002032").to_rfc3339().as_deref(),
            Some("2024-02-08T02:00:02+05:45")
        );
    }

    #[test]
    fn impossible_dates_are_kept_raw_and_reported() {
        for hex in [
            "42315020002000", // month 13
            "32209220002000", // 29 February 2023 does not exist
            "42208052002000", // 25 o'clock
            "4220802000A200", // a hex digit in the seconds
            "42208020002097", // 79 quarter hours, beyond +14 h
        ] {
            let t = ts(hex);
            assert_eq!(t.to_offset_datetime(), None, "{hex}");
            assert!(t.problem().is_some(), "{hex}");
            assert_eq!(t.raw_hex(), hex);
        }
        // 29 February 2024 does exist.
        assert!(ts("42209220002000").to_offset_datetime().is_some());
    }

    #[test]
    fn encoder_refuses_what_it_cannot_write() {
        assert!(Timestamp::from_offset_datetime(datetime!(2024-01-01 0:00 +00:10)).is_err());
        assert!(Timestamp::from_offset_datetime(datetime!(2100-01-01 0:00 UTC)).is_err());
        assert!(Timestamp::from_offset_datetime(datetime!(2024-01-01 0:00 +15:00)).is_err());
    }
}
