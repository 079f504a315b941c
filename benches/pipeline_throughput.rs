//! Pipeline throughput: messages per second from raw SMS-DELIVER PDUs to a durable commit, the
//! incident recorded, its reply queued and the incident waiting for the forwarder.
//!
//! Everything runs through the production code: the store opened as the daemon opens it
//! (`Store::open`: WAL, `synchronous=FULL`, a real file in a temporary directory), the PDUs
//! committed as a modem link's sweep commits them: a SIM's worth at a time (what one `AT+CMGL`
//! listing gives, 30 by default) handed together to `Store::insert_received_all`, the link
//! awaiting every commit of the listing before it takes the next (as `ModemLink::take_all`
//! does before its `AT+CMGD`s); several links run side by side, one per modem. The processing
//! stage (`Pipeline::run`) runs beside them on a runtime of 2 worker threads (the daemon runs
//! one since issue 21: this measures the store and the stage, not the daemon's runtime).
//!
//! The messages: reports in Kiswahili, French and English with a type keyword, from many
//! senders (at most 4 each, under the default hourly reply limit of 5 per number), about 1 in
//! 8 long enough to need 2 or 3 parts (GSM-7 and UCS-2), encoded with the crate's own
//! `pdu::encode_deliver`. The clock starts when the first PDU is handed in and stops when no
//! PDU waits for decoding, no part for its group and no message for its incident; the store is
//! then checked (every message has its incident, its `ack` reply queued, the incident not yet in
//! a batch, the texts as sent) and the benchmark fails if anything is missing.
//!
//! The reply budget (`replies.max_per_day`, default 300) is raised above the number of
//! messages so that every one of them gets its reply queued; nothing else is changed from the
//! defaults.
//!
//! Run with `cargo bench --bench pipeline_throughput`. Environment:
//! `PIPELINE_MESSAGES` (default 20000), `PIPELINE_RUNS` (default 5), `PIPELINE_LINKS` (modem
//! links feeding at once, default 4), `PIPELINE_SWEEP` (PDUs per listing, default 30; 1 is a
//! link taking one message at a time, as on `+CMTI`). Prints one line per run and a summary
//! line starting with `pipeline_throughput:`.
// A benchmark may unwrap: it measures, it does not run in the field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use config::Config;
use intake::Keywords;
use kufatilia_gateway::Pipeline;
use rusqlite::{Connection, OpenFlags};
use store::{NewReceived, Store};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// Most modem links the benchmark can run.
const MAX_LINKS: usize = 64;

/// The name of modem `i`.
fn modem_name(i: usize) -> String {
    const OPERATORS: [&str; 4] = ["vodacom", "airtel", "orange", "africell"];
    match OPERATORS.get(i) {
        Some(name) => name.to_string(),
        None => format!("modem{i}"),
    }
}

/// One SMS as a reporter sent it, and the PDUs the network delivers for it.
struct Sms {
    sender: String,
    text: String,
    pdus: Vec<String>,
}

fn env_or(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v:?} is not a number")),
        Err(_) => Ok(default),
    }
}

