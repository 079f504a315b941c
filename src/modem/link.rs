//! The link task of one modem: open, initialise, take every received message (and status report)
//! into the store and only then delete it from the SIM, send the queued replies, and recover from
//! faults.
//!
//! Recovery ladder: a command that times out is retried once after the client resynchronised;
//! then the session ends, the port is closed and opened again with a backoff capped at
//! `backoff_max` (60 s). After two sessions in a row in which the modem never answered, the next
//! one starts with a modem reset (`AT+CFUN=1,1`); a USB stick then drops off the bus and comes back
//! at the same `/dev/serial/by-id` path, which the reopening waits for. Nothing is lost across any
//! of these: a message leaves the SIM only after the store said it is on disk, and the sweep at
//! every start takes whatever is still there. A sweep hands every message it listed to the store
//! at once, so they share one commit (one fsync), then deletes the slots whose commit succeeded.
//!
//! Fallback: a link may cover for other modems ([`ModemLink::cover_for`]); once one has been down
//! for its `fallback_after`, this link also sends that modem's queue. Each modem's queue is sent
//! under its own lock, taken by whichever link sends it, so no row goes out twice.
//!
//! A send that fails is recorded in the store, which retries it with backoff and finally marks it
//! failed with the modem's reason. A send whose answer was lost with the line (unplugged between
//! the PDU and `+CMGS:`) may have gone out; it is retried too — at least once, never silently lost.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use time::OffsetDateTime;
use tokio::sync::{Mutex, Notify, mpsc};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use at::commands::{
    At, Ccid, Cfun, Cgmi, Cgmm, Cgmr, Cgsn, Cimi, Cmee, Cmgd, Cmgf, Cmgl, Cmgr, Cmgs, Cnmi,
    CpinEnter, CpinQuery, CpmsSet, CregQuery, CscaQuery, Csq, Cusd, Echo, ListFilter, PinState,
    Raw, RegStatus, SignalLevel, rssi_to_dbm,
};
use at::{AtClient, AtCommand, AtError, ClientOptions, Storage, Urc};
use config::{ModemConfig, SmsConfig};
use pdu::{SubmitOptions, encode_submit};
use store::{Inserted, NewReceived, Store, StoreError};

use super::port;
use super::status::{LinkState, ModemStatus, Quirks, StatusHandle, StatusWriter};

mod send;
mod setup;

/// Tuning of a modem link; the per-modem settings come from [`ModemConfig`].
#[derive(Debug, Clone)]
pub struct ModemOptions {
    /// First wait before reopening a lost modem; doubles up to `backoff_max`.
    pub backoff_start: Duration,
    pub backoff_max: Duration,
    /// How often queued replies are looked for without a wake-up from the store.
    pub outgoing_poll: Duration,
    /// Most replies taken from the store at once.
    pub send_batch: usize,
    /// How often signal and registration are refreshed.
    pub health_interval: Duration,
    /// Storages swept for messages (the SIM, the modem memory); one a modem lacks is
    /// skipped after its first refusal.
    pub storages: Vec<Storage>,
    /// Upper bound on every command's own timeout (tests make it short).
    pub timeout_cap: Option<Duration>,
    /// Timings of the client's resynchronisation.
    pub client: ClientOptions,
    /// How long a freshly opened modem may take to answer its first `AT`.
    pub wake_timeout: Duration,
    /// How often the airtime balance is asked by USSD (when the modem has a `balance_ussd` code).
    pub balance_interval: Duration,
    /// How replies are encoded (transliteration, validity, status reports); the concatenation
    /// reference is rotated by the link. With status reports asked, the modem is also told to
    /// pass them on (`AT+CNMI=...,2,...`).
    pub submit: SubmitOptions,
    /// Longest wait at start-up for the modem to register on the network.
    pub registration_wait: Duration,
    /// A message whose service-centre time differs from the gateway's clock by more is logged.
    pub clock_warning_after: Duration,
    /// First wait before a refused send is tried again (doubling at each failure).
    pub send_retry_after: Duration,
}

