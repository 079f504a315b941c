//! TP-Data-Coding-Scheme (TS 23.038 §4): which alphabet the user data uses, the message
//! class and the compression flag.

use serde::Serialize;

/// Alphabet of the user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Encoding {
    /// GSM 7-bit default alphabet with its extension table.
    #[serde(rename = "gsm7")]
    Gsm7,
    /// UCS-2, read as UTF-16 (surrogate pairs allowed).
    #[serde(rename = "ucs2")]
    Ucs2,
    /// 8-bit data, kept as bytes.
    #[serde(rename = "8bit")]
    EightBit,
}

impl Encoding {
    /// The name used in JSON and logs: "gsm7", "ucs2" or "8bit".
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
            Encoding::EightBit => "8bit",
        }
    }

    /// The inverse of [`Encoding::as_str`] (for an alphabet read back from the store).
    pub fn from_name(name: &str) -> Option<Encoding> {
        match name {
            "gsm7" => Some(Encoding::Gsm7),
            "ucs2" => Some(Encoding::Ucs2),
            "8bit" => Some(Encoding::EightBit),
            _ => None,
        }
    }
}

/// What a TP-DCS octet says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dcs {
    pub(crate) encoding: Encoding,
    /// Message class 0-3 (0 = "flash", shown and not stored), when the DCS gives one.
    pub(crate) class: Option<u8>,
    /// Text compressed per TS 23.042: reported, not decompressed.
    pub(crate) compressed: bool,
}

/// Reads a TP-DCS octet. Never fails: every reserved coding is read as the GSM 7-bit default
/// alphabet, as TS 23.038 §4 tells a receiving entity to do.
pub(crate) fn parse(dcs: u8) -> Dcs {
    let class_bits = dcs & 0x03;
    match dcs >> 4 {
        // 00xx: general data coding; 01xx: the same, marked for automatic deletion.
        0x0..=0x7 => {
            let encoding = match (dcs >> 2) & 0x03 {
                0b01 => Encoding::EightBit,
                0b10 => Encoding::Ucs2,
                _ => Encoding::Gsm7, // 00, and 11 (reserved)
            };
            Dcs {
                encoding,
                class: (dcs & 0x10 != 0).then_some(class_bits),
                compressed: dcs & 0x20 != 0,
            }
        }
        // Message waiting indication groups: discard / store (GSM-7), store (UCS-2).
        0xC | 0xD => plain(Encoding::Gsm7),
        0xE => plain(Encoding::Ucs2),
        // Data coding / message class group.
        0xF => Dcs {
            encoding: if dcs & 0x04 != 0 {
                Encoding::EightBit
            } else {
                Encoding::Gsm7
            },
            class: Some(class_bits),
            compressed: false,
        },
        // 1000..1011: reserved coding groups.
        _ => plain(Encoding::Gsm7),
    }
}

fn plain(encoding: Encoding) -> Dcs {
    Dcs {
        encoding,
        class: None,
        compressed: false,
    }
}

/// The TP-DCS octet the encoders write: no class, uncompressed.
pub(crate) fn octet_for(encoding: Encoding) -> u8 {
    match encoding {
        Encoding::Gsm7 => 0x00,
        Encoding::EightBit => 0x04,
        Encoding::Ucs2 => 0x08,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_names_read_back() {
        for e in [Encoding::Gsm7, Encoding::Ucs2, Encoding::EightBit] {
            assert_eq!(Encoding::from_name(e.as_str()), Some(e));
            assert_eq!(
                serde_json::to_value(e).unwrap(),
                serde_json::json!(e.as_str())
            );
        }
        assert_eq!(Encoding::from_name("utf8"), None);
    }

    #[test]
    fn groups() {
        assert_eq!(parse(0x00), plain(Encoding::Gsm7));
        assert_eq!(parse(0x08).encoding, Encoding::Ucs2);
        assert_eq!(parse(0x04).encoding, Encoding::EightBit);
        // Class 0 ("flash") in group 00xx and in group 1111.
        assert_eq!(parse(0x10).class, Some(0));
        assert_eq!(parse(0x18).class, Some(0));
        assert_eq!(parse(0x18).encoding, Encoding::Ucs2);
        assert_eq!(parse(0xF0).class, Some(0));
        assert_eq!(parse(0xF0).encoding, Encoding::Gsm7);
        assert_eq!(parse(0xF5).encoding, Encoding::EightBit);
        assert_eq!(parse(0xF5).class, Some(1));
        // Compressed flag, reported.
        assert!(parse(0x20).compressed);
        assert!(parse(0x6A).compressed);
        assert_eq!(parse(0x6A).class, None);
        assert_eq!(parse(0x7A).class, Some(2));
        // Automatic deletion group reads like 00xx.
        assert_eq!(parse(0x48).encoding, Encoding::Ucs2);
        // Reserved alphabet and reserved groups -> GSM-7.
        assert_eq!(parse(0x0C).encoding, Encoding::Gsm7);
        assert_eq!(parse(0x80).encoding, Encoding::Gsm7);
        assert_eq!(parse(0xB7).encoding, Encoding::Gsm7);
        // Message waiting groups.
        assert_eq!(parse(0xC8).encoding, Encoding::Gsm7);
        assert_eq!(parse(0xE0).encoding, Encoding::Ucs2);
    }

    #[test]
    fn every_octet_parses() {
        for b in 0..=u8::MAX {
            let d = parse(b);
            assert!(d.class.is_none_or(|c| c < 4));
        }
    }
}
