//! A whole test gateway: a temporary directory with `gateway.toml`, the keyword file and the
//! secret files, the simulated modem on a real pty, and the reference platform receiver on
//! 127.0.0.1. The daemon runs in this process ([`Rig::daemon`]) or as the crate's binary
//! ([`Rig::spawn_binary`]).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use config::Config;
use config::secrets;
use intake::Keywords;
use kufatilia_gateway::daemon::Daemon;
use modem_sim::{SimConfig, SimModem};
use platform_api::IncidentRecord;
use platform_stub::{PlatformStub, StubConfig};
use store::{QueueDepths, StoreReader};

/// The bearer token the stub expects and the gateway presents.
pub const TOKEN: &str = "test-token";
/// The signing secret the stub expects (when the rig is signed).
pub const SECRET: &str = "test-secret";

/// What differs between test gateways; [`Options::default`] is one signed modem "vodacom".
#[derive(Debug, Clone)]
pub struct Options {
    pub gateway_id: String,
    /// Leave out for the built-in prefix.
    pub reference_prefix: Option<String>,
    /// The simulated modem; `sim_link` puts its device behind a link in the rig's directory
    /// (kept across unplug/replug, as `/dev/serial/by-id` is).
    pub sim: SimConfig,
    pub sim_link: bool,
    /// Lines of the `[[modem]]` table after its name and device.
    pub modem: String,
    /// Whether the stub checks signatures (and the gateway signs).
    pub signed: bool,
    /// What the gateway signs with; the stub always expects [`SECRET`].
    pub gateway_secret: String,
    /// Lines of the `[platform]` table after its url and secret files.
    pub platform: String,
    /// Tables after `[platform]` (`[replies]`, `[sms]`...).
    pub extra: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            gateway_id: "test-gw".into(),
            reference_prefix: Some("K7".into()),
            sim: SimConfig::default(),
            sim_link: false,
            modem: "operator = \"Vodacom\"\nsweep_interval = \"2s\"\nsend_gap = \"10ms\"".into(),
            signed: true,
            gateway_secret: SECRET.into(),
            platform: "flush_after = \"200ms\"\nbatch_max = 8\nretry_max = \"1s\"".into(),
            extra: String::new(),
        }
    }
}

impl Options {
    /// The default rig with these simulator slots.
    pub fn slots(slots: usize) -> Options {
        let mut o = Options::default();
        o.sim.slots = slots;
        o
    }
}

/// The text of `gateway.toml` for a modem at `device` and the platform at `url`.
pub fn config_text(o: &Options, device: &Path, url: &str) -> String {
    let mut text = format!(
        "gateway_id = {:?}\ndatabase = \"gateway.db\"\n",
        o.gateway_id
    );
    if let Some(p) = &o.reference_prefix {
        text.push_str(&format!("reference_prefix = {p:?}\n"));
    }
    text.push_str(&format!(
        "\n[[modem]]\nname = \"vodacom\"\ndevice = {device:?}\n{}\n",
        o.modem
    ));
    text.push_str(&format!(
        "\n[platform]\nurl = {url:?}\ntoken_file = \"token\"\n"
    ));
    if o.signed {
        text.push_str("hmac_secret_file = \"secret\"\n");
    }
    text.push_str(&format!("{}\n\n{}\n", o.platform, o.extra));
    text
}

/// A running rig: its files, the simulated modem and the platform stub (which a test may stop
/// and start again at the same address).
pub struct Rig {
    pub dir: tempfile::TempDir,
    stub: Option<PlatformStub>,
    pub addr: SocketAddr,
    signed: bool,
    pub sim: SimModem,
    /// The `gateway.toml` written for this rig.
    pub config_path: PathBuf,
}