impl ModemOptions {
    /// The defaults, with the SMS encoding settings of the configuration.
    pub fn with_sms_config(sms: &SmsConfig) -> ModemOptions {
        ModemOptions {
            submit: SubmitOptions {
                validity: sms.validity,
                status_report: sms.status_reports,
                transliterate: sms.transliterate,
                ..SubmitOptions::default()
            },
            clock_warning_after: sms.clock_warning_after,
            send_retry_after: sms.retry_after,
            ..ModemOptions::default()
        }
    }
}

impl Default for ModemOptions {
    fn default() -> Self {
        ModemOptions {
            backoff_start: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            outgoing_poll: Duration::from_secs(5),
            send_batch: 10,
            health_interval: Duration::from_secs(60),
            storages: vec![Storage::Sim, Storage::Modem],
            timeout_cap: None,
            client: ClientOptions::default(),
            wake_timeout: Duration::from_secs(3),
            balance_interval: Duration::from_secs(6 * 3600),
            submit: SubmitOptions {
                transliterate: true,
                ..SubmitOptions::default()
            },
            registration_wait: Duration::from_secs(60),
            clock_warning_after: Duration::from_secs(600),
            send_retry_after: store::FIRST_SEND_RETRY,
        }
    }
}

/// Why a session ended.
#[derive(Debug)]
enum SessionEnd {
    /// Shutdown asked.
    Shutdown,
    /// The line or the modem failed; reopen. `answered` says whether the modem answered at all.
    Link { error: AtError, answered: bool },
    /// A problem only a technician can fix (wrong PIN, PUK, no SIM): stop this modem.
    Fatal(String),
}

impl From<AtError> for SessionEnd {
    fn from(error: AtError) -> Self {
        SessionEnd::Link {
            error,
            answered: true,
        }
    }
}

/// Asks a running link for the airtime balance now (the answer lands in its status).
#[derive(Debug, Clone)]
pub struct BalanceRequest(Arc<Notify>);

impl BalanceRequest {
    pub fn ask(&self) {
        self.0.notify_one();
    }
}

/// Another modem whose replies this link sends while that one is down.
#[derive(Debug)]
struct Covered {
    name: String,
    status: StatusHandle,
    send_lock: Arc<Mutex<()>>,
    after: Duration,
}

/// One modem's link task. See the module documentation.
pub struct ModemLink {
    cfg: ModemConfig,
    store: Store,
    opts: ModemOptions,
    status: StatusWriter,
    concat_reference: u8,
    /// A PIN was refused once: it is never tried again.
    pin_refused: bool,
    /// Held while this modem's queue is being sent, by this link or by its fallback, so that no
    /// row goes out twice.
    send_lock: Arc<Mutex<()>>,
    covers: Vec<Covered>,
    balance_now: Arc<Notify>,
}

impl std::fmt::Debug for ModemLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModemLink")
            .field("modem", &self.cfg.name)
            .finish_non_exhaustive()
    }
}

impl ModemLink {
    pub fn new(cfg: ModemConfig, store: Store, opts: ModemOptions) -> ModemLink {
        let initial = ModemStatus::new(&cfg.name, cfg.device.clone(), cfg.operator.clone());
        let (status, _) = StatusWriter::new(initial);
        ModemLink {
            cfg,
            store,
            opts,
            status,
            concat_reference: rand::random(),
            pin_refused: false,
            send_lock: Arc::new(Mutex::new(())),
            covers: Vec::new(),
            balance_now: Arc::new(Notify::new()),
        }
    }

    /// The lock held while this modem's queue is sent; give it to the link that covers for it.
    pub fn send_lock(&self) -> Arc<Mutex<()>> {
        self.send_lock.clone()
    }

    /// Makes this link the fallback of modem `name`: once `status` has been down for `after`,
    /// this link also sends the replies queued for `name`, under `send_lock`.
    pub fn cover_for(
        &mut self,
        name: &str,
        status: StatusHandle,
        send_lock: Arc<Mutex<()>>,
        after: Duration,
    ) {
        self.covers.push(Covered {
            name: name.to_string(),
            status,
            send_lock,
            after,
        });
    }

    /// A handle to ask for the balance now, on demand.
    pub fn balance_request(&self) -> BalanceRequest {
        BalanceRequest(self.balance_now.clone())
    }