fn main() -> anyhow::Result<()> {
    let n = env_or("PIPELINE_MESSAGES", 20_000)?;
    let runs = env_or("PIPELINE_RUNS", 5)?;
    let links = env_or("PIPELINE_LINKS", 4)?;
    let sweep = env_or("PIPELINE_SWEEP", 30)?;
    ensure!(
        n > 0 && runs > 0 && sweep > 0,
        "PIPELINE_MESSAGES, PIPELINE_RUNS and PIPELINE_SWEEP must be > 0"
    );
    ensure!(
        (1..=MAX_LINKS).contains(&links),
        "PIPELINE_LINKS must be 1 to {MAX_LINKS}"
    );
    let corpus = Arc::new(corpus(n)?);
    let pdus: usize = corpus.iter().map(|m| m.pdus.len()).sum();
    let multipart = corpus.iter().filter(|m| m.pdus.len() > 1).count();
    println!(
        "{n} messages ({multipart} multipart, {pdus} PDUs) from {} senders, {links} modem links, \
         {sweep} PDUs per listing",
        corpus
            .iter()
            .map(|m| m.sender.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len()
    );
    // Two workers, as the daemon had before issue 21 (it now runs one thread, `main.rs`).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut rates = Vec::new();
    for run in 1..=runs {
        let r = runtime.block_on(one_run(corpus.clone(), links, sweep))?;
        let rate = n as f64 / r.total.as_secs_f64();
        println!(
            "run {run}: {n} messages ({} PDUs) in {:.2} s = {rate:.0} msg/s (last PDU committed \
             at {:.2} s, pipeline done {:.2} s later)",
            r.pdus,
            r.total.as_secs_f64(),
            r.intake.as_secs_f64(),
            (r.total - r.intake).as_secs_f64(),
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let median = if rates.len() % 2 == 1 {
        rates[rates.len() / 2]
    } else {
        (rates[rates.len() / 2 - 1] + rates[rates.len() / 2]) / 2.0
    };
    println!(
        "pipeline_throughput: median {median:.0} msg/s (min {:.0} max {:.0}) over {runs} runs of {n} messages, \
         {links} modem links, {sweep} PDUs per listing, {} cores, {}",
        rates[0],
        rates[rates.len() - 1],
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        cpu_model()
    );
    Ok(())
}

struct RunTimes {
    intake: Duration,
    total: Duration,
    pdus: usize,
}

async fn one_run(corpus: Arc<Vec<Sms>>, links: usize, sweep: usize) -> anyhow::Result<RunTimes> {
    let n = corpus.len();
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("gateway.db");
    let store = Store::open(&db)?;
    let mut modems = String::new();
    for i in 0..links {
        let name = modem_name(i);
        modems.push_str(&format!(
            "[[modem]]\nname = \"{name}\"\ndevice = \"/dev/kufatilia-modem{i}\"\nown_number = \"+24385000{i:04}\"\n"
        ));
    }
    let config = Config::parse(
        &format!(
            "gateway_id = \"bench-gw\"\nreference_prefix = \"K7\"\n{modems}\
             [platform]\nurl = \"http://127.0.0.1:9/api\"\n\
             [replies]\nmax_per_day = {}\n",
            n + 1000
        ),
        Path::new("bench config"),
        dir.path(),
    )?;
    let pipeline = Pipeline::new(&config, Arc::new(Keywords::builtin()?), store.clone());
    let shutdown = CancellationToken::new();
    let stage = tokio::spawn(pipeline.run(shutdown.clone()));

    let started = Instant::now();
    let mut feeders = Vec::new();
    for link in 0..links {
        let (store, corpus) = (store.clone(), corpus.clone());
        feeders.push(tokio::spawn(async move {
            let modem = modem_name(link);
            // This modem's PDUs in the order the network delivers them (the parts of a long
            // SMS come in through the same modem), listed `sweep` at a time: each listing is
            // committed together, and the next is taken once all of it is on disk.
            let mine: Vec<&String> = corpus
                .iter()
                .skip(link)
                .step_by(links)
                .flat_map(|sms| &sms.pdus)
                .collect();
            let mut committed = 0usize;
            for listing in mine.chunks(sweep) {
                let answers = store
                    .insert_received_all(
                        listing
                            .iter()
                            .enumerate()
                            .map(|(slot, pdu)| NewReceived {
                                modem: modem.clone(),
                                storage: "SM".into(),
                                sim_index: Some(slot as u32),
                                pdu_hex: (*pdu).clone(),
                                received_at: OffsetDateTime::now_utc(),
                            })
                            .collect(),
                    )
                    .await;
                for (pdu, answer) in listing.iter().zip(answers) {
                    ensure!(!answer?.duplicate, "PDU stored twice: {pdu}");
                    committed += 1;
                }
            }
            anyhow::Ok(committed)
        }));
    }
    let mut pdus = 0;
    for f in feeders {
        pdus += f.await??;
    }
    let intake = started.elapsed();

    // The link tasks are done: every PDU is committed. Wait (on a reader connection of our
    // own, as `status` would) until nothing waits in the pipeline.
    let reader = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    reader.busy_timeout(Duration::from_secs(10))?;
    let mut waiting = reader.prepare(
        "SELECT (SELECT COUNT(*) FROM received WHERE state IN ('new', 'part'))
              + (SELECT COUNT(*) FROM messages WHERE handled = 0)",
    )?;
    loop {
        let left: i64 = waiting.query_row([], |r| r.get(0))?;
        if left == 0 {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(900),
            "the pipeline did not finish within 15 minutes ({left} rows still waiting)"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let total = started.elapsed();
    drop(waiting);
    shutdown.cancel();
    stage.await??;
    check(&reader, &corpus, pdus)?;
    println!(
        "  checked: {n} messages, {n} incidents, {n} replies queued, {n} incidents waiting for the forwarder"
    );
    drop(reader);
    drop(store);
    Ok(RunTimes {
        intake,
        total,
        pdus,
    })
}

/// Fails unless every message went the whole way.
fn check(conn: &Connection, corpus: &[Sms], pdus: usize) -> anyhow::Result<()> {
    let n = corpus.len() as i64;
    let count = |sql: &str| -> anyhow::Result<i64> {
        conn.query_row(sql, [], |r| r.get(0))
            .with_context(|| sql.to_string())
    };
    let expect = |what: &str, sql: &str, want: i64| -> anyhow::Result<()> {
        let got = count(sql)?;
        if got != want {
            bail!("MISSING WORK: {what}: {got}, expected {want} ({sql})");
        }
        Ok(())
    };
    expect("PDUs stored", "SELECT COUNT(*) FROM received", pdus as i64)?;
    expect(
        "PDUs joined into their message",
        "SELECT COUNT(*) FROM received WHERE state = 'joined' AND message_id IS NOT NULL",
        pdus as i64,
    )?;
    expect(
        "messages decoded whole",
        "SELECT COUNT(*) FROM messages WHERE decode_status = 'ok' AND handled = 1",
        n,
    )?;
    expect("messages", "SELECT COUNT(*) FROM messages", n)?;
    expect(
        "incidents with a type keyword",
        "SELECT COUNT(*) FROM incidents i JOIN messages m ON m.id = i.message_id
         WHERE i.incident_type NOT IN ('unknown', 'other')",
        n,
    )?;
    expect(
        "incidents waiting for the forwarder (not yet in a batch)",
        "SELECT COUNT(*) FROM incidents WHERE batch_id IS NULL AND delivered_at_ms IS NULL",
        n,
    )?;
    expect(
        "acknowledgements queued, one per incident",
        "SELECT COUNT(DISTINCT o.incident_id) FROM outgoing o JOIN incidents i ON i.id = o.incident_id
         JOIN messages m ON m.id = i.message_id
         WHERE o.state = 'queued' AND o.kind = 'ack' AND o.recipient = m.sender",
        n,
    )?;
    expect("SMS queued", "SELECT COUNT(*) FROM outgoing", n)?;
    expect("replies refused", "SELECT COUNT(*) FROM reply_refusals", 0)?;
    // Each message's text as its sender wrote it (long ones joined from their parts).
    let mut want: HashMap<(String, String), i64> = HashMap::new();
    for m in corpus {
        *want.entry((m.sender.clone(), m.text.clone())).or_default() += 1;
    }
    let mut stmt = conn.prepare("SELECT sender, text FROM messages")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let key: (String, String) = (r.get(0)?, r.get(1)?);
        match want.get_mut(&key) {
            Some(k) if *k > 0 => *k -= 1,
            _ => bail!(
                "MISSING WORK: a stored message is not one that was sent: {} {:?}",
                key.0,
                key.1
            ),
        }
    }
    Ok(())
}

/// `n` reports from about `n / 4` senders in three languages.
fn corpus(n: usize) -> anyhow::Result<Vec<Sms>> {
    const SITES: [&str; 12] = [
        "Kalimbi", "Nyabibwe", "Lemera", "Kamituga", "Mukungwe", "Rubaya", "Bisie", "Numbi",
        "Luhihi", "Kalehe", "Walikale", "Shabunda",
    ];
    const SW: [&str; 7] = [
        "AJALI mgodi wa {site}, watu {k} wamejeruhiwa shimoni",
        "Vurugu karibu na {site}: wachimbaji {k} wamepigwa na walinzi",
        "USHURU haramu kwenye kizuizi cha {site}, wanadai {k}000 FC kwa kila gunia",
        "Watoto {k} wanafanya kazi katika mgodi wa {site} leo asubuhi",
        "Silaha: waasi {k} wameingia karibu na {site} usiku",
        "Wizi wa mawe mgodi wa {site}, magunia {k} yameibiwa",
        "Uchafuzi wa mto karibu na {site}, samaki wamekufa",
    ];
    const FR: [&str; 7] = [
        "ACCIDENT éboulement au puits de {site}, {k} blessés",
        "Taxe illégale à la barrière de {site}, {k}000 FC par sac",
        "Enfants au travail près de {site}: {k} enfants dans les puits",
        "Hommes armés vers {site} ce matin, {k} creuseurs chassés",
        "Fraude: le négociant de {site} truque la balance, {k} kg perdus",
        "Pollution de la rivière près de {site}, l'eau est rouge",
        "Violence au puits {k} de {site}, un creuseur frappé",
    ];
    const EN: [&str; 6] = [
        "ACCIDENT at {site} pit {k}, two miners injured",
        "Roadblock tax near {site}, soldiers ask {k}000 FC per bag",
        "Children working at {site}, about {k} of them underground",
        "Armed men at {site} last night, {k} miners fled",
        "Bribe asked by the agent at {site}, {k} dollars",
        "Theft at {site}: {k} bags of ore stolen from the depot",
    ];
    // Long descriptions: a report that does not fit one SMS (GSM-7, and UCS-2 where a
    // character outside the GSM alphabet forces it).
    const LONG: [&str; 3] = [
        " Tafadhali tumeni msaada haraka, shimo limeanguka na watu bado wamekwama ndani, hatuna vifaa vya kuwatoa wala dawa.",
        " Les creuseurs demandent de l'aide rapidement, la galerie s'est effondrée et plusieurs personnes sont encore coincées au fond.",
        " Merci d’envoyer quelqu’un vite — l’accès au site est bloqué et les blessés attendent depuis ce matin à l’entrée du puits.",
    ];
    let senders = n.div_ceil(4).max(1);
    // Spreads the messages over the senders, at most 4 each (a multiplier prime to `senders`).
    let spread = if senders.is_multiple_of(7919) {
        7907
    } else {
        7919
    };
    let base = time::macros::datetime!(2026-11-27 06:00 +01:00);
    let mut concat_refs: HashMap<usize, u8> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let s = (i * spread) % senders;
        let sender = match s % 3 {
            0 => format!("+24381{:07}", s),
            1 => format!("+24399{:07}", s),
            _ => format!("+24397{:07}", s),
        };
        let site = SITES[i % SITES.len()];
        let k = (i % 9 + 2).to_string();
        let template = match i % 3 {
            0 => SW[(i / 3) % SW.len()],
            1 => FR[(i / 3) % FR.len()],
            _ => EN[(i / 3) % EN.len()],
        };
        let mut text = template.replace("{site}", site).replace("{k}", &k);
        if i % 8 == 5 {
            text.push_str(LONG[(i / 8) % LONG.len()]);
        }
        let concat_reference = {
            let r = concat_refs.entry(s).or_insert((s % 200) as u8);
            *r = r.wrapping_add(1);
            *r
        };
        let when = base + Duration::from_secs(i as u64);
        let pdus = pdu::encode_deliver(&sender, &text, when, "+243990000001", concat_reference)
            .with_context(|| format!("cannot encode {text:?}"))?;
        for p in &pdus {
            ensure!(seen.insert(p.clone()), "two identical PDUs in the corpus");
        }
        out.push(Sms { sender, text, pdus });
    }
    Ok(out)
}

/// The CPU model from /proc/cpuinfo, for the summary line.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
