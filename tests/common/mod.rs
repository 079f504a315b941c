//! Helpers the integration tests share: a modem link running as a task, polling for a
//! condition within a bound (a bound, never a timing assert), the whole test gateway
//! ([`daemon`]), the slot check of the simulator's log ([`slots`]), burst texts ([`burst`]) and a recording
//! proxy with the HTTP requests it saw ([`wire`]).
#![allow(dead_code)]

pub mod burst;
pub mod daemon;
pub mod link;
pub mod slots;
pub mod wire;

use std::collections::BTreeSet;
use std::time::Duration;

use kufatilia_gateway::{LinkState, ModemLink, StatusHandle};
use store::Store;
use tokio_util::sync::CancellationToken;

/// Longest wait for anything a test waits for.
pub const WAIT: Duration = Duration::from_secs(30);

/// A modem link running as a task.
pub struct Running {
    pub status: StatusHandle,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub fn spawn(mut link: ModemLink) -> Running {
    let status = link.status();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move { link.run(stop).await });
    Running {
        status,
        shutdown,
        task,
    }
}

impl Running {
    pub async fn wait_state(&mut self, state: LinkState) {
        tokio::time::timeout(WAIT, self.status.wait_for(|s| s.state == state))
            .await
            .unwrap_or_else(|_| {
                panic!("link never reached {state:?}: {:?}", self.status.snapshot())
            });
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// PDUs committed in the store and not yet decoded.
pub async fn stored(store: &Store) -> BTreeSet<String> {
    store
        .pending_received(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.pdu_hex)
        .collect()
}

/// Polls `f` until it holds; fails the test after [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(WAIT, what, f).await
}

/// Polls `done` (not async) until it holds; fails the test after `bound`.
pub async fn wait_until(bound: Duration, what: &str, mut done: impl FnMut() -> bool) {
    eventually_within(bound, what, || std::future::ready(done())).await
}

/// Polls `f` until it holds; fails the test after `bound`.
pub async fn eventually_within<F, Fut>(bound: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + bound;
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An HTTP client for a test's own requests, with the TLS provider the gateway installs (the
/// build carries no default one).
pub fn http_client() -> reqwest::Client {
    kufatilia_gateway::install_tls_provider();
    reqwest::Client::new()
}

/// Waits for `child` to exit and returns its output; a child still running after `bound` is
/// killed, so a command that hangs fails its test instead of holding the whole run.
pub fn output_within(mut child: std::process::Child, bound: Duration) -> std::process::Output {
    let deadline = std::time::Instant::now() + bound;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}
