//! `kufatilia-gateway demo`: the whole path with no hardware and no network beyond 127.0.0.1.
//!
//! It starts the reference platform receiver on a free loopback port, a simulated modem on a
//! real pseudo-terminal, and the gateway itself (the same `Daemon` that `run` starts) with a
//! config written for them; then it texts a handful of realistic reports to the modem and
//! prints what became of each one. With `--platform-url` (and the platform's token and secret
//! files) the reports go to that receiver instead: a platform developer's own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::daemon::Daemon;
use config::Config;
use config::secrets;
use intake::Keywords;
use modem_sim::{SentSms, SimConfig, SimModem};
use platform_api::IncidentRecord;
use platform_stub::{PlatformStub, StubConfig};
use store::IncidentSummary;

/// What the demo sends; each pair is (sender, text).
pub const DEMO_MESSAGES: &[(&str, &str)] = &[
    (
        "+243812345601",
        "AJALI mgodi wa Kalimbi, watu wawili wamejeruhiwa",
    ),
    (
        "+243823456702",
        "Barrière à Nyabibwe : les militaires demandent 5000 FC par sac",
    ),
    (
        "+243974567803",
        "Armed men at the Bisie mine since this morning, they take the cassiterite",
    ),
    (
        "+243812345604",
        "Watoto wadogo wanachimba kwenye shimo la Lemera kila siku, hata wakati wa shule. \
         Msimamizi anasema hawana kazi nyingine na wazazi wanalipwa kidogo sana. \
         Tafadhali tusaidieni kabla ajali haijatokea.",
    ),
    (
        "+243995678905",
        "Bonjour, il y a un problème avec le chef de site depuis hier",
    ),
    (
        "Vodacom",
        "Vodacom: Bonus 500MB pour 1000 FC seulement! Tapez *123# avant minuit.",
    ),
];

/// The last phase's report, sent once the demo's platform is stopped: it waits, and the focal
/// point is texted. From a sender of [`DEMO_MESSAGES`], so the privacy test scans for it.
pub const DEMO_URGENT: (&str, &str) = (
    "+243974567803",
    "SILAHA wanamgambo wamerudi mgodi wa Bisie usiku huu",
);
/// The demo's focal point (a partner's staff member, not a reporter).
const DEMO_FOCAL_POINT: &str = "+243990000001";
/// The demo's `escalation.offline_after`: short, for the demo only (the default is 30 min).
const DEMO_OFFLINE_AFTER: &str = "3s";

/// Demo settings (the tests shorten the waits).
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Longest wait for the whole run.
    pub timeout: Duration,
    /// Pause between two injected messages, so the log reads like real traffic.
    pub gap: Duration,
    /// A receiver of the platform developer's own, instead of the built-in one.
    pub platform: Option<OwnPlatform>,
}

/// A platform receiver the demo forwards to instead of starting the reference one.
#[derive(Debug, Clone)]
pub struct OwnPlatform {
    /// Its base URL, as `platform.url` in gateway.toml (https://, or http:// on this machine).
    pub url: String,
    /// The bearer token it expects, in a file.
    pub token_file: Option<PathBuf>,
    /// The HMAC secret it checks signatures with, in a file.
    pub secret_file: Option<PathBuf>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            timeout: Duration::from_secs(60),
            gap: Duration::from_millis(300),
            platform: None,
        }
    }
}

/// Whether a demo message is an operator's (a service message: no incident, no reply).
fn is_operator(from: &str) -> bool {
    !from.starts_with('+')
}

/// The demo's messages that are reports (all but the operator's).
pub fn demo_reports() -> usize {
    DEMO_MESSAGES
        .iter()
        .filter(|(f, _)| !is_operator(f))
        .count()
}

/// What the demo saw, for its caller (and the test that runs it).
#[derive(Debug)]
pub struct DemoOutcome {
    pub incidents: Vec<IncidentSummary>,
    pub replies_on_the_line: usize,
    pub platform_incidents: usize,
    pub sim_left: usize,
    /// The SMS the focal point got while the platform was stopped (the last phase).
    pub escalations: Vec<SentSms>,
}

/// Runs the demo and prints its account to stdout.
pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let outcome = run_quiet(options, true).await?;
    let expected = demo_reports();
    if outcome.platform_incidents != expected {
        anyhow::bail!(
            "the platform got {} of {expected} reports",
            outcome.platform_incidents
        );
    }
    Ok(())
}

/// Where the demo's reports go: the reference receiver it started, or the developer's own.
enum Platform {
    Stub(PlatformStub),
    Own(String),
}

impl Platform {
    fn url(&self) -> String {
        match self {
            Platform::Stub(stub) => stub.url(),
            Platform::Own(url) => url.clone(),
        }
    }
}