    /// The status of this modem, readable from anywhere while the link runs.
    pub fn status(&self) -> StatusHandle {
        self.status.handle()
    }

    pub(crate) fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Runs until `shutdown`. Modem faults never end it: it recovers, or, for a fault a technician
    /// must fix (PIN, PUK), it reports it in the status and waits for shutdown.
    pub async fn run(&mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        if !port::BAUD_RATES.contains(&self.cfg.baud) {
            let e = port::PortError::BadBaud(self.cfg.baud);
            self.status
                .set_state(LinkState::Failed, Some(e.to_string()));
            return Err(e).with_context(|| format!("modem {}", self.cfg.name));
        }
        let name = self.cfg.name.clone();
        // No message needed to see a clock that reads earlier than this version's release.
        let verdict = super::clock::check(OffsetDateTime::now_utc(), None, Duration::MAX);
        if let Some(w) = super::clock::warning(&verdict) {
            tracing::warn!(modem = %name, warning = %w, "clock check");
            self.status.update(|s| s.clock_warning = Some(w));
        }
        let mut recovery = Recovery {
            backoff: self.opts.backoff_start,
            silent_sessions: 0,
        };
        let mut first = true;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            if !first {
                self.status.update(|s| s.reconnects += 1);
            }
            first = false;
            let (end, port_opened) = self.open_and_serve(&shutdown, &mut recovery).await;
            match end {
                SessionEnd::Shutdown => break,
                SessionEnd::Fatal(reason) => {
                    tracing::error!(modem = %name, %reason, "modem stopped until a technician fixes it");
                    self.status.set_state(LinkState::Failed, Some(reason));
                    shutdown.cancelled().await;
                    break;
                }
                SessionEnd::Link { error, answered } => {
                    if answered {
                        recovery.silent_sessions = 0;
                    } else if port_opened {
                        // Only a modem that is there and does not answer is reset; one that is
                        // gone (unplugged) is not, nor reset when it comes back.
                        recovery.silent_sessions += 1;
                    }
                    if !self
                        .pause_before_reopening(&shutdown, &mut recovery.backoff, &error)
                        .await
                    {
                        break;
                    }
                }
            }
        }
        self.status.set_state(LinkState::Stopped, None);
        Ok(())
    }

    /// Opens the port and runs one session on it, resetting the modem first after two silent
    /// sessions in a row. Returns how the session ended and whether the port opened at all.
    async fn open_and_serve(
        &mut self,
        shutdown: &CancellationToken,
        recovery: &mut Recovery,
    ) -> (SessionEnd, bool) {
        self.status.set_state(LinkState::Opening, None);
        let serial = match port::open(&self.cfg.device, self.cfg.baud) {
            Ok(serial) => serial,
            Err(e) => {
                tracing::warn!(modem = %self.cfg.name, error = %e, "cannot open the modem");
                let end = SessionEnd::Link {
                    error: AtError::ModemGone,
                    answered: false,
                }
                .with_detail(&self.status, e.to_string());
                return (end, false);
            }
        };
        let (client, urcs) = AtClient::with_options(serial, self.opts.client.clone());
        let reset_first = recovery.silent_sessions >= 2;
        if reset_first {
            recovery.silent_sessions = 0;
        }
        let mut session = Session {
            link: self,
            client,
            urcs,
            mem1: None,
            me_unsupported: false,
            restart_seen: false,
            more_due: false,
            stopping: shutdown.clone(),
        };
        (session.run(shutdown, reset_first).await, true)
    }

    /// After a lost link: says so in the status, waits `backoff`, and doubles it unless the
    /// session had got the modem working. False when shutdown came during the wait.
    async fn pause_before_reopening(
        &mut self,
        shutdown: &CancellationToken,
        backoff: &mut Duration,
        error: &AtError,
    ) -> bool {
        let last = self.status.handle().snapshot();
        // Only a session that got the modem working resets the backoff; one that fails
        // in its set-up every time must not reopen the port every second.
        let was_ready = last.state == LinkState::Ready;
        let detail = last.detail.unwrap_or_else(|| error.to_string());
        if was_ready {
            *backoff = self.opts.backoff_start;
        }
        tracing::warn!(modem = %self.cfg.name, error = %error, retry_in = ?backoff, "modem link lost; reopening");
        self.status.set_state(LinkState::Recovering, Some(detail));
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = sleep(*backoff) => {}
        }
        if !was_ready {
            *backoff = (*backoff * 2).min(self.opts.backoff_max);
        }
        true
    }

    fn next_concat_reference(&mut self) -> u8 {
        self.concat_reference = self.concat_reference.wrapping_add(1);
        self.concat_reference
    }
}

