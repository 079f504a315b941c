//! Drains a backlog of 100,000 stored incidents to the reference receiver on loopback, as after
//! a long internet cut: the store is filled directly (not through the modem), then the forwarder
//! runs until everything is delivered. Prints the time, the throughput and the resident memory
//! sampled during the drain (it must stay flat: one batch in memory at a time).
//!
//! Run with `cargo bench --bench forward_drain` (`-- N` for another backlog size).
// A benchmark may unwrap: it measures, it does not run in the field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use config::Config;
use kufatilia_gateway::{Forwarder, PlatformClient, PlatformClientConfig, ReporterId};
use platform_stub::{PlatformStub, StubConfig};
use store::Store;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "bench-token";
const SECRET: &[u8] = b"bench-secret";

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; a number is the backlog size.
    let n: i64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(drain(n))
}

async fn drain(n: i64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("gateway.db");
    let store = Store::open(&db)?;
    let started = Instant::now();
    fill(&db, n)?;
    println!(
        "filled {n} incidents in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let stub = PlatformStub::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        StubConfig::single(dir.path().join("platform.db"), TOKEN, Some(SECRET)),
    )
    .await?;
    let config = Config::parse(
        &format!(
            "gateway_id = \"bench-gw\"\n[platform]\nurl = {:?}\n",
            stub.url()
        ),
        Path::new("bench config"),
        dir.path(),
    )?;
    let client = Arc::new(PlatformClient::new(&PlatformClientConfig {
        url: stub.url(),
        token: TOKEN.into(),
        hmac_secret: Some(SECRET.to_vec()),
        gateway_id: "bench-gw".to_string(),
        key_id: platform_api::sign::DEFAULT_KEY_ID.to_string(),
        timeout: Duration::from_secs(30),
        low_speed_time: Duration::from_secs(10),
        extra_ca_file: None,
    })?);
    let forwarder = Arc::new(Forwarder::new(
        &config,
        store.clone(),
        client,
        ReporterId::Pseudonym(Arc::new(b"bench-pseudonym-key".to_vec())),
    ));
    let rss_before = rss_kib("VmRSS");
    let shutdown = CancellationToken::new();
    let task = {
        let (f, s) = (forwarder.clone(), shutdown.clone());
        tokio::spawn(async move { f.run(s).await })
    };
    let started = Instant::now();
    let mut samples = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        samples.push(rss_kib("VmRSS"));
        let d = store.queue_depths().await?;
        if d.undelivered_incidents == 0 {
            break;
        }
        anyhow::ensure!(d.quarantined_batches == 0, "a batch was refused: {d:?}");
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "not drained after 10 min: {d:?}"
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    shutdown.cancel();
    task.await??;
    let on_platform = stub.incidents().len();
    anyhow::ensure!(
        on_platform as i64 == n,
        "platform has {on_platform}, expected {n}"
    );
    let third = samples.len() / 3;
    let early = samples[..third.max(1)].iter().max().copied().unwrap_or(0);
    let late = samples[samples.len() - third.max(1)..]
        .iter()
        .max()
        .copied()
        .unwrap_or(0);
    println!(
        "drained {n} incidents in {elapsed:.1} s ({:.0} incidents/s), {} batches",
        n as f64 / elapsed,
        stub.batches_received()
    );
    println!(
        "RSS before drain {} MiB, max in first third {} MiB, max in last third {} MiB, peak (VmHWM) {} MiB",
        rss_before / 1024,
        early / 1024,
        late / 1024,
        rss_kib("VmHWM") / 1024
    );
    stub.shutdown().await;
    Ok(())
}

/// Writes `n` delivered-ready incidents (message, raw PDU, incident) in one transaction.
fn fill(db: &Path, n: i64) -> anyhow::Result<()> {
    let mut conn = rusqlite::Connection::open(db)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let tx = conn.transaction()?;
    {
        let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000 - n;
        let mut message = tx.prepare(
            "INSERT INTO messages (id, modem, sender, sender_kind, text, parts, decode_status,
                                   smsc_time, received_at_ms, handled)
             VALUES (?1, 'vodacom', ?2, 'international', ?3, 1, 'ok', '2026-11-27T10:00:00+01:00', ?4, 1)",
        )?;
        let mut received = tx.prepare(
            "INSERT INTO received (modem, storage, sim_index, pdu_hex, pdu_sha256, received_at_ms,
                                   state, message_id)
             VALUES ('vodacom', 'SM', 0, ?1, ?2, ?3, 'joined', ?4)",
        )?;
        let mut incident = tx.prepare(
            "INSERT INTO incidents (id, message_id, reference, incident_type, language, description,
                                    location, created_at_ms)
             VALUES (?1, ?1, ?2, 'accident', 'sw', ?3, 'Kalimbi', ?4)",
        )?;
        let pdu = "07913348990000F0040B913418325476F800006211721054002B".repeat(3);
        for i in 1..=n {
            let text = format!("AJALI mgodi wa Kalimbi namba {i}, watu wawili wamejeruhiwa");
            let at = now + i;
            message.execute(rusqlite::params![
                i,
                format!("+24381{:07}", i % 5000),
                text,
                at
            ])?;
            received.execute(rusqlite::params![pdu, i.to_be_bytes().to_vec(), at, i])?;
            incident.execute(rusqlite::params![i, format!("K-{i:06}"), text, at])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// A `/proc/self/status` memory line, in KiB.
fn rss_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
