//! The daemon: opens the store, starts one task per stage (a link per modem, processing,
//! forwarding), talks to systemd (READY, STATUS, WATCHDOG), and stops them all on SIGTERM.
//!
//! The stages only meet in the store, so any of them can stop or crash and the others go on;
//! a stage that returns an error is restarted after a pause instead of taking the box down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::escalate::Escalator;
use crate::forward::{Forwarder, ReporterId};
use crate::heartbeat::HeartbeatSender;
use crate::modem::{LinkState, ModemLink, ModemOptions, ModemStatus, StatusHandle};
use crate::outbound::OutboundPuller;
use crate::pipeline::Pipeline;
use crate::platform::{PlatformClient, PlatformClientConfig, PlatformError};
use config::Config;
use config::secrets;
use intake::Keywords;
use store::{QueueDepths, Store};

/// Pause before a stage that stopped with an error is started again.
const RESTART_PAUSE: Duration = Duration::from_secs(5);
/// Longest wait for a modem before telling systemd the service is ready.
const READY_WAIT: Duration = Duration::from_secs(30);
/// How often the STATUS= line and the watchdog are refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(10);
/// An unchanged modem status is saved again after this; `status` calls one older than a minute
/// a sign the gateway is not running.
const STATUS_RESAVE: Duration = Duration::from_secs(50);
/// A link silent this long while it should be working is taken as stuck (health checks come
/// every minute, retries at least every minute).
const LINK_SILENCE: Duration = Duration::from_secs(5 * 60);

/// A running gateway.
pub struct Daemon {
    pub store: Store,
    /// One status per configured modem, in config order (for `status`, STATUS= and the heartbeat).
    pub modems: Vec<StatusHandle>,
    /// The platform client every stage shares (its clock offset with it).
    pub client: Arc<PlatformClient>,
    stages: Stages,
    /// Held while this daemon runs, so `send` can tell (`crate::running`).
    _running: crate::running::RunLock,
}

impl Daemon {
    /// Opens the store and starts every stage.
    pub async fn start(config: Config, keywords: Keywords) -> anyhow::Result<Daemon> {
        // The same checks as `check-config` and `doctor`: a config `run` would refuse never
        // passes them (and systemd does not restart on exit 78).
        let report = check(&config, &keywords);
        if !report.errors.is_empty() {
            return Err(ConfigProblem(report.errors.join("\n")).into());
        }
        let client = Arc::new(platform_client(&config).map_err(ConfigProblem)?);
        if config.platform.hmac_secret_file.is_none() && !config.platform.is_local() {
            warn_unsigned(&config);
        }
        let store = open_store(&config)?;
        let running = crate::running::hold(&config.database);
        let started = Instant::now();
        let reporter = reporter_id(&config, &store).await?;
        let keywords = Arc::new(keywords);
        let mut stages = Stages::new();

        let pipeline = Pipeline::new(&config, keywords.clone(), store.clone());
        stages.spawn("processing", move |s| {
            let p = pipeline.clone();
            async move { p.run(s).await }
        });
        if let Some(escalator) = Escalator::new(
            &config,
            store.clone(),
            client.clone(),
            keywords.clone(),
            reporter.clone(),
        ) {
            let escalator = Arc::new(escalator);
            stages.spawn("escalation", move |s| {
                let e = escalator.clone();
                async move { e.run(s).await }
            });
        }
        let forwarder = Arc::new(Forwarder::new(
            &config,
            store.clone(),
            client.clone(),
            reporter,
        ));
        stages.spawn("forwarding", move |s| {
            let f = forwarder.clone();
            async move { f.run(s).await }
        });

        let modems = start_modem_links(&config, &store, &mut stages);
        let saver_store = store.clone();
        let saver_modems = modems.clone();
        stages.spawn("status", move |s| {
            save_statuses(saver_store.clone(), saver_modems.clone(), s)
        });

        start_platform_reporting(&config, &store, &client, &modems, started, &mut stages);
        let retention_days = config.privacy.retention_days;
        if retention_days > 0 {
            let st = store.clone();
            stages.spawn("retention", move |s| {
                let st = st.clone();
                async move { Ok(st.run_retention(retention_days, s).await?) }
            });
        }
        Ok(Daemon {
            store,
            modems,
            client,
            stages,
            _running: running,
        })
    }