/// Runs the demo; prints only when `print` is set.
pub async fn run_quiet(options: DemoOptions, print: bool) -> anyhow::Result<DemoOutcome> {
    let dir = tempfile::Builder::new()
        .prefix("kufatilia-demo-")
        .tempdir()
        .context("cannot create a temporary directory for the demo")?;
    let (platform, sim) = start_platform_and_modem(dir.path(), options.platform.as_ref()).await?;
    let config = demo_config(
        dir.path(),
        &sim.device_path(),
        &platform.url(),
        options.platform.as_ref(),
    )?;
    let keywords = Keywords::builtin()?;
    if print {
        println!("Kufatilia Gateway demo");
        println!("  simulated modem on  {}", sim.device_path().display());
        match &platform {
            Platform::Stub(_) => println!("  platform receiver   {}", platform.url()),
            Platform::Own(url) => println!("  platform receiver   {url} (yours)"),
        }
        println!("  store               {}", config.database.display());
        println!();
    }
    let daemon = Daemon::start(config, keywords).await?;

    for (from, text) in DEMO_MESSAGES {
        sim.inject(from, text);
        tokio::time::sleep(options.gap).await;
    }
    let answerable = demo_reports();
    let deadline = Instant::now() + options.timeout;
    loop {
        let delivered = match &platform {
            Platform::Stub(stub) => stub.incidents().len(),
            Platform::Own(_) => delivered_count(&daemon).await?,
        };
        let handled = daemon.store.queue_depths().await?.unhandled_messages == 0;
        if (delivered >= answerable && sim.sent().len() >= answerable && handled)
            || Instant::now() >= deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let incidents = daemon.store.incident_summaries(0, 1000).await?;
    let seen = match &platform {
        Platform::Stub(stub) => Seen {
            sent: sim.sent(),
            platform: Some(stub.incidents()),
            delivered: stub.incidents().len(),
            batches: stub.batches_received(),
            sim_left: sim.sim_used(),
            incidents,
        },
        Platform::Own(_) => {
            let delivered = incidents.iter().filter(|i| i.delivered).count();
            let batches = incidents
                .iter()
                .filter(|i| i.delivered)
                .filter_map(|i| i.batch_id.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            Seen {
                sent: sim.sent(),
                platform: None,
                delivered,
                batches,
                sim_left: sim.sim_used(),
                incidents,
            }
        }
    };
    // Last phase, on the demo's own receiver only: the platform goes away, and an urgent
    // report cannot reach it.
    let escalations = match platform {
        Platform::Stub(stub) => {
            stub.shutdown().await;
            let (from, text) = DEMO_URGENT;
            sim.inject(from, text);
            let deadline = Instant::now() + options.timeout;
            loop {
                let to_focal_point: Vec<SentSms> = sim
                    .sent()
                    .into_iter()
                    .filter(|s| s.to == DEMO_FOCAL_POINT)
                    .collect();
                if !to_focal_point.is_empty() || Instant::now() >= deadline {
                    break Some(to_focal_point);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Platform::Own(_) => None,
    };
    daemon.stop().await;
    if print {
        seen.print();
        if let Some(escalations) = &escalations {
            print_escalation(escalations);
        }
    }
    Ok(DemoOutcome {
        replies_on_the_line: seen.sent.len(),
        platform_incidents: seen.delivered,
        sim_left: seen.sim_left,
        incidents: seen.incidents,
        escalations: escalations.unwrap_or_default(),
    })
}

/// The last phase's account.
fn print_escalation(escalations: &[SentSms]) {
    let (from, text) = DEMO_URGENT;
    println!();
    println!("The platform receiver is stopped (an internet cut):");
    println!(
        "[{}] SMS from {}: \"{}\"",
        DEMO_MESSAGES.len() + 1,
        pdu::mask_number(Some(from)),
        one_line(text)
    );
    match escalations.first() {
        Some(s) => println!(
            "    ESCALATION after {DEMO_OFFLINE_AFTER} without the platform (30min on a real box): SMS to focal point {} (demo-partner): \"{}\"",
            pdu::mask_number(Some(&s.to)),
            s.text
        ),
        None => println!("    no escalation SMS yet"),
    }
}

/// Incidents the platform answered 2xx for.
async fn delivered_count(daemon: &Daemon) -> anyhow::Result<usize> {
    Ok(daemon
        .store
        .incident_summaries(0, 1000)
        .await?
        .iter()
        .filter(|i| i.delivered)
        .count())
}

/// The reference platform on a free loopback port (unless the developer brought their own) and
/// the simulated modem, with the secrets the demo's config names written in `dir`.
async fn start_platform_and_modem(
    dir: &Path,
    own: Option<&OwnPlatform>,
) -> anyhow::Result<(Platform, SimModem)> {
    let platform = match own {
        Some(own) => Platform::Own(own.url.clone()),
        None => {
            let token = "demo-token";
            let secret = "demo-hmac-secret";
            secrets::write_secret(&dir.join("platform.token"), token.as_bytes())?;
            secrets::write_secret(&dir.join("platform.secret"), secret.as_bytes())?;
            let stub = PlatformStub::start(
                SocketAddr::from(([127, 0, 0, 1], 0)),
                StubConfig::single(dir.join("platform.db"), token, Some(secret.as_bytes())),
            )
            .await
            .context("cannot start the local platform receiver")?;
            Platform::Stub(stub)
        }
    };
    let sim = SimModem::start(SimConfig {
        own_number: "+243990001234".into(),
        ..SimConfig::default()
    })
    .await
    .context("cannot start the simulated modem")?;
    Ok((platform, sim))
}

/// What the store, the modem's line and the platform had at the end of the run.
struct Seen {
    incidents: Vec<IncidentSummary>,
    sent: Vec<SentSms>,
    /// What the reference receiver stored; `None` for the developer's own receiver.
    platform: Option<Vec<IncidentRecord>>,
    delivered: usize,
    batches: usize,
    sim_left: usize,
}

impl Seen {
    /// What became of each message, then the totals.
    fn print(&self) {
        for (n, (from, text)) in DEMO_MESSAGES.iter().enumerate() {
            // Masked as in the gateway's log: the demo shows what a technician would see.
            println!(
                "[{}] SMS from {}: \"{}\"",
                n + 1,
                pdu::mask_number(Some(from)),
                one_line(text)
            );
            if is_operator(from) {
                println!(
                    "    service message from an operator: kept on the box, no incident, no reply"
                );
                continue;
            }
            let Some(inc) = self
                .incidents
                .iter()
                .find(|i| i.sender.as_deref() == Some(*from))
            else {
                println!("    not processed yet");
                continue;
            };
            println!(
                "    type: {} ({}), reference {}",
                inc.incident_type,
                inc.language.as_deref().unwrap_or("?"),
                inc.reference
            );
            match self.sent.iter().find(|s| s.to == *from) {
                Some(s) => println!("    reply sent: \"{}\"", s.text),
                None => println!("    no reply yet"),
            }
            let batch = inc.batch_id.as_deref().unwrap_or("?");
            match &self.platform {
                Some(platform) => match platform.iter().find(|p| p.reference == inc.reference) {
                    Some(p) => println!(
                        "    platform: received in batch {batch}, reporter shown as {}",
                        p.reporter
                    ),
                    None => println!("    platform: not delivered yet"),
                },
                None if inc.delivered => {
                    println!("    platform: your receiver accepted batch {batch}")
                }
                None => println!(
                    "    platform: not accepted yet (see the log above for your receiver's answer)"
                ),
            }
        }
        println!();
        println!(
            "Summary: {} SMS received, {} incidents stored, {} replies sent, {} delivered to the platform in {} batch(es), {} message(s) left on the SIM.",
            DEMO_MESSAGES.len(),
            self.incidents.len(),
            self.sent.len(),
            self.delivered,
            self.batches,
            self.sim_left
        );
    }
}

fn demo_config(
    dir: &Path,
    device: &Path,
    platform_url: &str,
    own: Option<&OwnPlatform>,
) -> anyhow::Result<Config> {
    // The developer's files are named as given (absolute, so the demo's directory does not
    // change them); the reference receiver's are the ones written in `dir`.
    let file_key = |key: &str, file: Option<&Path>| match file {
        Some(f) => {
            let f = std::path::absolute(f).unwrap_or_else(|_| f.to_path_buf());
            format!("{key} = {}\n", toml::Value::String(f.display().to_string()))
        }
        None => String::new(),
    };
    let files = match own {
        Some(own) => format!(
            "{}{}",
            file_key("token_file", own.token_file.as_deref()),
            file_key("hmac_secret_file", own.secret_file.as_deref())
        ),
        None => "token_file = \"platform.token\"\nhmac_secret_file = \"platform.secret\"\n".into(),
    };
    let text = format!(
        r#"
gateway_id = "demo"
reference_prefix = "K7"
database = "gateway.db"

[[modem]]
name = "vodacom"
device = {device:?}
baud = 115200
operator = "Vodacom"
own_number = "+243990001234"
sweep_interval = "10s"
send_gap = "50ms"

[platform]
url = {platform_url:?}
{files}flush_after = "500ms"
retry_max = "2s"

[privacy]
pseudonym_secret_file = "pseudonym.key"

[escalation]
offline_after = "{DEMO_OFFLINE_AFTER}"

[[escalation.focal_point]]
partner = "demo-partner"
number = "{DEMO_FOCAL_POINT}"
language = "sw"
"#
    );
    Ok(Config::parse(
        &text,
        Path::new("the demo's config (from --platform-url, --token-file, --secret-file)"),
        dir,
    )?)
}

fn one_line(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 90 {
        format!("{}…", flat.chars().take(89).collect::<String>())
    } else {
        flat
    }
}
