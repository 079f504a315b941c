//! The reference receiver (`kufatilia-gateway platform-stub`): the platform side of the contract,
//! small enough to read. It checks the bearer token and signatures, validates and deduplicates
//! batches into its own SQLite file, records heartbeats, and queues messages for reporters that
//! gateways pull. The demo and the tests run it on 127.0.0.1; its test controls inject failures.

mod db;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::http::{HeaderValue, StatusCode};
use serde::Serialize;
use tokio::sync::oneshot;

use platform_api::sign::{self, TokenCheck};
use platform_api::{Heartbeat, IncidentRecord, OutboundMessage, Recipient, rfc3339};

pub use db::{DbError, EnqueueError, MessageState};

/// How long a pulled outbound message stays with the gateway that pulled it before it is
/// offered again (when no status came back).
pub(crate) const DEFAULT_OUTBOUND_LEASE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct StubConfig {
    /// SQLite file; created when missing, kept between runs.
    pub db: PathBuf,
    /// Who may post: each gateway with its own token and secrets.
    pub gateways: Vec<GatewayAccess>,
    /// The token of the admin endpoints (`/admin/...`); `None` turns them off.
    pub admin_token: Option<String>,
    /// Also accept the old v1 signature (timestamp and body only, no nonce: replayable inside
    /// the window). Off unless asked for; for one release, while gateways upgrade.
    pub accept_v1: bool,
}

/// One gateway's credentials as the platform holds them.
#[derive(Clone)]
pub struct GatewayAccess {
    /// The gateway id its requests must carry (header and body); `None` lets the token speak
    /// for any id — only for a stub serving a single gateway whose id it was not told.
    pub gateway_id: Option<String>,
    /// Its bearer token, unique among the gateways.
    pub token: String,
    /// Its signing secrets by key id: one, or two while a secret is being replaced. Empty:
    /// its requests are not signed (bearer token only).
    pub keys: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for GatewayAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key_ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("GatewayAccess")
            .field("gateway_id", &self.gateway_id)
            .field("key_ids", &key_ids)
            .finish_non_exhaustive()
    }
}

impl StubConfig {
    /// One gateway, whatever id it gives, with `token` and (when set) `secret` under the
    /// default key id; no admin API, no v1. What the demo and most tests run.
    pub fn single(db: PathBuf, token: &str, secret: Option<&[u8]>) -> StubConfig {
        StubConfig {
            db,
            gateways: vec![GatewayAccess {
                gateway_id: None,
                token: token.to_string(),
                keys: secret
                    .map(|s| vec![(sign::DEFAULT_KEY_ID.to_string(), s.to_vec())])
                    .unwrap_or_default(),
            }],
            admin_token: None,
            accept_v1: false,
        }
    }

    /// Refuses credentials that would let one caller pass for another.
    fn check(&self) -> anyhow::Result<()> {
        if self.gateways.is_empty() {
            anyhow::bail!("platform-stub needs at least one gateway (a token)");
        }
        if self.gateways.len() > 1 && self.gateways.iter().any(|g| g.gateway_id.is_none()) {
            anyhow::bail!("platform-stub: with several gateways, each needs its gateway id");
        }
        let mut tokens: Vec<&str> = Vec::new();
        for g in &self.gateways {
            let token = g.token.trim();
            if token.is_empty() {
                anyhow::bail!("platform-stub needs a non-empty bearer token for each gateway");
            }
            if tokens.contains(&token) {
                anyhow::bail!("platform-stub: two gateways share a token; each needs its own");
            }
            tokens.push(token);
            if g.keys
                .iter()
                .any(|(id, secret)| id.is_empty() || secret.is_empty())
            {
                anyhow::bail!("platform-stub: a signing secret or its key id is empty");
            }
        }
        if let Some(admin) = &self.admin_token
            && (admin.trim().is_empty() || tokens.contains(&admin.trim()))
        {
            anyhow::bail!(
                "platform-stub: the admin token must be non-empty and differ from every gateway's token"
            );
        }
        Ok(())
    }
}

/// An outbound message as the stub tracks it (the `GET /admin/outbound` list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboundRecord {
    pub id: String,
    pub(crate) gateway_id: String,
    pub(crate) to: Recipient,
    pub(crate) text: String,
    pub state: MessageState,
    pub detail: Option<String>,
    pub pulls: u32,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
}

pub struct PlatformStub {
    addr: SocketAddr,
    shared: Option<Arc<routes::Shared>>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    db_thread: Option<std::thread::JoinHandle<()>>,
}