    /// Asks every stage to stop and waits for them.
    pub async fn stop(mut self) {
        self.stages.shutdown.cancel();
        while self.stages.tasks.join_next().await.is_some() {}
    }
}

/// Opens the store, creating its directory on a fresh box.
fn open_store(config: &Config) -> anyhow::Result<Store> {
    if let Some(dir) = config.database.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    }
    Store::open(&config.database)
        .with_context(|| format!("cannot open the store {}", config.database.display()))
}

/// A problem in the configuration or the files it names, found at start (exit 78).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigProblem(String);

/// How reporters are named to the platform: their number, or a pseudonym keyed with the box's
/// secret (created on the first start: before the store holds any report or reporter).
async fn reporter_id(config: &Config, store: &Store) -> anyhow::Result<ReporterId> {
    if config.privacy.share_phone_numbers {
        return Ok(ReporterId::PhoneNumber);
    }
    let key_path = pseudonym_key_path(config);
    let first_start = !store.knows_reporters().await?;
    match secrets::read_or_create_key(&key_path, first_start) {
        Ok(key) => Ok(ReporterId::Pseudonym(Arc::new(key))),
        Err(e @ secrets::SecretFileError::KeyMissing { .. }) => {
            Err(ConfigProblem(e.to_string()).into())
        }
        Err(e) => Err(e.into()),
    }
}

fn pseudonym_key_path(config: &Config) -> std::path::PathBuf {
    config
        .privacy
        .pseudonym_secret_file
        .clone()
        .unwrap_or_else(|| config.database.with_file_name("pseudonym.key"))
}

/// The pseudonym key is gone while the store already knows reporters: `run` would stop (their
/// pseudonyms would change), so the check says it first.
fn check_pseudonym_key(config: &Config) -> Option<String> {
    if config.privacy.share_phone_numbers {
        return None;
    }
    let path = pseudonym_key_path(config);
    if path.exists() || !config.database.exists() {
        return None;
    }
    let known = store::StoreReader::open(&config.database)
        .and_then(|r| r.knows_reporters())
        .unwrap_or(false);
    known.then(|| secrets::SecretFileError::KeyMissing { path }.to_string())
}

/// Starts one link per configured modem, each covering for the modems whose fallback it is;
/// returns their statuses in config order.
fn start_modem_links(config: &Config, store: &Store, stages: &mut Stages) -> Vec<StatusHandle> {
    let options = ModemOptions::with_sms_config(&config.sms);
    let mut links: Vec<ModemLink> = config
        .modems
        .iter()
        .map(|m| ModemLink::new(m.clone(), store.clone(), options.clone()))
        .collect();
    // A modem's fallback sends its replies while it is down (config validation made sure
    // the name is another modem's).
    for (i, modem) in config.modems.iter().enumerate() {
        if let Some(fallback) = &modem.fallback
            && let Some(j) = config.modems.iter().position(|m| &m.name == fallback)
        {
            let (status, lock) = (links[i].status(), links[i].send_lock());
            links[j].cover_for(&modem.name, status, lock, modem.fallback_after);
        }
    }
    let mut modems = Vec::new();
    for link in links {
        modems.push(link.status());
        let name = format!("modem {}", link.name());
        // The link is kept across a restart of its task, so its status handle stays valid.
        let link = Arc::new(tokio::sync::Mutex::new(link));
        stages.spawn(&name, move |s| {
            let link = link.clone();
            async move { link.lock().await.run(s).await }
        });
    }
    modems
}

