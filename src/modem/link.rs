//! The link task of one modem: open, initialise, take every received message into the store and
//! only then delete it from the SIM, send the queued replies, and recover from faults.
//!
//! Recovery: a command that times out has already been resynchronised by the client; when the line
//! is lost or the modem stays silent, the session ends, the port is closed and opened again with a
//! backoff capped at `backoff_max`. After two sessions in a row in which the modem never answered,
//! the next one starts with a modem reset (`AT+CFUN=1,1`). Nothing is lost across any of these: a
//! message leaves the SIM only after the store said it is on disk, and the sweep at every start
//! takes whatever is still there.

use std::time::Duration;

use anyhow::Context;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::at::commands::{
    At, Cfun, Cgmi, Cgmm, Cmee, Cmgd, Cmgf, Cmgl, Cmgr, Cmgs, Cnmi, CpinEnter, CpinQuery, CpmsSet,
    CregQuery, CscaQuery, Csq, Cusd, Echo, ListFilter, PinState, Raw, RegStatus, rssi_to_dbm,
    signal_word,
};
use crate::at::{AtClient, AtCommand, AtError, ClientOptions, Urc};
use crate::config::{ModemConfig, SmsConfig};
use crate::pdu::{SubmitOptions, encode_submit};
use crate::store::{NewReceived, Store};

use super::port;
use super::status::{LinkState, ModemStatus, StatusHandle, StatusWriter};

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
    /// Storages swept for messages ("SM" the SIM, "ME" the modem memory); one a modem lacks is
    /// skipped after its first refusal.
    pub storages: Vec<String>,
    /// Upper bound on every command's own timeout (tests make it short).
    pub timeout_cap: Option<Duration>,
    /// Timings of the client's resynchronisation.
    pub client: ClientOptions,
    /// How long a freshly opened modem may take to answer its first `AT`.
    pub wake_timeout: Duration,
    /// How often the airtime balance is asked by USSD (when the modem has a `balance_ussd` code).
    pub balance_interval: Duration,
    /// How replies are encoded (transliteration, validity, status reports); the concatenation
    /// reference is rotated by the link.
    pub submit: SubmitOptions,
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
            storages: vec!["SM".into(), "ME".into()],
            timeout_cap: None,
            client: ClientOptions::default(),
            wake_timeout: Duration::from_secs(3),
            balance_interval: Duration::from_secs(6 * 3600),
            submit: SubmitOptions {
                transliterate: true,
                ..SubmitOptions::default()
            },
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

/// One modem's link task. See the module documentation.
pub struct ModemLink {
    cfg: ModemConfig,
    store: Store,
    opts: ModemOptions,
    status: StatusWriter,
    concat_reference: u8,
    /// A PIN was refused once: it is never tried again.
    pin_refused: bool,
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
        }
    }

    /// The status of this modem, readable from anywhere while the link runs.
    pub fn status(&self) -> StatusHandle {
        self.status.handle()
    }

    pub fn name(&self) -> &str {
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
        let mut backoff = self.opts.backoff_start;
        let mut silent_sessions = 0u32;
        let mut first = true;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            if !first {
                self.status.update(|s| s.reconnects += 1);
            }
            first = false;
            self.status.set_state(LinkState::Opening, None);
            let opened = port::open(&self.cfg.device, self.cfg.baud);
            let end = match opened {
                Err(e) => {
                    tracing::warn!(modem = %name, error = %e, "cannot open the modem");
                    SessionEnd::Link {
                        error: AtError::ModemGone,
                        answered: false,
                    }
                    .with_detail(&self.status, e.to_string())
                }
                Ok(serial) => {
                    let (client, urcs) = AtClient::with_options(serial, self.opts.client.clone());
                    let reset_first = silent_sessions >= 2;
                    if reset_first {
                        silent_sessions = 0;
                    }
                    let mut session = Session {
                        link: self,
                        client,
                        urcs,
                        mem1: None,
                        me_unsupported: false,
                    };
                    let end = session.run(&shutdown, reset_first).await;
                    drop(session);
                    end
                }
            };
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
                        silent_sessions = 0;
                    } else {
                        silent_sessions += 1;
                    }
                    let last = self.status.handle().snapshot();
                    // Only a session that got the modem working resets the backoff; one that fails
                    // in its set-up every time must not reopen the port every second.
                    let was_ready = last.state == LinkState::Ready;
                    let detail = last.detail.unwrap_or_else(|| error.to_string());
                    if was_ready {
                        backoff = self.opts.backoff_start;
                    }
                    tracing::warn!(modem = %name, error = %error, retry_in = ?backoff, "modem link lost; reopening");
                    self.status.set_state(LinkState::Recovering, Some(detail));
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = sleep(backoff) => {}
                    }
                    if !was_ready {
                        backoff = (backoff * 2).min(self.opts.backoff_max);
                    }
                }
            }
        }
        self.status.set_state(LinkState::Stopped, None);
        Ok(())
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

