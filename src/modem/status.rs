//! A cheap snapshot of each modem's health, for `status`, the heartbeat and the logs. The link
//! task writes it; any number of readers take copies without waiting on the modem.

use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::watch;

/// Where a modem link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Opening the port.
    Opening,
    /// Port open; setting the modem up.
    Initialising,
    /// Receiving and sending.
    Ready,
    /// The device is missing or does not answer; retrying with backoff.
    Recovering,
    /// Stopped for a reason a technician must fix (wrong PIN, PUK); see `detail`.
    Failed,
    /// Shut down.
    Stopped,
}

impl LinkState {
    /// The name in `status`, the heartbeat and the saved status.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LinkState::Opening => "opening",
            LinkState::Initialising => "initialising",
            LinkState::Ready => "ready",
            LinkState::Recovering => "recovering",
            LinkState::Failed => "failed",
            LinkState::Stopped => "stopped",
        }
    }
}

impl Serialize for LinkState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Which make's quirks a link follows, from the modem's identification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirks {
    /// `^CURC=0` against the flood of `^RSSI`/`^BOOT`; the ICCID as `AT^ICCID?`.
    Huawei,
    Simcom,
    Quectel,
    Generic,
}

impl Quirks {
    /// The name in `status` and the logs.
    fn as_str(self) -> &'static str {
        match self {
            Quirks::Huawei => "huawei",
            Quirks::Simcom => "simcom",
            Quirks::Quectel => "quectel",
            Quirks::Generic => "generic",
        }
    }
}

impl std::fmt::Display for Quirks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Quirks {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One modem's state, as last seen.
#[derive(Debug, Clone, Serialize)]
pub struct ModemStatus {
    pub(crate) name: String,
    device: PathBuf,
    pub state: LinkState,
    #[serde(with = "time::serde::rfc3339")]
    state_since: OffsetDateTime,
    /// The last problem, in words a technician can act on.
    pub detail: Option<String>,
    /// Since when the link has not been ready (`None` while it is): the fallback modem takes
    /// over this modem's replies after a while.
    #[serde(with = "time::serde::rfc3339::option")]
    down_since: Option<OffsetDateTime>,
    pub manufacturer: Option<String>,
    pub(crate) model: Option<String>,
    pub revision: Option<String>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
    pub iccid: Option<String>,
    /// The quirks followed.
    pub personality: Quirks,
    /// The configured label, else what the network says.
    pub operator: Option<String>,
    pub registration: Option<String>,
    pub signal_dbm: Option<i32>,
    /// none / weak / ok / good.
    pub signal: String,
    pub(crate) sim_used: Option<u32>,
    pub sim_total: Option<u32>,
    pub(crate) smsc: Option<String>,
    /// The last USSD answer (airtime balance), decoded.
    pub balance: Option<String>,
    /// That answer as the modem printed it, with its data coding scheme (`dcs 15: ...`), for
    /// the technician when the decoding looks wrong.
    pub balance_raw: Option<String>,
    /// The first number of that answer.
    pub balance_amount: Option<f64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub balance_at: Option<OffsetDateTime>,
    /// The balance is below the modem's `low_balance_below`: replies will soon stop going out.
    pub low_balance: bool,
    /// The last disagreement between the gateway's clock and the network's, in words.
    pub clock_warning: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_message_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub(crate) last_sent_at: Option<OffsetDateTime>,
    pub received: u64,
    pub sent: u64,
    pub send_failures: u64,
    /// Times the port was opened again after a fault.
    pub reconnects: u64,
    /// Why this link sends nothing: the store could not commit a send's claim or outcome (a full
    /// or read-only disk). `None` while it sends. Each round tries one claim again, and the
    /// first that commits clears this.
    pub sending_stopped: Option<String>,
}

impl ModemStatus {
    pub(crate) fn new(name: &str, device: PathBuf, operator: Option<String>) -> ModemStatus {
        ModemStatus {
            name: name.to_string(),
            device,
            state: LinkState::Opening,
            state_since: OffsetDateTime::now_utc(),
            detail: None,
            down_since: Some(OffsetDateTime::now_utc()),
            manufacturer: None,
            model: None,
            revision: None,
            imei: None,
            imsi: None,
            iccid: None,
            personality: Quirks::Generic,
            operator,
            registration: None,
            signal_dbm: None,
            signal: "none".into(),
            sim_used: None,
            sim_total: None,
            smsc: None,
            balance: None,
            balance_raw: None,
            balance_amount: None,
            balance_at: None,
            low_balance: false,
            clock_warning: None,
            last_message_at: None,
            last_sent_at: None,
            received: 0,
            sent: 0,
            send_failures: 0,
            reconnects: 0,
            sending_stopped: None,
        }
    }
}

impl ModemStatus {
    /// Not ready for at least `after` (a link that never came up counts from its start).
    pub(crate) fn down_for_at_least(&self, after: std::time::Duration) -> bool {
        self.state != LinkState::Ready
            && self
                .down_since
                .is_some_and(|t| OffsetDateTime::now_utc() - t >= after)
    }
}

/// Read side of a modem's status; clone it freely.
#[derive(Debug, Clone)]
pub struct StatusHandle(watch::Receiver<ModemStatus>);

impl StatusHandle {
    fn new(rx: watch::Receiver<ModemStatus>) -> StatusHandle {
        StatusHandle(rx)
    }