/// Starts the stages that talk to the platform beside the forwarding: the heartbeat and the
/// outbound messages.
fn start_platform_reporting(
    config: &Config,
    store: &Store,
    client: &Arc<PlatformClient>,
    modems: &[StatusHandle],
    started: Instant,
    stages: &mut Stages,
) {
    let heartbeat = Arc::new(HeartbeatSender::new(
        store.clone(),
        client.clone(),
        modems.to_vec(),
        config.gateway_id.clone(),
        config.platform.heartbeat_interval,
        started,
        config.intake.alarm_reports_per_hour,
    ));
    stages.spawn("heartbeat", move |s| {
        let h = heartbeat.clone();
        async move { h.run(s).await }
    });
    let outbound = Arc::new(OutboundPuller::new(store.clone(), client.clone(), config));
    stages.spawn("outbound", move |s| {
        let o = outbound.clone();
        async move { o.run(s).await }
    });
}

/// Saves the modem links' status to the store now and then, for `status` from another process.
async fn save_statuses(
    store: Store,
    modems: Vec<StatusHandle>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(STATUS_EVERY);
    let mut last: Option<(Vec<(String, serde_json::Value)>, Instant)> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let statuses: Vec<(String, serde_json::Value)> = modems
            .iter()
            .map(|m| {
                let s = m.snapshot();
                (s.name.clone(), serde_json::to_value(&s).unwrap_or_default())
            })
            .collect();
        // An unchanged status is saved again only often enough for `status` to tell a running
        // gateway from a stopped one: every write is an fsync on the SD card.
        if let Some((saved, at)) = &last
            && *saved == statuses
            && at.elapsed() < STATUS_RESAVE
        {
            continue;
        }
        store.save_modem_statuses(statuses.clone()).await?;
        last = Some((statuses, Instant::now()));
    }
}

/// The running stages, and the token that stops them all.
struct Stages {
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

impl Stages {
    fn new() -> Stages {
        Stages {
            tasks: JoinSet::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// Runs a stage until shutdown, restarting it after an error or a panic.
    fn spawn<F, Fut>(&mut self, name: &str, make: F)
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let name = name.to_string();
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            loop {
                // A panic inside a stage is a bug; it must not take the other stages down.
                let run = tokio::spawn(make(shutdown.clone()));
                match run.await {
                    Ok(Ok(())) if shutdown.is_cancelled() => return,
                    Ok(Ok(())) => tracing::warn!(stage = %name, "stage stopped; restarting"),
                    Ok(Err(e)) => tracing::error!(stage = %name, error = %format!("{e:#}"), "stage failed; restarting in 5 s"),
                    Err(e) => tracing::error!(stage = %name, error = %e, "stage crashed; restarting in 5 s"),
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(RESTART_PAUSE) => {}
                }
            }
        });
    }
}

/// The platform client the daemon uses, built from the config and the files it names; the
/// error names the key to fix. `check-config`, `run` and `doctor` all build it this way.
pub(crate) fn platform_client(config: &Config) -> Result<PlatformClient, String> {
    let cfg = platform_client_config(config)?;
    PlatformClient::new(&cfg).map_err(|e| {
        let key = match e {
            PlatformError::EmptyToken | PlatformError::BadToken => "platform.token_file",
            PlatformError::EmptySecret => "platform.hmac_secret_file",
            PlatformError::CaFileRead { .. } | PlatformError::CaFileInvalid { .. } => {
                "platform.extra_ca_file"
            }
            PlatformError::BadUrl { .. }
            | PlatformError::PlainHttpNotLoopback { .. }
            | PlatformError::UnsupportedScheme { .. } => "platform.url",
            PlatformError::Http(_) => "platform",
        };
        format!("`{key}`: {e}")
    })
}

/// Unsigned requests to another machine were asked for (`allow_unsigned`): said at every start.
fn warn_unsigned(config: &Config) {
    tracing::warn!(url = %config.platform.url,
        "requests to the platform are NOT signed (no `platform.hmac_secret_file`): anyone who learns the token can send reports in this gateway's name");
}