impl Rig {
    /// Writes the secrets and keywords, starts the stub and the simulator, writes `gateway.toml`.
    pub async fn start(o: Options) -> Rig {
        let dir = tempfile::tempdir().expect("a temporary directory");
        secrets::write_secret(&dir.path().join("token"), TOKEN.as_bytes()).expect("token file");
        if o.signed {
            secrets::write_secret(&dir.path().join("secret"), o.gateway_secret.as_bytes())
                .expect("secret file");
        }
        std::fs::write(
            dir.path().join("keywords.toml"),
            include_str!("../../config/keywords.toml"),
        )
        .expect("keyword file");
        let stub = PlatformStub::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            stub_config(dir.path(), o.signed),
        )
        .await
        .expect("the platform stub starts");
        let addr = stub.addr();
        let mut sim_config = o.sim.clone();
        if o.sim_link {
            sim_config.link = Some(dir.path().join("modem-by-id"));
        }
        let sim = SimModem::start(sim_config)
            .await
            .expect("the simulated modem starts");
        let config_path = dir.path().join("gateway.toml");
        std::fs::write(
            &config_path,
            config_text(&o, &sim.device_path(), &stub.url()),
        )
        .expect("gateway.toml");
        Rig {
            dir,
            stub: Some(stub),
            addr,
            signed: o.signed,
            sim,
            config_path,
        }
    }

    pub fn stub(&self) -> &PlatformStub {
        self.stub.as_ref().expect("the stub is running")
    }

    /// The platform goes away: connections are refused.
    pub async fn stop_stub(&mut self) {
        if let Some(s) = self.stub.take() {
            s.shutdown().await;
        }
    }

    /// The platform comes back on the same address with the same database.
    pub async fn restart_stub(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match PlatformStub::start(self.addr, stub_config(self.dir.path(), self.signed)).await {
                Ok(s) => {
                    self.stub = Some(s);
                    return;
                }
                Err(e) if Instant::now() < deadline => {
                    eprintln!("stub restart: {e:#}; trying again");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot restart the stub: {e:#}"),
            }
        }
    }

    pub fn config(&self) -> Config {
        Config::load(&self.config_path).expect("the rig's gateway.toml loads")
    }

    /// Points the rig's gateway at `url` instead of its stub (a recording proxy in front of
    /// it, or another receiver).
    pub fn send_platform_requests_to(&self, url: &str) {
        let config = std::fs::read_to_string(&self.config_path).unwrap();
        std::fs::write(&self.config_path, config.replace(&self.stub().url(), url)).unwrap();
    }

    /// The daemon in this process, on the rig's config.
    pub async fn daemon(&self) -> Daemon {
        start_daemon(self.config()).await
    }

    /// The crate's binary (`run --config`), logging to a file in the rig's directory; not
    /// started yet.
    pub fn binary(&self) -> GatewayProcess {
        GatewayProcess {
            config: self.config_path.clone(),
            log: self.dir.path().join("gateway.log"),
            child: None,
            starts: 0,
        }
    }

    /// [`Rig::binary`], started.
    pub fn spawn_binary(&self) -> GatewayProcess {
        let mut gw = self.binary();
        gw.start();
        gw
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("gateway.db")
    }

    /// Queue depths read from the database beside the daemon (zero before it exists).
    pub fn depths(&self) -> QueueDepths {
        StoreReader::open(&self.db_path())
            .and_then(|r| r.queue_depths())
            .unwrap_or_default()
    }

    /// Stops the stub, if it runs.
    pub async fn shutdown(mut self) {
        self.stop_stub().await;
    }
}

fn stub_config(dir: &Path, signed: bool) -> StubConfig {
    StubConfig::single(
        dir.join("platform.db"),
        TOKEN,
        signed.then_some(SECRET.as_bytes()),
    )
}

/// The platform's incidents, after checking that it has `n` of them, each id once.
pub fn exactly_once(stub: &PlatformStub, n: usize) -> Vec<IncidentRecord> {
    let platform = stub.incidents();
    let ids: HashSet<_> = platform.iter().map(|p| p.id.clone()).collect();
    assert_eq!(
        ids.len(),
        platform.len(),
        "an incident id twice on the platform"
    );
    assert_eq!(platform.len(), n, "one incident per injected message");
    platform
}

/// The daemon in this process with the built-in keywords.
pub async fn start_daemon(config: Config) -> Daemon {
    Daemon::start(config, Keywords::builtin().expect("built-in keywords"))
        .await
        .expect("the daemon starts")
}

/// The gateway binary, started (and SIGKILLed) by the test.
pub struct GatewayProcess {
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    pub starts: usize,
}

impl GatewayProcess {
    pub fn start(&mut self) {
        self.start_with(|_| {});
    }

    /// Starts the binary with its command changed by `adjust` (an environment variable...).
    pub fn start_with(&mut self, adjust: impl FnOnce(&mut Command)) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("the gateway's log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kufatilia-gateway"));
        cmd.args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        adjust(&mut cmd);
        self.child = Some(cmd.spawn().expect("start the gateway binary"));
        self.starts += 1;
    }

    /// SIGKILL: no shutdown path runs, as when the power goes.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Everything the gateway logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines the gateway logged, for a failure message.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<_> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Polls `done` until it holds; fails the test at `deadline`, with the gateway's last words.
    pub async fn wait_until(&self, what: &str, deadline: Instant, mut done: impl FnMut() -> bool) {
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; gateway log tail:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A rig with the daemon running in this process; derefs to its [`Rig`].
pub struct Gateway {
    pub rig: Rig,
    daemon: Option<Daemon>,
}

impl Gateway {
    pub async fn start(o: Options) -> Gateway {
        Gateway::on(Rig::start(o).await).await
    }

    /// The daemon started on `rig`'s config as it is now (a test may have edited it).
    pub async fn on(rig: Rig) -> Gateway {
        let daemon = rig.daemon().await;
        Gateway {
            rig,
            daemon: Some(daemon),
        }
    }

    pub fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().expect("the daemon is running")
    }

    /// Stops the daemon and starts a new one on the same files and modem.
    pub async fn restart(&mut self) {
        if let Some(d) = self.daemon.take() {
            d.stop().await;
        }
        self.daemon = Some(self.rig.daemon().await);
    }

    /// Stops the daemon only: its files, the modem and the stub stay.
    pub async fn stop_daemon(&mut self) {
        if let Some(d) = self.daemon.take() {
            d.stop().await;
        }
    }

    /// Stops the daemon, then the stub.
    pub async fn stop(mut self) {
        if let Some(d) = self.daemon.take() {
            d.stop().await;
        }
        self.rig.shutdown().await;
    }
}

impl std::ops::Deref for Gateway {
    type Target = Rig;
    fn deref(&self) -> &Rig {
        &self.rig
    }
}

impl std::ops::DerefMut for Gateway {
    fn deref_mut(&mut self) -> &mut Rig {
        &mut self.rig
    }
}