impl SessionEnd {
    fn with_detail(self, status: &StatusWriter, detail: String) -> SessionEnd {
        status.update(|s| s.detail = Some(detail));
        self
    }
}

/// Where the recovery ladder stands between sessions.
struct Recovery {
    /// The wait before the next reopening.
    backoff: Duration,
    /// Sessions in a row in which the modem, there, never answered: at two it is reset.
    silent_sessions: u32,
}

/// One open port: from init to the line's end.
struct Session<'a> {
    link: &'a mut ModemLink,
    client: AtClient,
    urcs: mpsc::Receiver<Urc>,
    /// The storage reads and deletes go to now.
    mem1: Option<Storage>,
    me_unsupported: bool,
    /// A boot or SIM-ready line came while sending: set the modem up again once the send ends.
    restart_seen: bool,
    /// The daemon is stopping: no new send starts (a queue of replies would delay the stop).
    stopping: CancellationToken,
    /// The last round of sending took a full `send_batch`: more may be due now, with no new
    /// SMS queued to signal it (a backlog after an outage, a flood).
    more_due: bool,
}

fn is_sim_busy(e: &AtError) -> bool {
    matches!(e.cms_code(), Some(314 | 515 | 512)) || matches!(e.cme_code(), Some(14 | 515))
}

impl Session<'_> {
    fn name(&self) -> &str {
        &self.link.cfg.name
    }

    async fn cmd<C: AtCommand>(&mut self, cmd: &C) -> Result<C::Response, AtError> {
        let timeout = match self.link.opts.timeout_cap {
            Some(cap) => cmd.timeout().min(cap),
            None => cmd.timeout(),
        };
        match self.client.run_with_timeout(cmd, timeout).await {
            // One more try after the client resynchronised, except for a send: it may have gone
            // out, and a second copy costs the partner money.
            Err(AtError::Timeout { .. }) if cmd.prompt_payload().is_none() => {
                tracing::warn!(modem = %self.name(), command = %cmd.log_line(), "no answer; trying once more");
                self.client.run_with_timeout(cmd, timeout).await
            }
            other => other,
        }
    }

    /// As `cmd`, retried a few times while the SIM is busy (right after a PIN or a boot).
    async fn cmd_patient<C: AtCommand>(&mut self, cmd: &C) -> Result<C::Response, AtError> {
        let mut tries = 0;
        loop {
            match self.cmd(cmd).await {
                Err(e) if is_sim_busy(&e) && tries < 10 => {
                    tries += 1;
                    sleep(Duration::from_millis(500)).await;
                }
                other => return other,
            }
        }
    }

    async fn run(&mut self, shutdown: &CancellationToken, reset_first: bool) -> SessionEnd {
        let status = &self.link.status;
        status.set_state(LinkState::Initialising, None);
        if reset_first {
            tracing::warn!(modem = %self.name(), "modem silent twice in a row: resetting it (AT+CFUN=1,1)");
            let _ = self
                .client
                .run_with_timeout(
                    &Cfun {
                        fun: 1,
                        reset: true,
                    },
                    Duration::from_secs(5),
                )
                .await;
            return SessionEnd::Link {
                error: AtError::ModemGone,
                answered: false,
            };
        }
        if let Err(end) = self.wake().await {
            return end;
        }
        let result = async {
            self.init().await?;
            self.sweep().await?;
            self.send_due().await?;
            self.serve(shutdown).await
        }
        .await;
        match result {
            Ok(()) => SessionEnd::Shutdown,
            Err(end) => end,
        }
    }

    async fn refresh_health(&mut self) -> Result<(), SessionEnd> {
        if let Some(q) = self.optional(&Csq).await? {
            self.link.status.update(|s| {
                s.signal_dbm = q.dbm();
                s.signal = q.level().as_str().into();
            });
        }
        if let Some(r) = self.optional(&CregQuery).await? {
            if !r.stat.is_registered() {
                tracing::warn!(modem = %self.name(), registration = ?r.stat, "modem not registered on the network");
            }
            self.link
                .status
                .update(|s| s.registration = Some(registration_word(r.stat).into()));
        }
        if self.link.cfg.operator.is_none()
            && let Some(lines) = self.optional(&Raw::new("AT+COPS?")).await?
        {
            let name = lines
                .iter()
                .find_map(|l| at::params_after(l, "+COPS:"))
                .and_then(|p| p.get(2).map(|p| p.text.clone()))
                .filter(|n| !n.is_empty());
            if name.is_some() {
                self.link.status.update(|s| s.operator = name);
            }
        }
        Ok(())
    }

    /// Makes `storage` the one reads and deletes go to; new messages keep going to the SIM.
    async fn select_storage(&mut self, storage: &Storage) -> Result<(), SessionEnd> {
        if self.mem1.as_ref() == Some(storage) {
            return Ok(());
        }
        let cmd = CpmsSet {
            mem1: storage.clone(),
            mem2: Storage::Sim,
            mem3: Storage::Sim,
        };
        let usage = self.cmd_patient(&cmd).await?;
        if *storage == Storage::Sim
            && let Some(u) = usage.first()
        {
            let (used, total) = (u.used, u.total);
            self.link.status.update(|s| {
                s.sim_used = Some(used);
                s.sim_total = Some(total);
            });
        }
        self.mem1 = Some(storage.clone());
        Ok(())
    }

    /// Lists every storage and takes each received message.
    async fn sweep(&mut self) -> Result<(), SessionEnd> {
        let storages = self.link.opts.storages.clone();
        for storage in storages {
            if storage == Storage::Modem && self.me_unsupported {
                continue;
            }
            match self.select_storage(&storage).await {
                Ok(()) => {}
                Err(SessionEnd::Link { error, .. }) if !error.is_link_fault() => {
                    tracing::info!(modem = %self.name(), %storage, error = %error, "storage not available; not swept");
                    if storage == Storage::Modem {
                        self.me_unsupported = true;
                    }
                    continue;
                }
                Err(end) => return Err(end),
            }
            let list = match self.cmd(&Cmgl(ListFilter::All)).await {
                Ok(l) => l,
                Err(e) if e.is_link_fault() => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(modem = %self.name(), %storage, error = %e, "cannot list the storage");
                    continue;
                }
            };
            if !list.is_empty() {
                tracing::info!(modem = %self.name(), %storage, count = list.len(), "messages found in storage");
            }
            let mut listed = Vec::with_capacity(list.len());
            for m in list {
                if !m.stat.is_received() {
                    tracing::debug!(modem = %self.name(), index = m.index, "stored outgoing message left alone");
                    continue;
                }
                listed.push((m.index, m.pdu));
            }
            self.take_all(&storage, listed).await?;
        }
        self.select_storage(&Storage::Sim).await
    }

    /// What the store is given for the message in slot `index` of `storage`.
    fn received(&mut self, storage: &Storage, index: u32, pdu: String) -> NewReceived {
        self.check_clock(&pdu);
        NewReceived {
            modem: self.link.cfg.name.clone(),
            storage: storage.as_str().to_string(),
            sim_index: Some(index),
            pdu_hex: pdu,
            received_at: OffsetDateTime::now_utc(),
        }
    }

    /// Commits one message to the store, and only then deletes it from the modem.
    async fn take(&mut self, storage: &Storage, index: u32, pdu: String) -> Result<(), SessionEnd> {
        let received = self.received(storage, index, pdu);
        let committed = self.link.store.insert_received(received).await;
        if self.committed(storage, index, committed) {
            self.delete_committed(storage, index).await?;
        }
        Ok(())
    }

    /// Commits the messages of one listing together (one transaction, one fsync), then deletes
    /// from the modem each one whose commit succeeded, and only those: a message the store
    /// refused stays in its slot for the next sweep.
    async fn take_all(
        &mut self,
        storage: &Storage,
        listed: Vec<(u32, String)>,
    ) -> Result<(), SessionEnd> {
        if listed.is_empty() {
            return Ok(());
        }
        let mut indexes = Vec::with_capacity(listed.len());
        let mut batch = Vec::with_capacity(listed.len());
        for (index, pdu) in listed {
            indexes.push(index);
            batch.push(self.received(storage, index, pdu));
        }
        // Every answer is in once this returns: no commit is still under way below.
        let results = self.link.store.insert_received_all(batch).await;
        let mut to_delete = Vec::with_capacity(indexes.len());
        for (index, committed) in indexes.into_iter().zip(results) {
            if self.committed(storage, index, committed) {
                to_delete.push(index);
            }
        }
        for index in to_delete {
            self.delete_committed(storage, index).await?;
        }
        Ok(())
    }

    /// Records the store's answer for slot `index`; true when the message is on disk and the
    /// modem's copy may go.
    fn committed(
        &mut self,
        storage: &Storage,
        index: u32,
        answer: Result<Inserted, StoreError>,
    ) -> bool {
        match answer {
            Ok(inserted) => {
                if !inserted.duplicate {
                    self.link.status.update(|s| {
                        s.received += 1;
                        s.last_message_at = Some(OffsetDateTime::now_utc());
                    });
                }
                tracing::info!(modem = %self.name(), %storage, index, id = inserted.id, duplicate = inserted.duplicate, "message committed; deleting it from the modem");
                true
            }
            Err(e) => {
                // The modem keeps it; the next sweep tries again.
                tracing::error!(modem = %self.name(), %storage, index, error = %e, "store refused the message; it stays on the SIM");
                false
            }
        }
    }

    /// Deletes slot `index`, whose message the store has committed.
    async fn delete_committed(&mut self, storage: &Storage, index: u32) -> Result<(), SessionEnd> {
        match self.cmd(&Cmgd(index)).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_link_fault() => Err(e.into()),
            Err(e) => {
                tracing::warn!(modem = %self.name(), %storage, index, error = %e, "could not delete a committed message; the next sweep retries");
                Ok(())
            }
        }
    }

    /// Compares the message's service-centre time with the gateway clock; warns once per change.
    fn check_clock(&mut self, pdu_hex: &str) {
        let smsc_time = match pdu::decode(pdu_hex) {
            Ok(pdu::Pdu::Deliver(d)) => d.timestamp.to_offset_datetime(),
            Ok(pdu::Pdu::StatusReport(r)) => r.timestamp.to_offset_datetime(),
            _ => None,
        };
        let verdict = super::clock::check(
            OffsetDateTime::now_utc(),
            smsc_time,
            self.link.opts.clock_warning_after,
        );
        let warning = super::clock::warning(&verdict);
        let before = self.link.status.handle().snapshot().clock_warning;
        if warning.is_some() && before.is_none() {
            tracing::warn!(modem = %self.name(), warning = ?warning, "clock check");
        } else if warning.is_none() && before.is_some() {
            tracing::info!(modem = %self.name(), "the gateway clock agrees with the network again");
        }
        self.link.status.update(|s| s.clock_warning = warning);
    }

    /// Commits a message or report the modem pushed without storing it (`+CMT`, `+CDS`).
    async fn commit_direct(&mut self, storage: &str, pdu: String) {
        self.check_clock(&pdu);
        let received = NewReceived {
            modem: self.link.cfg.name.clone(),
            storage: storage.into(),
            sim_index: None,
            pdu_hex: pdu,
            received_at: OffsetDateTime::now_utc(),
        };
        match self.link.store.insert_received(received).await {
            // Not stored on the modem: the store is the only copy from now on.
            Err(e) => {
                tracing::error!(modem = %self.name(), storage, error = %e, "a message the modem pushed could not be stored")
            }
            Ok(_) => self.link.status.update(|s| {
                s.received += 1;
                s.last_message_at = Some(OffsetDateTime::now_utc());
            }),
        }
    }

    async fn serve(&mut self, shutdown: &CancellationToken) -> Result<(), SessionEnd> {
        let notify = self.link.store.outgoing_notify();
        let sweep_every = self.link.cfg.sweep_interval.max(Duration::from_secs(1));
        let mut next_sweep = Instant::now() + sweep_every;
        let mut next_poll = Instant::now() + self.link.opts.outgoing_poll;
        let mut next_health = Instant::now() + self.link.opts.health_interval;
        // The balance is asked at once, then on its schedule.
        let mut next_balance = Instant::now();
        let balance_code = self.link.cfg.balance_ussd.clone();
        let balance_now = self.link.balance_now.clone();
        // A modem that restarted by itself is set up again once its boot lines have passed.
        let mut reinit_at: Option<Instant> = None;
        loop {
            let reinit = async {
                match reinit_at {
                    Some(t) => sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                urc = self.urcs.recv() => match urc {
                    None => return Err(AtError::ModemGone.into()),
                    Some(u) => {
                        if self.on_urc(u).await? {
                            self.restart_seen = true;
                        }
                    }
                },
                _ = reinit => {
                    reinit_at = None;
                    tracing::warn!(modem = %self.name(), "modem restarted by itself; setting it up again");
                    self.mem1 = None;
                    self.link.status.set_state(LinkState::Initialising, None);
                    self.init().await?;
                    self.sweep().await?;
                }
                _ = sleep_until(next_sweep) => {
                    self.sweep().await?;
                    next_sweep = Instant::now() + sweep_every;
                }
                _ = notify.notified() => self.send_due().await?,
                // A backlog drains at `send_gap`, not at `send_batch` per `outgoing_poll`; as a
                // branch of its own, so that the sweeps and the health checks still take turns.
                _ = std::future::ready(()), if self.more_due => self.send_due().await?,
                _ = sleep_until(next_poll) => {
                    self.send_due().await?;
                    next_poll = Instant::now() + self.link.opts.outgoing_poll;
                }
                _ = sleep_until(next_balance), if balance_code.is_some() => {
                    if let Some(code) = &balance_code {
                        self.ask_balance(code).await?;
                    }
                    next_balance = Instant::now() + self.link.opts.balance_interval;
                }
                _ = balance_now.notified() => match &balance_code {
                    Some(code) => self.ask_balance(code).await?,
                    None => tracing::warn!(modem = %self.name(), "balance asked, but this modem has no balance_ussd code"),
                },
                _ = sleep_until(next_health) => {
                    self.link.status.alive();
                    self.refresh_health().await?;
                    next_health = Instant::now() + self.link.opts.health_interval;
                }
            }
            if std::mem::take(&mut self.restart_seen) {
                reinit_at = Some(Instant::now() + Duration::from_secs(2));
            }
        }
    }

    /// Handles one URC; true when the modem seems to have restarted.
    async fn on_urc(&mut self, u: Urc) -> Result<bool, SessionEnd> {
        match u {
            Urc::NewMessage { storage, index } | Urc::StatusReportIndex { storage, index } => {
                match self.select_storage(&storage).await {
                    Ok(()) => {}
                    Err(SessionEnd::Link { error, .. }) if !error.is_link_fault() => {
                        tracing::warn!(modem = %self.name(), %storage, index, error = %error, "cannot select the indicated storage");
                        return Ok(false);
                    }
                    Err(end) => return Err(end),
                }
                match self.cmd(&Cmgr(index)).await {
                    Ok(Some(m)) if m.stat.is_received() => {
                        self.take(&storage, index, m.pdu).await?
                    }
                    Ok(_) => {
                        tracing::debug!(modem = %self.name(), index, "indicated slot empty (already taken)")
                    }
                    Err(e) if e.is_link_fault() => return Err(e.into()),
                    Err(e) => {
                        tracing::warn!(modem = %self.name(), index, error = %e, "cannot read an indicated message; the sweep will retry")
                    }
                }
                self.select_storage(&Storage::Sim).await?;
            }
            Urc::Deliver { pdu } => self.commit_direct("direct", pdu).await,
            Urc::StatusReport { pdu } => {
                self.commit_direct(Storage::StatusReports.as_str(), pdu)
                    .await
            }
            Urc::MemoryFull => {
                tracing::warn!(modem = %self.name(), "modem says its storage is full; sweeping now");
                self.sweep().await?;
            }
            Urc::Signal { rssi } => {
                let dbm = rssi_to_dbm(rssi);
                self.link.status.update(|s| {
                    s.signal_dbm = dbm;
                    s.signal = SignalLevel::from_dbm(dbm).as_str().into();
                });
            }
            Urc::Registration { stat } => {
                self.link
                    .status
                    .update(|s| s.registration = Some(registration_word(stat).into()));
            }
            Urc::Ussd { status, text, dcs } => self.on_ussd(status, text, dcs),
            // Huawei sticks repeat ^BOOT as a heartbeat until AT^CURC=0; it is not a restart.
            Urc::Boot if self.link.status.handle().snapshot().personality == Quirks::Huawei => {}
            Urc::Boot | Urc::Ready(_) => return Ok(true),
            Urc::SimState(s) if s != PinState::Ready => return Ok(true),
            other => tracing::debug!(modem = %self.name(), urc = ?other, "URC noted"),
        }
        Ok(false)
    }

    /// A USSD answer: decoded, kept in the status, compared with the low-balance threshold.
    fn on_ussd(&mut self, status: u8, text: Option<String>, dcs: Option<u8>) {
        // Status 2 ("ended by the network") often carries the final answer itself.
        let Some(raw) = text.filter(|_| super::ussd::carries_answer(status)) else {
            tracing::warn!(modem = %self.name(), status, "USSD request gave no answer (network or code not supported)");
            return;
        };
        let answer = super::ussd::decode_answer(&raw, dcs);
        tracing::debug!(modem = %self.name(), raw = %raw, ?dcs, "USSD answer as received");
        let amount = super::ussd::first_amount(&answer);
        let threshold = self.link.cfg.low_balance_below;
        let low = matches!((amount, threshold), (Some(a), Some(t)) if a < t);
        if low {
            tracing::warn!(modem = %self.name(), balance = %answer, below = ?threshold, "airtime balance low: top up this SIM or replies will stop");
        } else {
            tracing::info!(modem = %self.name(), balance = %answer, "airtime balance");
        }
        self.link.status.update(|s| {
            s.balance = Some(answer);
            s.balance_raw = Some(super::ussd::raw_form(&raw, dcs));
            s.balance_amount = amount;
            s.balance_at = Some(OffsetDateTime::now_utc());
            s.low_balance = low;
        });
    }

    /// Asks the network for the airtime balance; the answer comes as a `+CUSD` URC.
    async fn ask_balance(&mut self, code: &str) -> Result<(), SessionEnd> {
        let cmd = Cusd {
            code: code.into(),
            dcs: 15,
        };
        match self.cmd(&cmd).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_link_fault() => Err(e.into()),
            Err(e) => {
                tracing::warn!(modem = %self.name(), code, error = %e, "balance request (USSD) refused");
                Ok(())
            }
        }
    }
}