fn platform_client_config(config: &Config) -> Result<PlatformClientConfig, String> {
    let token = match &config.platform.token_file {
        Some(p) => secrets::read_token(p).map_err(|e| format!("`platform.token_file`: {e}"))?,
        None => {
            return Err(
                "`platform.token_file`: is missing: write the token the platform gave this box in a file (chmod 600) and name it here (e.g. \"/etc/kufatilia-gateway/platform.token\")".into(),
            );
        }
    };
    let hmac_secret = match &config.platform.hmac_secret_file {
        Some(p) => {
            Some(secrets::read_secret(p).map_err(|e| format!("`platform.hmac_secret_file`: {e}"))?)
        }
        None => None,
    };
    Ok(PlatformClientConfig {
        url: config.platform.url.clone(),
        token,
        hmac_secret,
        gateway_id: config.gateway_id.clone(),
        key_id: config.platform.key_id.clone(),
        timeout: config.platform.timeout,
        low_speed_time: config.platform.low_speed_time,
        extra_ca_file: config.platform.extra_ca_file.clone(),
    })
}

/// `kufatilia-gateway run`: the daemon until SIGTERM or Ctrl-C.
pub async fn run(config: Config, keywords: Keywords) -> anyhow::Result<()> {
    let started = Instant::now();
    let modems = config.modems.len();
    let daemon = Daemon::start(config, keywords).await?;
    // READY once the store is open and the first modem is initialised or given up on, so
    // `systemctl start` returns with a box that is really receiving (or says why not).
    if !daemon.modems.is_empty() {
        let mut waits = tokio::task::JoinSet::new();
        for m in &daemon.modems {
            let mut m = m.clone();
            waits.spawn(async move {
                m.wait_for(|s| !matches!(s.state, LinkState::Opening | LinkState::Initialising))
                    .await
            });
        }
        let _ = tokio::time::timeout(READY_WAIT, waits.join_next()).await;
    }
    give_back_start_up_memory();
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!(modems, "gateway started");
    let mut status = tokio::time::interval(STATUS_EVERY);
    let mut links = LinkWatch::new(daemon.modems.clone());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = status.tick() => {
                // The watchdog is fed only while the store answers and every modem link's loop
                // turns: a wedged store thread or link gets the service restarted by systemd.
                let links_alive = links.all_alive(Instant::now());
                if let Ok(d) = daemon.store.queue_depths().await {
                    let snapshots: Vec<_> = daemon.modems.iter().map(|m| m.snapshot()).collect();
                    let mut line = status_line(&snapshots, &d, started);
                    // Loud in `systemctl status` too: nothing reaches the platform until fixed.
                    if let Ok(Some(p)) = daemon.store.forwarding_pause().await {
                        let why = crate::platform::Diagnosis::of_refusal(p.status, &p.error);
                        line.push_str(&format!("; forwarding PAUSED: {}", why.problem()));
                    }
                    let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&line)]);
                    if links_alive {
                        let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
                    }
                }
            }
        }
    }
    tracing::info!("stopping");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    daemon.stop().await;
    Ok(())
}

/// Tells a modem link whose loop stopped turning from one that is only quiet: a working link
/// writes its status at least every health check (a minute), a recovering one at every retry.
struct LinkWatch {
    links: Vec<(StatusHandle, Instant)>,
    reported: Vec<bool>,
}

impl LinkWatch {
    fn new(handles: Vec<StatusHandle>) -> LinkWatch {
        let now = Instant::now();
        let reported = vec![false; handles.len()];
        LinkWatch {
            links: handles.into_iter().map(|h| (h, now)).collect(),
            reported,
        }
    }