impl PlatformStub {
    /// Opens the database and starts serving on `listen` (port 0 picks a free port).
    pub async fn start(listen: SocketAddr, cfg: StubConfig) -> anyhow::Result<PlatformStub> {
        cfg.check()?;
        let path = cfg.db.clone();
        let (db, db_thread) = tokio::task::spawn_blocking(move || db::Db::open(&path))
            .await
            .context("platform-stub database task failed")?
            .with_context(|| {
                format!(
                    "cannot open the platform-stub database {}",
                    cfg.db.display()
                )
            })?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("platform-stub cannot listen on {listen}"))?;
        let addr = listener
            .local_addr()
            .context("platform-stub listener has no address")?;
        let shared = Arc::new(routes::Shared {
            db,
            gateways: cfg
                .gateways
                .iter()
                .map(|g| routes::Gateway {
                    id: g.gateway_id.clone(),
                    token: TokenCheck::new(g.token.trim()),
                    keys: g.keys.clone(),
                })
                .collect(),
            admin: cfg
                .admin_token
                .as_deref()
                .map(|t| TokenCheck::new(t.trim())),
            accept_v1: cfg.accept_v1,
            nonces: Mutex::new(sign::NonceCache::new(sign::DEFAULT_WINDOW)),
            refuse_containing: Mutex::new(None),
            window: sign::DEFAULT_WINDOW,
            lease_secs: AtomicU64::new(DEFAULT_OUTBOUND_LEASE.as_secs()),
            fault: Mutex::new(None),
            batch_posts: AtomicUsize::new(0),
            ignore_pull_limit: AtomicBool::new(false),
        });
        let app = routes::router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "platform-stub server stopped");
            }
        });
        tracing::info!(%addr, db = %cfg.db.display(), "platform-stub listening");
        Ok(PlatformStub {
            addr,
            shared: Some(shared),
            stop: Some(stop),
            server: Some(server),
            db_thread: Some(db_thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL for `PlatformClientConfig::url`, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn shared(&self) -> Option<&routes::Shared> {
        self.shared.as_deref()
    }

    /// Test control: answer `status` (with an error body) to the next `count` batch posts,
    /// before any other check. Replaces an earlier pending failure.
    pub fn fail_next(&self, status: u16, count: usize) {
        self.set_fault(status, count, None);
    }

    /// Same as `fail_next`, with a `Retry-After` header (seconds or an HTTP-date) on each answer.
    pub fn fail_next_with_retry_after(&self, status: u16, count: usize, retry_after: &str) {
        match HeaderValue::from_str(retry_after) {
            Ok(value) => self.set_fault(status, count, Some(value)),
            Err(_) => tracing::warn!(retry_after, "fail_next: not a valid header value; ignored"),
        }
    }

    fn set_fault(&self, status: u16, count: usize, retry_after: Option<HeaderValue>) {
        let Ok(status) = StatusCode::from_u16(status) else {
            tracing::warn!(status, "fail_next: not an HTTP status; ignored");
            return;
        };
        if let Some(shared) = self.shared()
            && let Ok(mut fault) = shared.fault.lock()
        {
            *fault = (count > 0).then_some(routes::Fault {
                status,
                remaining: count,
                retry_after,
            });
        }
    }

    /// Test control: answer `status` to every batch post whose body contains `needle`, for
    /// ever (a batch the platform cannot take: a poison byte, too large). `None` stops it.
    pub fn refuse_batches_containing(&self, refusal: Option<(u16, &str)>) {
        let refusal = refusal.and_then(|(status, needle)| {
            Some((
                StatusCode::from_u16(status).ok()?,
                needle.as_bytes().to_vec(),
            ))
        });
        if let Some(shared) = self.shared()
            && let Ok(mut slot) = shared.refuse_containing.lock()
        {
            *slot = refusal;
        }
    }

    /// How long pulled outbound messages stay leased (default 5 min).
    pub fn set_outbound_lease(&self, lease: Duration) {
        if let Some(shared) = self.shared() {
            shared.lease_secs.store(lease.as_secs(), Ordering::Relaxed);
        }
    }

    /// Makes pulls hand out up to 100 messages whatever `limit` the gateway asks for: a platform
    /// that does not honour the limit.
    pub fn ignore_pull_limit(&self, ignore: bool) {
        if let Some(shared) = self.shared() {
            shared.ignore_pull_limit.store(ignore, Ordering::Relaxed);
        }
    }

    fn query<R, F>(&self, what: &str, f: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<R, DbError> + Send + 'static,
    {
        let shared = self.shared()?;
        match shared.db.call_blocking(f) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::error!(error = %e, "platform-stub: cannot read {what}");
                None
            }
        }
    }

    /// Every stored incident, deduplicated, in arrival order.
    pub fn incidents(&self) -> Vec<IncidentRecord> {
        self.query("incidents", db::incidents).unwrap_or_default()
    }

    /// Distinct batch ids stored.
    pub fn batches_received(&self) -> usize {
        self.query("batch count", db::counts)
            .map_or(0, |c| c.batches)
    }

    /// Incidents received again after they were stored (retries, re-sent batches).
    pub fn duplicates_seen(&self) -> usize {
        self.query("duplicate count", db::counts)
            .map_or(0, |c| c.duplicates)
    }

    /// Duplicates whose content differed from the stored incident (ids reused by a gateway).
    pub fn conflicts_seen(&self) -> usize {
        self.query("conflict count", db::counts)
            .map_or(0, |c| c.conflicts)
    }

    /// Batch POST requests that reached the stub since it started, whatever it answered.
    pub fn batch_posts(&self) -> usize {
        self.shared()
            .map_or(0, |s| s.batch_posts.load(Ordering::Relaxed))
    }

    pub fn heartbeats(&self) -> Vec<Heartbeat> {
        self.query("heartbeats", db::heartbeats).unwrap_or_default()
    }

    /// Queues a message for a reporter, as a partner would through `POST /admin/outbound`.
    pub fn enqueue_outbound(
        &self,
        to: Recipient,
        text: &str,
    ) -> Result<OutboundMessage, EnqueueError> {
        let Some(shared) = self.shared() else {
            return Err(EnqueueError::Db(DbError::Gone));
        };
        let text = text.to_string();
        let now = rfc3339(time::OffsetDateTime::now_utc());
        shared
            .db
            .call_blocking(move |c| Ok(db::enqueue_outbound(c, &to, &text, &now)))?
    }

    /// Every outbound message with its current state.
    pub fn outbound(&self) -> Vec<OutboundRecord> {
        self.query("outbound messages", db::outbound)
            .unwrap_or_default()
    }

    /// Stops serving (letting requests in flight finish) and closes the database.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take()
            && let Err(e) = server.await
        {
            tracing::error!(error = %e, "platform-stub server task failed");
        }
        // The router held the other handle; once ours is gone the database thread ends.
        self.shared = None;
        if let Some(thread) = self.db_thread.take() {
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("platform-stub database thread did not stop cleanly");
            }
        }
    }
}