/// One open port: from init to the line's end.
struct Session<'a> {
    link: &'a mut ModemLink,
    client: AtClient,
    urcs: mpsc::Receiver<Urc>,
    /// The storage reads and deletes go to now.
    mem1: Option<String>,
    me_unsupported: bool,
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

    /// The first contact: a probe, retried; a modem that never answers ends the session as silent.
    async fn wake(&mut self) -> Result<(), SessionEnd> {
        let mut last = AtError::ModemGone;
        for _ in 0..3 {
            match self
                .client
                .run_with_timeout(&At, self.link.opts.wake_timeout)
                .await
            {
                Ok(()) => return Ok(()),
                Err(AtError::ModemGone) => {
                    return Err(SessionEnd::Link {
                        error: AtError::ModemGone,
                        answered: false,
                    });
                }
                Err(e) => last = e,
            }
        }
        self.link
            .status
            .update(|s| s.detail = Some(format!("modem does not answer AT: {last}")));
        Err(SessionEnd::Link {
            error: last,
            answered: false,
        })
    }

    async fn init(&mut self) -> Result<(), SessionEnd> {
        self.cmd(&Echo(false)).await?;
        if let Err(e) = self.cmd(&Cmee(1)).await {
            tracing::info!(modem = %self.name(), error = %e, "modem refuses AT+CMEE=1; errors will be plain");
        }
        self.identify().await?;
        self.unlock_sim().await?;
        self.cmd(&Cmgf::Pdu).await.map_err(|e| match e {
            e if e.is_link_fault() => SessionEnd::from(e),
            e => SessionEnd::Fatal(format!("modem refuses PDU mode (AT+CMGF=0): {e}")),
        })?;
        self.select_storage("SM").await?;
        if let Err(e) = self.cmd(&Cnmi::STORE_AND_NOTIFY).await {
            if e.is_link_fault() {
                return Err(e.into());
            }
            tracing::warn!(modem = %self.name(), error = %e, "modem refuses AT+CNMI=2,1,0,0,0; relying on the periodic sweep");
        }
        match self.cmd(&CscaQuery).await {
            Ok(smsc) => {
                if smsc.is_none() {
                    tracing::warn!(modem = %self.name(), "no SMS service centre on the SIM (AT+CSCA?); sending will fail");
                }
                self.link.status.update(|s| s.smsc = smsc);
            }
            Err(e) if e.is_link_fault() => return Err(e.into()),
            Err(e) => tracing::info!(modem = %self.name(), error = %e, "AT+CSCA? refused"),
        }
        self.refresh_health().await?;
        self.link.status.set_state(LinkState::Ready, None);
        tracing::info!(modem = %self.name(), "modem ready");
        Ok(())
    }

    async fn identify(&mut self) -> Result<(), SessionEnd> {
        let manufacturer = self.optional(&Cgmi).await?;
        let model = self.optional(&Cgmm).await?;
        let huawei = manufacturer
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().contains("huawei"));
        if huawei {
            // Huawei sticks flood the line with ^RSSI/^MODE/^BOOT unless told not to.
            if let Err(e) = self.cmd(&Raw::new("AT^CURC=0")).await {
                if e.is_link_fault() {
                    return Err(e.into());
                }
                tracing::info!(modem = %self.name(), error = %e, "AT^CURC=0 refused");
            }
        }
        tracing::info!(modem = %self.name(), manufacturer = ?manufacturer, model = ?model, "modem identified");
        self.link.status.update(|s| {
            s.manufacturer = manufacturer;
            s.model = model;
        });
        Ok(())
    }

    /// Runs a command whose failure (other than the link's) only means "not supported".
    async fn optional<C: AtCommand>(&mut self, cmd: &C) -> Result<Option<C::Response>, SessionEnd> {
        match self.cmd(cmd).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.is_link_fault() => Err(e.into()),
            Err(_) => Ok(None),
        }
    }

    async fn unlock_sim(&mut self) -> Result<(), SessionEnd> {
        let state = match self.cmd_patient(&CpinQuery).await {
            Ok(s) => s,
            Err(e) if e.is_link_fault() => return Err(e.into()),
            Err(e) if e.cme_code() == Some(10) || e.cms_code() == Some(310) => {
                return Err(SessionEnd::Fatal(
                    "no SIM card in the modem (+CME ERROR: 10): insert one".into(),
                ));
            }
            Err(e) => {
                return Err(SessionEnd::Fatal(format!(
                    "cannot read the SIM state (AT+CPIN?): {e}"
                )));
            }
        };
        match state {
            PinState::Ready => Ok(()),
            PinState::SimPin => {
                if self.link.pin_refused {
                    return Err(SessionEnd::Fatal("the SIM PIN was refused before; not trying it again".into()));
                }
                let Some(file) = self.link.cfg.pin_file.clone() else {
                    return Err(SessionEnd::Fatal(
                        "the SIM asks for a PIN and no pin_file is configured for this modem".into(),
                    ));
                };
                let pin = crate::secrets::read_pin(&file).map_err(|e| SessionEnd::Fatal(e.to_string()))?;
                match self.cmd(&CpinEnter { pin }).await {
                    Ok(()) => {
                        tracing::info!(modem = %self.name(), "SIM PIN accepted");
                        Ok(())
                    }
                    Err(e) if e.is_link_fault() => Err(e.into()),
                    Err(e) => {
                        self.link.pin_refused = true;
                        Err(SessionEnd::Fatal(format!(
                            "the SIM refused the PIN from {} ({e}); fix the file — the PIN is not tried again, to keep the SIM from locking",
                            file.display()
                        )))
                    }
                }
            }
            PinState::SimPuk => Err(SessionEnd::Fatal(
                "the SIM is locked and needs its PUK: unlock it in a phone, then restart the gateway".into(),
            )),
            other => Err(SessionEnd::Fatal(format!("the SIM is not ready: {other:?}"))),
        }
    }

    async fn refresh_health(&mut self) -> Result<(), SessionEnd> {
        if let Some(q) = self.optional(&Csq).await? {
            self.link.status.update(|s| {
                s.signal_dbm = q.dbm();
                s.signal = q.word().into();
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
                .find_map(|l| crate::at::params::params_after(l, "+COPS:"))
                .and_then(|p| p.get(2).map(|p| p.text.clone()))
                .filter(|n| !n.is_empty());
            if name.is_some() {
                self.link.status.update(|s| s.operator = name);
            }
        }
        Ok(())
    }

    /// Makes `storage` the one reads and deletes go to; new messages keep going to the SIM.
    async fn select_storage(&mut self, storage: &str) -> Result<(), SessionEnd> {
        if self.mem1.as_deref() == Some(storage) {
            return Ok(());
        }
        let cmd = CpmsSet {
            mem1: storage.into(),
            mem2: "SM".into(),
            mem3: "SM".into(),
        };
        let usage = self.cmd_patient(&cmd).await?;
        if storage == "SM"
            && let Some(u) = usage.first()
        {
            let (used, total) = (u.used, u.total);
            self.link.status.update(|s| {
                s.sim_used = Some(used);
                s.sim_total = Some(total);
            });
        }
        self.mem1 = Some(storage.to_string());
        Ok(())
    }

    /// Lists every storage and takes each received message.
    async fn sweep(&mut self) -> Result<(), SessionEnd> {
        let storages = self.link.opts.storages.clone();
        for storage in storages {
            if storage == "ME" && self.me_unsupported {
                continue;
            }
            match self.select_storage(&storage).await {
                Ok(()) => {}
                Err(SessionEnd::Link { error, .. }) if !error.is_link_fault() => {
                    tracing::info!(modem = %self.name(), %storage, error = %error, "storage not available; not swept");
                    if storage == "ME" {
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
            for m in list {
                if !m.stat.is_received() {
                    tracing::debug!(modem = %self.name(), index = m.index, "stored outgoing message left alone");
                    continue;
                }
                self.take(&storage, m.index, m.pdu).await?;
            }
        }
        self.select_storage("SM").await
    }

    /// Commits one message to the store, and only then deletes it from the modem.
    async fn take(&mut self, storage: &str, index: u32, pdu: String) -> Result<(), SessionEnd> {
        let received = NewReceived {
            modem: self.link.cfg.name.clone(),
            storage: storage.to_string(),
            sim_index: Some(index),
            pdu_hex: pdu,
            received_at: OffsetDateTime::now_utc(),
        };
        match self.link.store.insert_received(received).await {
            Ok(inserted) => {
                if !inserted.duplicate {
                    self.link.status.update(|s| {
                        s.received += 1;
                        s.last_message_at = Some(OffsetDateTime::now_utc());
                    });
                }
                tracing::info!(modem = %self.name(), %storage, index, id = inserted.id, duplicate = inserted.duplicate, "message committed; deleting it from the modem");
            }
            Err(e) => {
                // The modem keeps it; the next sweep tries again.
                tracing::error!(modem = %self.name(), %storage, index, error = %e, "store refused the message; it stays on the SIM");
                return Ok(());
            }
        }
        match self.cmd(&Cmgd(index)).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_link_fault() => Err(e.into()),
            Err(e) => {
                tracing::warn!(modem = %self.name(), %storage, index, error = %e, "could not delete a committed message; the next sweep retries");
                Ok(())
            }
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
                            reinit_at = Some(Instant::now() + Duration::from_secs(2));
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
                _ = sleep_until(next_health) => {
                    self.refresh_health().await?;
                    next_health = Instant::now() + self.link.opts.health_interval;
                }
            }
        }
    }

    /// Handles one URC; true when the modem seems to have restarted.
    async fn on_urc(&mut self, u: Urc) -> Result<bool, SessionEnd> {
        match u {
            Urc::NewMessage { storage, index } => {
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
                self.select_storage("SM").await?;
            }
            Urc::Deliver { pdu } => {
                // Not stored on the modem: the store is the only copy from now on.
                let received = NewReceived {
                    modem: self.link.cfg.name.clone(),
                    storage: "direct".into(),
                    sim_index: None,
                    pdu_hex: pdu,
                    received_at: OffsetDateTime::now_utc(),
                };
                if let Err(e) = self.link.store.insert_received(received).await {
                    tracing::error!(modem = %self.name(), error = %e, "a message routed directly (+CMT) could not be stored");
                } else {
                    self.link.status.update(|s| {
                        s.received += 1;
                        s.last_message_at = Some(OffsetDateTime::now_utc());
                    });
                }
            }
            Urc::MemoryFull => {
                tracing::warn!(modem = %self.name(), "modem says its storage is full; sweeping now");
                self.sweep().await?;
            }
            Urc::Signal { rssi } => {
                let dbm = rssi_to_dbm(rssi);
                self.link.status.update(|s| {
                    s.signal_dbm = dbm;
                    s.signal = signal_word(dbm).into();
                });
            }
            Urc::Registration { stat } => {
                let stat = RegStatus::from_code(stat);
                self.link
                    .status
                    .update(|s| s.registration = Some(registration_word(stat).into()));
            }
            Urc::Ussd { status, text, dcs } => {
                // Issue 4 will decode packed GSM-7 / UCS-2 answers with the PDU codec; plain text
                // (what modems give in the "GSM" character set) is kept as it is.
                tracing::info!(modem = %self.name(), status, ?text, ?dcs, "USSD answer");
                if let Some(t) = text.filter(|_| status == 0 || status == 1) {
                    self.link.status.update(|s| s.balance = Some(t));
                }
            }
            Urc::Boot | Urc::Ready(_) => return Ok(true),
            Urc::SimState(s) if !s.eq_ignore_ascii_case("READY") => return Ok(true),
            other => tracing::debug!(modem = %self.name(), urc = ?other, "URC noted"),
        }
        Ok(false)
    }

    /// Sends what the store has queued for this modem, paced by `send_gap`.
    async fn send_due(&mut self) -> Result<(), SessionEnd> {
        let due = match self
            .link
            .store
            .due_outgoing(&self.link.cfg.name, self.link.opts.send_batch)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(modem = %self.name(), error = %e, "cannot read the outgoing queue");
                return Ok(());
            }
        };
        for out in due {
            let reference = self.link.next_concat_reference();
            let opts = SubmitOptions {
                concat_reference: reference,
                ..self.link.opts.submit.clone()
            };
            let parts = match encode_submit(&out.recipient, &out.text, &opts) {
                Ok(p) => p,
                Err(e) => {
                    self.send_failed(out.id, format!("cannot encode the SMS: {e}"))
                        .await;
                    continue;
                }
            };
            let mut references = Vec::with_capacity(parts.len());
            let mut failure = None;
            for part in parts {
                sleep(self.link.cfg.send_gap).await;
                match self
                    .cmd(&Cmgs {
                        tpdu_len: part.tpdu_len,
                        pdu: part.hex,
                    })
                    .await
                {
                    Ok(mr) => references.push(mr),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            match failure {
                None => {
                    if let Err(e) = self.link.store.mark_sent(out.id, references).await {
                        tracing::error!(modem = %self.name(), id = out.id, error = %e, "sent, but the store could not record it");
                    }
                    tracing::info!(modem = %self.name(), id = out.id, to = %crate::logging::mask_number(Some(&out.recipient)), "SMS out: reply sent");
                    self.link.status.update(|s| {
                        s.sent += 1;
                        s.last_sent_at = Some(OffsetDateTime::now_utc());
                    });
                }
                Some(e) => {
                    let link_fault = e.is_link_fault();
                    self.send_failed(out.id, e.to_string()).await;
                    if link_fault {
                        return Err(e.into());
                    }
                }
            }
        }
        Ok(())
    }

    async fn send_failed(&mut self, id: i64, error: String) {
        tracing::warn!(modem = %self.name(), id, %error, "SMS not sent; the store schedules a retry");
        self.link.status.update(|s| s.send_failures += 1);
        if let Err(e) = self.link.store.mark_send_failed(id, error).await {
            tracing::error!(modem = %self.name(), id, error = %e, "cannot record the send failure");
        }
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

fn registration_word(stat: RegStatus) -> &'static str {
    match stat {
        RegStatus::Home => "home",
        RegStatus::Roaming => "roaming",
        RegStatus::Searching => "searching",
        RegStatus::Denied => "denied",
        RegStatus::NotSearching => "not searching",
        RegStatus::Unknown | RegStatus::Other(_) => "unknown",
    }
}