    /// False when a link that should be working has been silent longer than [`LINK_SILENCE`].
    fn all_alive(&mut self, now: Instant) -> bool {
        let mut all = true;
        for ((handle, last), reported) in self.links.iter_mut().zip(&mut self.reported) {
            if handle.stirred_since_last_look() {
                *last = now;
            }
            let s = handle.snapshot();
            // A failed link waits for a technician on purpose (a restart would retry a refused
            // PIN): it is not wedged.
            let waiting_on_purpose = matches!(s.state, LinkState::Failed | LinkState::Stopped);
            let silent = now.saturating_duration_since(*last);
            if waiting_on_purpose || silent < LINK_SILENCE {
                *reported = false;
                continue;
            }
            all = false;
            if !*reported {
                *reported = true;
                tracing::error!(modem = %s.name, silent_secs = silent.as_secs(), state = ?s.state,
                    "modem link stuck: no sign of life; the watchdog is no longer fed, systemd will restart the gateway");
            }
        }
        all
    }
}

/// The STATUS= line `systemctl status` shows.
fn status_line(snapshots: &[ModemStatus], d: &QueueDepths, started: Instant) -> String {
    let up = snapshots
        .iter()
        .filter(|s| s.state == LinkState::Ready)
        .count();
    let mut line = format!(
        "{up} of {} modem(s) up, {} report(s) waiting for the platform, {} SMS queued, up {} min",
        snapshots.len(),
        d.undelivered_incidents,
        d.queued_sms,
        started.elapsed().as_secs() / 60
    );
    let last = snapshots.iter().filter_map(|s| s.last_message_at).max();
    line.push_str(&last_report_note(last, time::OffsetDateTime::now_utc()));
    // What a technician must act on shows in `systemctl status` too.
    for s in snapshots {
        if s.low_balance {
            line.push_str(&format!("; {}: low balance", s.name));
        }
        if s.clock_warning.is_some() {
            line.push_str(&format!("; {}: clock disagrees with the network", s.name));
        }
        if s.sending_stopped.is_some() {
            line.push_str(&format!(
                "; {}: sending stopped, the database cannot be written",
                s.name
            ));
        }
    }
    if d.unconfirmed_sms > 0 {
        line.push_str(&format!(
            "; {} SMS unconfirmed (`kufatilia-gateway unconfirmed`)",
            d.unconfirmed_sms
        ));
    }
    if d.escalations_pending > 0 {
        line.push_str(&format!(
            "; {} urgent report(s) texted to focal points, not taken yet",
            d.escalations_pending
        ));
    }
    line
}

/// ", last report N min ago" for the status line; nothing when the clock went backwards (a Pi
/// without a real-time clock before its first time sync).
fn last_report_note(last: Option<time::OffsetDateTime>, now: time::OffsetDateTime) -> String {
    match last {
        None => ", no report yet".into(),
        Some(t) if t <= now => format!(", last report {} min ago", (now - t).whole_minutes()),
        Some(_) => String::new(),
    }
}

/// What `check-config` found beyond parsing.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub lines: Vec<String>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

/// Checks what a config implies: the platform client (URL, token, secret, CA file), PIN files,
/// devices, and the SMS cost of every reply template. `check-config`, `run` and `doctor` all
/// refuse a config on exactly these errors.
pub fn check(config: &Config, keywords: &Keywords) -> CheckReport {
    let mut r = CheckReport::default();
    if let Err(e) = platform_client(config) {
        r.errors.push(e);
    }
    r.errors.extend(check_pseudonym_key(config));
    if config.platform.hmac_secret_file.is_none() && !config.platform.is_local() {
        r.warnings.push(
            "requests to the platform are NOT signed (`platform.allow_unsigned = true`)".into(),
        );
    }
    for (i, m) in config.modems.iter().enumerate() {
        if let Some(p) = &m.pin_file
            && let Err(e) = secrets::read_pin(p)
        {
            r.errors.push(format!("`modem[{i}].pin_file`: {e}"));
        }
    }
    if config.modems.is_empty() {
        r.warnings
            .push("no [[modem]] configured: the gateway will receive nothing".into());
    }
    for (i, m) in config.modems.iter().enumerate() {
        if !m.device.exists() {
            r.warnings.push(format!(
                "`modem[{i}].device`: {} does not exist now (is the modem plugged in? see `ls /dev/serial/by-id/`)",
                m.device.display()
            ));
        }
    }
    r.lines
        .push("replies (worst case, with a 6-digit reference):".into());
    let (costs, errors) = crate::dialogue::check_templates(config, keywords);
    for c in &costs {
        r.lines.push(format!(
            "  {}: {} SMS ({}, {} characters)",
            c.name,
            c.cost.parts,
            c.cost.encoding.as_str(),
            c.characters
        ));
        if c.cost.parts > 1 && config.replies.allow_multipart {
            r.warnings.push(format!(
                "{} costs {} SMS per reply (allowed by replies.allow_multipart)",
                c.name, c.cost.parts
            ));
        }
    }
    r.errors.extend(errors);
    check_escalation(config, keywords, &mut r);
    r
}

