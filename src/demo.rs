//! `kufatilia-gateway demo`: the whole path with no hardware and no network beyond 127.0.0.1.
//!
//! It starts the reference platform receiver on a free loopback port, a simulated modem on a
//! real pseudo-terminal, and the gateway itself (the same `Daemon` that `run` starts) with a
//! config written for them; then it texts a handful of realistic reports to the modem and
//! prints what became of each one.

use std::net::SocketAddr;
use std::path::Path;
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
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            timeout: Duration::from_secs(60),
            gap: Duration::from_millis(300),
        }
    }
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
    let expected = DEMO_MESSAGES.len();
    if outcome.platform_incidents != expected {
        anyhow::bail!(
            "the platform got {} of {expected} reports",
            outcome.platform_incidents
        );
    }
    Ok(())
}

/// Runs the demo; prints only when `print` is set.
pub async fn run_quiet(options: DemoOptions, print: bool) -> anyhow::Result<DemoOutcome> {
    let dir = tempfile::Builder::new()
        .prefix("kufatilia-demo-")
        .tempdir()
        .context("cannot create a temporary directory for the demo")?;
    let (stub, sim) = start_platform_and_modem(dir.path()).await?;
    let config = demo_config(dir.path(), &sim.device_path(), &stub.url())?;
    let keywords = Keywords::builtin()?;
    if print {
        println!("Kufatilia Gateway demo");
        println!("  simulated modem on  {}", sim.device_path().display());
        println!("  platform receiver   {}", stub.url());
        println!("  store               {}", config.database.display());
        println!();
    }
    let daemon = Daemon::start(config, keywords).await?;

    for (from, text) in DEMO_MESSAGES {
        sim.inject(from, text);
        tokio::time::sleep(options.gap).await;
    }
    let answerable = DEMO_MESSAGES
        .iter()
        .filter(|(from, _)| from.starts_with('+'))
        .count();
    let deadline = Instant::now() + options.timeout;
    while (stub.incidents().len() < DEMO_MESSAGES.len() || sim.sent().len() < answerable)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = Seen {
        incidents: daemon.store.incident_summaries(0, 1000).await?,
        sent: sim.sent(),
        platform: stub.incidents(),
        batches: stub.batches_received(),
        sim_left: sim.sim_used(),
    };
    // Last phase: the platform goes away, and an urgent report cannot reach it.
    stub.shutdown().await;
    let (from, text) = DEMO_URGENT;
    sim.inject(from, text);
    let deadline = Instant::now() + options.timeout;
    let escalations = loop {
        let to_focal_point: Vec<SentSms> = sim
            .sent()
            .into_iter()
            .filter(|s| s.to == DEMO_FOCAL_POINT)
            .collect();
        if !to_focal_point.is_empty() || Instant::now() >= deadline {
            break to_focal_point;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    daemon.stop().await;
    if print {
        seen.print();
        print_escalation(&escalations);
    }
    Ok(DemoOutcome {
        replies_on_the_line: seen.sent.len(),
        platform_incidents: seen.platform.len(),
        sim_left: seen.sim_left,
        incidents: seen.incidents,
        escalations,
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

/// The reference platform on a free loopback port and the simulated modem, with the secrets
/// the demo's config names written in `dir`.
async fn start_platform_and_modem(dir: &Path) -> anyhow::Result<(PlatformStub, SimModem)> {
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
    let sim = SimModem::start(SimConfig {
        own_number: "+243990001234".into(),
        ..SimConfig::default()
    })
    .await
    .context("cannot start the simulated modem")?;
    Ok((stub, sim))
}

/// What the store, the modem's line and the platform had at the end of the run.
struct Seen {
    incidents: Vec<IncidentSummary>,
    sent: Vec<SentSms>,
    platform: Vec<IncidentRecord>,
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
                None => println!("    no reply: operator or service sender, never answered"),
            }
            match self.platform.iter().find(|p| p.reference == inc.reference) {
                Some(p) => println!(
                    "    platform: received in batch {}, reporter shown as {}",
                    inc.batch_id.as_deref().unwrap_or("?"),
                    p.reporter
                ),
                None => println!("    platform: not delivered yet"),
            }
        }
        println!();
        println!(
            "Summary: {} SMS received, {} incidents stored, {} replies sent, {} delivered to the platform in {} batch(es), {} message(s) left on the SIM.",
            DEMO_MESSAGES.len(),
            self.incidents.len(),
            self.sent.len(),
            self.platform.len(),
            self.batches,
            self.sim_left
        );
    }
}

fn demo_config(dir: &Path, device: &Path, platform_url: &str) -> anyhow::Result<Config> {
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
token_file = "platform.token"
hmac_secret_file = "platform.secret"
flush_after = "500ms"
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
    Ok(Config::parse(&text, Path::new("demo config"), dir)?)
}

fn one_line(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 90 {
        format!("{}…", flat.chars().take(89).collect::<String>())
    } else {
        flat
    }
}