/// Which quirks to follow, from the identification.
pub(crate) fn personality_of(manufacturer: Option<&str>, model: Option<&str>) -> Quirks {
    let text =
        format!("{} {}", manufacturer.unwrap_or(""), model.unwrap_or("")).to_ascii_lowercase();
    if text.contains("huawei") {
        Quirks::Huawei
    } else if text.contains("simcom") || text.contains("sim800") || text.contains("sim7600") {
        Quirks::Simcom
    } else if text.contains("quectel") {
        Quirks::Quectel
    } else {
        Quirks::Generic
    }
}

pub(crate) fn registration_word(stat: RegStatus) -> &'static str {
    match stat {
        RegStatus::Home => "home",
        RegStatus::Roaming => "roaming",
        RegStatus::HomeSmsOnly => "home (SMS only)",
        RegStatus::RoamingSmsOnly => "roaming (SMS only)",
        RegStatus::HomeCsfbNotPreferred => "home (CSFB not preferred)",
        RegStatus::RoamingCsfbNotPreferred => "roaming (CSFB not preferred)",
        RegStatus::EmergencyOnly => "emergency calls only",
        RegStatus::Searching => "searching",
        RegStatus::Denied => "denied",
        RegStatus::NotSearching => "not searching",
        RegStatus::Unknown | RegStatus::Other(_) => "unknown",
    }
}
