//! What the simulated modem is: its SIM, its network, its make.

use std::path::PathBuf;
use std::time::Duration;

/// Modem makes with their own quirks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Personality {
    /// Plain 3GPP TS 27.005/27.007, indices from 1, no boot noise.
    #[default]
    Generic,
    /// Huawei E173-like: indices from 0, `^BOOT` at start, `^RSSI`/`^MODE` floods until
    /// `AT^CURC=0`.
    Huawei,
    /// SIMCom SIM800-like: `RDY`, `+CFUN: 1`, `+CPIN: READY`, `Call Ready`, `SMS Ready` at start;
    /// reading an empty slot answers a bare `OK`.
    Sim800,
    /// Quectel EC25-like: `RDY`, `+CPIN: READY`, `+QUSIM: 1`, `+QIND: SMS DONE` at start.
    Quectel,
    /// A recorded session played back ([`SimConfig::transcript`]): the modem answers only what
    /// the recording says. See [`SimConfig::replaying`].
    Transcript,
}

impl Personality {
    pub(crate) fn manufacturer(&self) -> &'static str {
        match self {
            Personality::Generic => "Kufatilia",
            Personality::Huawei => "huawei",
            Personality::Sim800 => "SIMCOM_Ltd",
            Personality::Quectel => "Quectel",
            Personality::Transcript => "transcript",
        }
    }
    pub(crate) fn model(&self) -> &'static str {
        match self {
            Personality::Generic => "SIMULATED-MODEM",
            Personality::Huawei => "E173",
            Personality::Sim800 => "SIMCOM_SIM800L",
            Personality::Quectel => "EC25",
            Personality::Transcript => "RECORDED",
        }
    }
    pub(crate) fn revision(&self) -> &'static str {
        match self {
            Personality::Generic => "1.0",
            Personality::Huawei => "11.126.85.00.209",
            Personality::Sim800 => "Revision:1418B05SIM800L24",
            Personality::Quectel => "EC25EFAR06A06M4G",
            Personality::Transcript => "recorded",
        }
    }
    /// Index of the first storage slot.
    pub(crate) fn first_index(&self) -> u32 {
        match self {
            Personality::Huawei => 0,
            _ => 1,
        }
    }
    /// Lines the modem sends by itself when it starts.
    pub(crate) fn boot_lines(&self) -> &'static [&'static str] {
        match self {
            // The recording has its own.
            Personality::Generic | Personality::Transcript => &[],
            Personality::Huawei => &["^BOOT:20952548,0,0,0,75", "^SRVST: 2", "^MODE: 5,4"],
            Personality::Sim800 => &["RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"],
            Personality::Quectel => &[
                "RDY",
                "+CFUN: 1",
                "+CPIN: READY",
                "+QUSIM: 1",
                "+QIND: SMS DONE",
            ],
        }
    }
}

/// Answer of the network to a USSD code.
#[derive(Debug, Clone)]
pub struct UssdReply {
    /// The code that asks for it, e.g. `*100#`; any other code gets "unknown application".
    pub code: String,
    pub text: String,
    /// How the modem prints the answer in `+CUSD`.
    pub encoding: UssdEncoding,
}

/// How a modem prints a USSD answer: as text, or as hex of what the network sent (the packed
/// GSM 7-bit alphabet with dcs 15, or UCS-2 with dcs 72), depending on make and `AT+CSCS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UssdEncoding {
    #[default]
    Text,
    PackedGsm7Hex,
    Ucs2Hex,
}

/// How to build a simulated modem.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Message slots of the SIM ("SM").
    pub slots: usize,
    /// Message slots of the modem's own memory ("ME").
    pub me_slots: usize,
    /// Service centre address (`AT+CSCA?`) and of the messages it delivers.
    pub smsc: String,
    /// The SIM's own number.
    pub own_number: String,
    /// A symlink to the device, kept at the same path across unplug/replug (like `/dev/serial/by-id`).
    pub link: Option<PathBuf>,
    pub personality: Personality,
    /// The SIM asks for this PIN at every start.
    pub pin: Option<String>,
    /// The PUK that unlocks the SIM after three wrong PINs.
    pub puk: String,
    pub operator: String,
    pub imsi: String,
    pub iccid: String,
    pub imei: String,
    /// `AT+CSQ` signal (0..31, 99 unknown).
    pub rssi: u8,
    /// `AT+CREG?` status (1 home, 5 roaming, 2 searching...).
    pub registration: u8,
    pub ussd: Option<UssdReply>,
    /// After `AT+CFUN=1,1` the modem drops off the USB bus for this long, then comes back as a new
    /// device at the same link path (a real USB re-enumeration).
    pub reset_gone_for: Duration,
    /// Period of the Huawei `^RSSI` flood (only with [`Personality::Huawei`], until `AT^CURC=0`).
    pub flood_every: Option<Duration>,
    /// The session played by [`Personality::Transcript`].
    pub transcript: at::transcript::Transcript,
}

impl SimConfig {
    /// A modem that plays this recorded session back (see [`Personality::Transcript`]).
    pub fn replaying(transcript: at::transcript::Transcript) -> SimConfig {
        SimConfig {
            personality: Personality::Transcript,
            transcript,
            ussd: None,
            ..SimConfig::default()
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            slots: 10,
            me_slots: 20,
            smsc: "+243990000001".into(),
            own_number: "+243990001234".into(),
            link: None,
            personality: Personality::Generic,
            pin: None,
            puk: "12345678".into(),
            operator: "Vodacom CD".into(),
            imsi: "630010123456789".into(),
            iccid: "8924301000012345678".into(),
            imei: "356938035643809".into(),
            rssi: 20,
            registration: 1,
            ussd: Some(UssdReply {
                code: "*100#".into(),
                text: "Solde: 1250.00 FC".into(),
                encoding: UssdEncoding::Text,
            }),
            reset_gone_for: Duration::from_millis(300),
            flood_every: None,
            transcript: at::transcript::Transcript::default(),
        }
    }
}