/// `[escalation]` against the keyword table: every urgent type must be one of its types.
fn check_escalation(config: &Config, keywords: &Keywords, r: &mut CheckReport) {
    let e = &config.escalation;
    for (i, t) in e.urgent_types.iter().enumerate() {
        if !keywords.types.iter().any(|k| &k.id == t) {
            let known: Vec<&str> = keywords.types.iter().map(|k| k.id.as_str()).collect();
            r.errors.push(format!(
                "`escalation.urgent_types[{i}]`: {t:?} is no type of the keyword table; use one of {known:?}"
            ));
        }
    }
    if e.focal_points.is_empty() {
        return;
    }
    r.lines.push(format!(
        "escalation: {} focal point(s); urgent types {:?} texted after {} without the platform",
        e.focal_points.len(),
        e.urgent_types,
        format_args!("{:?}", e.offline_after)
    ));
    if !config.replies.enabled {
        r.warnings.push(
            "`escalation.focal_point`: replies.enabled = false stops the escalation SMS too".into(),
        );
    }
}

/// Returns to the system the heap the start-up freed (the built-in TLS roots as DER copies, the
/// parsed configuration, the migrations): malloc keeps freed memory for later, and a daemon
/// that then allocates little would carry it resident for ever (docs/benchmarks.md).
fn give_back_start_up_memory() {
    // SAFETY: malloc_trim only releases free memory of the malloc arenas; any thread may call it.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::{LINK_SILENCE, LinkWatch, last_report_note};
    use crate::modem::LinkState;
    use crate::modem::{ModemStatus, StatusWriter};
    use std::time::{Duration, Instant};
    use time::macros::datetime;

    #[test]
    fn the_watchdog_starves_only_for_a_link_silent_while_it_should_work() {
        let (writer, handle) =
            StatusWriter::new(ModemStatus::new("vodacom", "/dev/null".into(), None));
        let start = Instant::now();
        let mut watch = LinkWatch::new(vec![handle]);
        assert!(watch.all_alive(start));
        let later = start + LINK_SILENCE + Duration::from_secs(1);
        assert!(!watch.all_alive(later), "silent past the limit");
        // One health check later it is alive again.
        writer.alive();
        assert!(watch.all_alive(later));
        // A link stopped for a technician (wrong PIN) is quiet on purpose.
        writer.set_state(LinkState::Failed, Some("PIN refused".into()));
        assert!(watch.all_alive(later + LINK_SILENCE * 3));
    }

    #[test]
    fn the_status_line_says_how_old_the_last_report_is() {
        let now = datetime!(2026-11-28 10:00 UTC);
        assert_eq!(last_report_note(None, now), ", no report yet");
        assert_eq!(
            last_report_note(Some(datetime!(2026-11-28 09:57 UTC)), now),
            ", last report 3 min ago"
        );
        // The clock was set back (no RTC, then NTP): say nothing rather than a negative age.
        assert_eq!(
            last_report_note(Some(datetime!(2026-11-28 10:05 UTC)), now),
            ""
        );
    }
}