impl Drop for PlatformStub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `kufatilia-gateway platform-stub --listen ADDR --db FILE ...`: serves until Ctrl-C or
/// SIGTERM. Listening anywhere but loopback needs `allow_remote`, and is warned about: this is
/// a reference receiver to read and test against, not a hardened server.
pub async fn run_cli(
    listen: SocketAddr,
    cfg: StubConfig,
    allow_remote: bool,
) -> anyhow::Result<()> {
    if !listen.ip().is_loopback() {
        if !allow_remote {
            anyhow::bail!(
                "platform-stub listens on loopback only (e.g. --listen 127.0.0.1:8787); to listen \
                 on {listen} add --allow-remote, knowing it is a reference receiver for tests, \
                 not a hardened server (put a TLS proxy in front of it)"
            );
        }
        tracing::warn!(%listen, "platform-stub listens beyond this machine (--allow-remote): it is a reference receiver, not a hardened server");
        eprintln!(
            "warning: platform-stub listens on {listen}, beyond this machine: it is a reference receiver, not a hardened server"
        );
    }
    let mut signal_error = None;
    serve_until(listen, cfg, async {
        if let Err(e) = wait_for_stop_signal().await {
            signal_error = Some(e);
        }
    })
    .await?;
    signal_error.map_or(Ok(()), Err)
}

/// Serves the stub until `stop` completes, printing where it listens; what `run_cli` runs.
pub async fn serve_until(
    listen: SocketAddr,
    cfg: StubConfig,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let signed = cfg.gateways.iter().all(|g| !g.keys.is_empty());
    let v1 = cfg.accept_v1;
    let db = cfg.db.clone();
    let stub = PlatformStub::start(listen, cfg).await?;
    println!(
        "platform-stub listening on {} (database {}, signatures {})",
        stub.url(),
        db.display(),
        match (signed, v1) {
            (true, false) => "v2 required",
            (true, true) => "v2 required, v1 still accepted",
            (false, _) => "not checked for every gateway",
        }
    );
    stop.await;
    println!("platform-stub stopping");
    stub.shutdown().await;
    Ok(())
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C"),
        _ = terminate.recv() => Ok(()),
    }
}