    /// A copy of the current status.
    pub fn snapshot(&self) -> ModemStatus {
        self.0.borrow().clone()
    }

    /// True when the link wrote its status (or said it is alive) since the last call: the
    /// watchdog's sign that the link's loop still turns.
    pub(crate) fn stirred_since_last_look(&mut self) -> bool {
        let stirred = self.0.has_changed().unwrap_or(false);
        self.0.mark_unchanged();
        stirred
    }

    /// Waits until the status satisfies `f` (or the link is gone), and returns it.
    pub async fn wait_for(&mut self, f: impl FnMut(&ModemStatus) -> bool) -> Option<ModemStatus> {
        self.0.wait_for(f).await.ok().map(|s| s.clone())
    }
}

/// Write side, kept by the link task.
#[derive(Debug)]
pub(crate) struct StatusWriter(watch::Sender<ModemStatus>);

impl StatusWriter {
    pub(crate) fn new(initial: ModemStatus) -> (StatusWriter, StatusHandle) {
        let (tx, rx) = watch::channel(initial);
        (StatusWriter(tx), StatusHandle::new(rx))
    }

    pub(crate) fn handle(&self) -> StatusHandle {
        StatusHandle::new(self.0.subscribe())
    }

    /// A sign of life for the watchdog, with nothing new to say.
    pub(crate) fn alive(&self) {
        self.0.send_modify(|_| {});
    }

    /// True while the link has stopped sending because the store cannot commit.
    pub(crate) fn sending_stopped(&self) -> bool {
        self.0.borrow().sending_stopped.is_some()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut ModemStatus)) {
        self.0.send_modify(f);
    }

    pub(crate) fn set_state(&self, state: LinkState, detail: Option<String>) {
        self.0.send_modify(|s| {
            if s.state != state {
                s.state = state;
                s.state_since = OffsetDateTime::now_utc();
            }
            if state == LinkState::Ready {
                s.down_since = None;
            } else if s.down_since.is_none() {
                s.down_since = Some(OffsetDateTime::now_utc());
            }
            if detail.is_some() || state == LinkState::Ready {
                s.detail = detail;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{LinkState, Quirks};
    use std::collections::BTreeSet;

    #[test]
    fn link_states_are_saved_by_their_names() {
        let all = [
            LinkState::Opening,
            LinkState::Initialising,
            LinkState::Ready,
            LinkState::Recovering,
            LinkState::Failed,
            LinkState::Stopped,
        ];
        for state in all {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
        }
        let names: BTreeSet<&str> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn quirks_are_saved_and_shown_by_their_names() {
        let all = [
            Quirks::Huawei,
            Quirks::Simcom,
            Quirks::Quectel,
            Quirks::Generic,
        ];
        for quirks in all {
            assert_eq!(
                serde_json::to_value(quirks).unwrap(),
                serde_json::json!(quirks.as_str())
            );
            assert_eq!(quirks.to_string(), quirks.as_str());
        }
        let names: BTreeSet<&str> = all.iter().map(|q| q.as_str()).collect();
        assert_eq!(names.len(), all.len());
    }
}
