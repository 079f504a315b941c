//! The gateway's HTTP client for the platform: signs each request, posts batches and heartbeats,
//! pulls outbound messages, and sorts every failure into "retry later" or "rejected".
//!
//! TLS is rustls trusting the Mozilla roots compiled into the binary (`webpki-root-certs`), plus
//! an optional extra CA file (a platform with a private CA). Not the operating system's store: a
//! Raspberry Pi image without `ca-certificates` would otherwise trust nobody and the box would
//! never deliver, while the built-in roots behave the same on every box; the price is that a
//! root change needs a gateway update, and a private CA must be named in `extra_ca_file`. Plain `http://` is refused unless it goes to loopback, where the
//! reference receiver runs for tests and the demo.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, DATE, HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Serialize;
use time::{OffsetDateTime, PrimitiveDateTime};

use platform_api::sign;
use platform_api::{
    BATCHES_PATH, Batch, BatchAck, ErrorBody, ErrorCode, HEARTBEAT_PATH, Heartbeat, HeartbeatAck,
    OUTBOUND_PULL_PATH, OUTBOUND_STATUS_PATH, OutboundMessage, OutboundPull, OutboundPullRequest,
    OutboundStatusAck, OutboundStatusReport,
};

/// How a retryable HTTP answer's reason starts (a network failure's does not).
const PLATFORM_ANSWERED: &str = "platform answered HTTP ";
/// Longest error body kept in `PostError::Rejected`, in characters.
const REJECTED_BODY_LIMIT: usize = 1000;
/// Longest response body read from the platform; the rest is not read.
const RESPONSE_LIMIT: usize = 4 * 1024 * 1024;
/// Connecting must not take the whole request timeout on a dead mobile link.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The least an answer must bring in every `low_speed_time`: any real platform's JSON answer
/// comes in one or two packets, a trickle of a few bytes a second is a broken or hostile peer.
pub(crate) const LOW_SPEED_BYTES: usize = 1024;

#[derive(Debug, Clone)]
pub struct PlatformClientConfig {
    /// Base URL of the platform API, e.g. `https://platform.example.org/kufatilia`; endpoint
    /// paths (`v1/batches`, …) are appended to it.
    pub url: String,
    pub token: String,
    /// Shared secret for request signatures; `None` sends unsigned requests (bearer only).
    pub hmac_secret: Option<Vec<u8>>,
    /// The gateway id every signature names (the `gateway_id` of the config).
    pub gateway_id: String,
    /// Which of the gateway's secrets `hmac_secret` is, as the platform named it.
    pub key_id: String,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// An answer body arriving slower than `LOW_SPEED_BYTES` per this time is dropped (and
    /// retried). The wait for the status line is bounded by `timeout` only: a platform may take
    /// its time to commit a batch before it answers.
    pub low_speed_time: Duration,
    /// PEM file with extra trusted CA certificates, added to the system ones.
    pub extra_ca_file: Option<PathBuf>,
}

/// Why a client could not be built: all configuration mistakes.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("platform url {url:?} is not a valid URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "platform url {url:?} uses plain http:// to a host that is not loopback; \
         use https:// (plain http is only allowed to 127.0.0.1, ::1 or localhost)"
    )]
    PlainHttpNotLoopback { url: String },
    #[error("platform url {url:?}: scheme {scheme:?} is not supported, use https://")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("the platform token is empty")]
    EmptyToken,
    #[error("the platform token contains characters that cannot go in an HTTP header")]
    BadToken,
    #[error("the platform HMAC secret is empty")]
    EmptySecret,
    #[error("cannot read the extra CA file {path}: {source}")]
    CaFileRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the extra CA file {path} holds no usable PEM certificate: {reason}")]
    CaFileInvalid { path: PathBuf, reason: String },
    #[error("cannot set up the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

/// What went wrong with one request, sorted by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// Network trouble, 5xx, 408 or 429: try again later (at least `retry_after` later).
    #[error("platform unavailable, will retry: {reason}")]
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Any other 4xx (and redirects): the platform refuses this request; retrying the same
    /// bytes will not help. `body` is the start of the platform's answer. `status` 0 means the
    /// request could not even be built (it was never sent).
    #[error("platform rejected the request with HTTP {status}: {body}")]
    Rejected { status: u16, body: String },
}

impl PostError {
    /// A 401 for a signing timestamp outside the platform's window: the clock is wrong, not
    /// the request nor the credentials.
    pub(crate) fn is_clock_refusal(&self) -> bool {
        match self {
            PostError::Rejected { status: 401, body } => serde_json::from_str::<ErrorBody>(body)
                .is_ok_and(|e| e.code == ErrorCode::TimestampOutOfWindow),
            _ => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PostError::Retry { retry_after, .. } => *retry_after,
            PostError::Rejected { .. } => None,
        }
    }

    /// The HTTP status the platform answered, when it answered at all (not for a network
    /// failure, nor a request never sent).
    pub fn answered_status(&self) -> Option<u16> {
        match self {
            PostError::Retry { reason, .. } => reason
                .strip_prefix(PLATFORM_ANSWERED)
                .and_then(|rest| rest.get(..3))
                .and_then(|code| code.parse().ok()),
            PostError::Rejected { status, .. } => (*status != 0).then_some(*status),
        }
    }

    pub fn is_retry(&self) -> bool {
        matches!(self, PostError::Retry { .. })
    }

    /// What this failure says about the setup.
    pub fn diagnosis(&self) -> Diagnosis {
        match self {
            PostError::Retry { reason, .. } if reason.starts_with(PLATFORM_ANSWERED) => {
                Diagnosis::PlatformBusy
            }
            PostError::Retry { reason, .. } => Diagnosis::of_network_failure(reason),
            PostError::Rejected { status, body } => Diagnosis::of_refusal(*status, body),
        }
    }
}

/// What a failed request says about the box's setup: the one place a refusal or a network
/// failure is turned into an explanation and a fix, for the log, `status` and `doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnosis {
    /// 401 for the bearer token: missing, wrong or revoked.
    Token,
    /// 401 or 403 for the signature: no secret, or not the platform's.
    Signature,
    /// The signing timestamp is outside the platform's window: the box's clock is wrong.
    Clock,
    /// 403 with no known code: the platform refuses this box.
    Forbidden,
    /// 404 or 405: no gateway API at the configured URL.
    Url,
    /// 3xx: the platform answers from another URL (never followed).
    Redirect,
    /// 407: a proxy on the way wants credentials.
    Proxy,
    /// The platform's name does not resolve.
    Dns,
    /// The TLS handshake failed (certificate, or not TLS at all).
    Tls,
    /// No answer in the time limit.
    Timeout,
    /// Nothing listens at the platform's address and port.
    Refused,
    /// Another network failure.
    Network,
    /// 5xx, 408 or 429: the platform is there but cannot take requests now.
    PlatformBusy,
    /// Another 4xx: the platform refuses what this request holds, not who sent it.
    Content,
}

impl Diagnosis {
    /// From an HTTP refusal and the start of its body (an `ErrorBody`, possibly after a prefix
    /// such as `HTTP 401: ` in a stored error).
    pub fn of_refusal(status: u16, body: &str) -> Diagnosis {
        let code = body
            .find('{')
            .and_then(|i| serde_json::from_str::<ErrorBody>(&body[i..]).ok())
            .map(|e| e.code);
        match (status, code) {
            (401 | 403, Some(ErrorCode::TimestampOutOfWindow)) => Diagnosis::Clock,
            (
                401 | 403,
                Some(
                    ErrorCode::BadSignature
                    | ErrorCode::MissingSignature
                    | ErrorCode::BadTimestamp
                    | ErrorCode::UnknownKey
                    | ErrorCode::ReplayedNonce,
                ),
            ) => Diagnosis::Signature,
            (401, _) => Diagnosis::Token,
            (403, Some(ErrorCode::BadToken)) => Diagnosis::Token,
            (403, _) => Diagnosis::Forbidden,
            (404 | 405, _) => Diagnosis::Url,
            (407, _) => Diagnosis::Proxy,
            (300..=399, _) => Diagnosis::Redirect,
            (408 | 429 | 500..=599, _) => Diagnosis::PlatformBusy,
            _ => Diagnosis::Content,
        }
    }

    /// From the text of a network failure (the error chain of the HTTP library).
    fn of_network_failure(reason: &str) -> Diagnosis {
        let r = reason.to_ascii_lowercase();
        if r.contains("dns error") || r.contains("failed to lookup address") {
            Diagnosis::Dns
        } else if r.contains("certificate") || r.contains("tls") || r.contains("handshake") {
            Diagnosis::Tls
        } else if r.contains("timed out") || r.contains("timeout") {
            Diagnosis::Timeout
        } else if r.contains("connection refused") {
            Diagnosis::Refused
        } else {
            Diagnosis::Network
        }
    }

    /// True when every request would be refused the same way: forwarding waits (nothing is
    /// quarantined) and retries until the technician fixes the cause.
    pub fn pauses_forwarding(self) -> bool {
        matches!(
            self,
            Diagnosis::Token
                | Diagnosis::Signature
                | Diagnosis::Forbidden
                | Diagnosis::Url
                | Diagnosis::Redirect
                | Diagnosis::Proxy
        )
    }

    /// What is wrong, in a technician's words.
    pub fn problem(self) -> &'static str {
        match self {
            Diagnosis::Token => "the platform refuses the bearer token (HTTP 401)",
            Diagnosis::Signature => "the platform refuses the request signature",
            Diagnosis::Clock => "the platform refuses the request time: the gateway clock is wrong",
            Diagnosis::Forbidden => "the platform refuses this gateway (HTTP 403)",
            Diagnosis::Url => "no gateway API at the platform url (HTTP 404)",
            Diagnosis::Redirect => "the platform url redirects elsewhere",
            Diagnosis::Proxy => "a proxy wants credentials (HTTP 407)",
            Diagnosis::Dns => "the platform's name does not resolve (DNS)",
            Diagnosis::Tls => "the secure connection (TLS) to the platform failed",
            Diagnosis::Timeout => "the platform does not answer in time",
            Diagnosis::Refused => "nothing answers at the platform's address (connection refused)",
            Diagnosis::Network => "the platform cannot be reached",
            Diagnosis::PlatformBusy => "the platform cannot take requests now",
            Diagnosis::Content => "the platform refuses what the request holds",
        }
    }

    /// What to do about it.
    pub fn fix(self) -> &'static str {
        match self {
            Diagnosis::Token => {
                "put the token the platform gave this box in the `platform.token_file` file (one line, chmod 600), then restart the gateway"
            }
            Diagnosis::Signature => {
                "put the HMAC secret the platform gave this box in the `platform.hmac_secret_file` file (chmod 600) and name that file in the config, and its id in `platform.key_id`, then restart the gateway"
            }
            Diagnosis::Clock => {
                "check the time sync (`timedatectl`); the gateway also corrects its signatures from the platform's clock"
            }
            Diagnosis::Forbidden => {
                "check `gateway_id`: it must be the id the platform gave with this token; else ask the platform's administrators to enable this gateway id with this token and secret"
            }
            Diagnosis::Url => {
                "check `platform.url`: the address the platform gave, without the trailing /v1 (the gateway adds v1/... itself)"
            }
            Diagnosis::Redirect => {
                "write the address the platform redirects to in `platform.url` (redirects are never followed)"
            }
            Diagnosis::Proxy => {
                "this network's proxy must let the gateway through without credentials"
            }
            Diagnosis::Dns => {
                "check the host name in `platform.url` and the box's DNS (is the internet link up?)"
            }
            Diagnosis::Tls => {
                "check the box's clock (a wrong date fails every certificate), the https:// address, and `platform.extra_ca_file` for a platform with a private CA"
            }
            Diagnosis::Timeout => {
                "check the internet link (mobile data, Wi-Fi, cable); reports wait safely in the store meanwhile"
            }
            Diagnosis::Refused => {
                "check the host and port in `platform.url`, and that the platform is running"
            }
            Diagnosis::Network => {
                "check the internet link (mobile data, Wi-Fi, cable) and `platform.url`; reports wait safely in the store meanwhile"
            }
            Diagnosis::PlatformBusy => {
                "nothing on this box: the gateway retries by itself; tell the platform's administrators if it lasts"
            }
            Diagnosis::Content => {
                "see the platform's error; `kufatilia-gateway requeue` sends such a batch again once the platform is fixed"
            }
        }
    }
}

/// Talks to one platform. Cheap to share behind an `Arc`; requests may run concurrently.
#[derive(Debug)]
pub struct PlatformClient {
    http: reqwest::Client,
    base: Url,
    authorization: String,
    secret: Option<Vec<u8>>,
    gateway_id: String,
    key_id: String,
    low_speed_time: Duration,
    clock_offset: AtomicI64,
    observed_skew: Mutex<Option<i64>>,
    /// When the platform last answered 2xx to any request (monotonic: see
    /// [`PlatformClient::since_last_success`]).
    last_success: Mutex<Option<std::time::Instant>>,
}

impl PlatformClient {
    pub fn new(cfg: &PlatformClientConfig) -> Result<PlatformClient, PlatformError> {
        let base = check_url(&cfg.url)?;
        let token = cfg.token.trim();
        if token.is_empty() {
            return Err(PlatformError::EmptyToken);
        }
        let authorization = sign::bearer(token);
        if reqwest::header::HeaderValue::from_str(&authorization).is_err() {
            return Err(PlatformError::BadToken);
        }
        if cfg.hmac_secret.as_ref().is_some_and(|s| s.is_empty()) {
            return Err(PlatformError::EmptySecret);
        }
        install_tls_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(MAX_CONNECT_TIMEOUT))
            .user_agent(concat!("kufatilia-gateway/", env!("CARGO_PKG_VERSION")))
            // A redirect could lead a signed request to plain http or another host: never follow.
            .redirect(reqwest::redirect::Policy::none());
        let mut roots = built_in_roots();
        if let Some(path) = &cfg.extra_ca_file {
            roots.extend(load_ca_file(path)?);
        }
        builder = builder.tls_certs_only(roots);
        let http = builder.build().map_err(PlatformError::Http)?;
        Ok(PlatformClient {
            http,
            base,
            authorization,
            secret: cfg.hmac_secret.clone(),
            gateway_id: cfg.gateway_id.clone(),
            key_id: cfg.key_id.clone(),
            low_speed_time: cfg.low_speed_time,
            clock_offset: AtomicI64::new(0),
            observed_skew: Mutex::new(None),
            last_success: Mutex::new(None),
        })
    }

    /// Seconds added to the system clock when signing. A gateway without RTC that learnt the
    /// real time elsewhere (see `observed_clock_skew`) can correct its signatures with it.
    pub fn set_clock_offset(&self, secs: i64) {
        self.clock_offset.store(secs, Ordering::Relaxed);
    }

    /// The current signing clock offset in seconds.
    pub fn clock_offset(&self) -> i64 {
        self.clock_offset.load(Ordering::Relaxed)
    }

    /// After a refused timestamp: sign with the platform's clock (as last seen in a `Date`
    /// header) from now on. Returns the new offset, or `None` when no usable `Date` was seen.
    pub(crate) fn adopt_observed_clock(&self) -> Option<i64> {
        let skew = self.observed_clock_skew().filter(|s| *s != 0)?;
        let offset = self.clock_offset().saturating_add(skew);
        self.set_clock_offset(offset);
        // The skew is now folded into the offset; the next answer measures it afresh.
        if let Ok(mut seen) = self.observed_skew.lock() {
            *seen = Some(0);
        }
        Some(offset)
    }

    /// Platform clock minus our signing clock, in seconds, from the `Date` header of the last
    /// answer that had one. Only second-accurate; `None` before any answer.
    pub fn observed_clock_skew(&self) -> Option<i64> {
        self.observed_skew.lock().ok().and_then(|g| *g)
    }

    /// Time since the platform last answered 2xx (a batch, a heartbeat, an outbound pull);
    /// `None` before the first. Measured on the monotonic clock, which a Pi without a real-time
    /// clock does not jump when NTP or the modem sets the wall clock.
    pub(crate) fn since_last_success(&self) -> Option<std::time::Duration> {
        self.last_success
            .lock()
            .ok()
            .and_then(|t| *t)
            .map(|t| t.elapsed())
    }

    /// Posts a batch. `Ok` means the platform has every incident of it (new or duplicate).
    pub async fn post_batch(&self, batch: &Batch) -> Result<BatchAck, PostError> {
        let body = self.send(BATCHES_PATH, batch).await?;
        match serde_json::from_slice::<BatchAck>(&body) {
            Ok(ack) => {
                if ack.batch_id != batch.batch_id {
                    tracing::warn!(
                        batch_id = %batch.batch_id,
                        acked = %ack.batch_id,
                        "platform acknowledged a different batch id; the 2xx still counts"
                    );
                }
                Ok(ack)
            }
            Err(e) => {
                // The 2xx is what matters: the platform took the batch. Re-sending it because
                // the ack is odd would only produce duplicates.
                tracing::warn!(
                    batch_id = %batch.batch_id,
                    error = %e,
                    body = %snippet(&body),
                    "platform accepted the batch but its answer is not a BatchAck"
                );
                Ok(BatchAck {
                    batch_id: batch.batch_id.clone(),
                    accepted: u32::try_from(batch.incidents.len()).unwrap_or(u32::MAX),
                    duplicates: 0,
                })
            }
        }
    }

    pub async fn post_heartbeat(&self, heartbeat: &Heartbeat) -> Result<HeartbeatAck, PostError> {
        let body = self.send(HEARTBEAT_PATH, heartbeat).await?;
        match serde_json::from_slice::<HeartbeatAck>(&body) {
            Ok(ack) => Ok(ack),
            Err(e) => {
                tracing::warn!(error = %e, body = %snippet(&body), "heartbeat answer is not a HeartbeatAck");
                Ok(HeartbeatAck {
                    server_time: String::new(),
                })
            }
        }
    }

    /// Asks for up to `limit` outbound messages for this gateway's reporters.
    pub async fn pull_outbound(
        &self,
        gateway_id: &str,
        limit: u32,
    ) -> Result<Vec<OutboundMessage>, PostError> {
        let request = OutboundPullRequest {
            gateway_id: gateway_id.to_string(),
            limit,
        };
        let body = self.send(OUTBOUND_PULL_PATH, &request).await?;
        // Unlike a batch ack, these messages must be read to be sent. The platform leases pulled
        // messages and offers them again later, so a retry loses nothing.
        serde_json::from_slice::<OutboundPull>(&body)
            .map(|pull| pull.messages)
            .map_err(|e| PostError::Retry {
                reason: format!(
                    "outbound pull answer is not a message list ({e}): {}",
                    snippet(&body)
                ),
                retry_after: None,
            })
    }

    pub async fn post_outbound_status(
        &self,
        report: &OutboundStatusReport,
    ) -> Result<OutboundStatusAck, PostError> {
        let body = self.send(OUTBOUND_STATUS_PATH, report).await?;
        match serde_json::from_slice::<OutboundStatusAck>(&body) {
            Ok(ack) => Ok(ack),
            Err(e) => {
                tracing::warn!(error = %e, body = %snippet(&body), "outbound status answer is not an OutboundStatusAck");
                Ok(OutboundStatusAck {
                    updated: u32::try_from(report.statuses.len()).unwrap_or(u32::MAX),
                    unknown: Vec::new(),
                })
            }
        }
    }

    /// Serialises, signs and posts `payload`; returns the body of a 2xx answer.
    async fn send<T: Serialize>(&self, path: &str, payload: &T) -> Result<Vec<u8>, PostError> {
        let url = self.base.join(path).map_err(|e| PostError::Rejected {
            status: 0,
            body: format!("cannot build the URL for {path}: {e}"),
        })?;
        let body = serde_json::to_vec(payload).map_err(|e| PostError::Rejected {
            status: 0,
            body: format!("cannot serialise the request: {e}"),
        })?;
        let mut request = self
            .http
            .post(url.clone())
            .header(AUTHORIZATION, &self.authorization)
            .header(CONTENT_TYPE, "application/json");
        if let Some(secret) = &self.secret {
            // Signed afresh for every attempt: a new nonce and time, so a retry is never a replay.
            let ts = sign::unix_now().saturating_add(self.clock_offset.load(Ordering::Relaxed));
            let timestamp = ts.to_string();
            let nonce = sign::new_nonce();
            let endpoint = format!("/{path}");
            let parts = sign::SignedParts {
                method: "POST",
                path: &endpoint,
                gateway_id: &self.gateway_id,
                key_id: &self.key_id,
                nonce: &nonce,
                timestamp: &timestamp,
                body: &body,
            };
            for (name, value) in sign::v2_headers(secret, &parts) {
                request = request.header(name, value);
            }
        }
        let mut response = request
            .body(body)
            .send()
            .await
            .map_err(|e| PostError::Retry {
                reason: format!("cannot reach {}: {}", without_query(&url), error_chain(&e)),
                retry_after: None,
            })?;
        let status = response.status();
        self.note_server_date(response.headers());
        let (answer, read_error) = read_limited(&mut response, self.low_speed_time).await;
        if let Some(slow) = read_error.as_ref().filter(|e| e.starts_with(TOO_SLOW)) {
            // Nothing read from a trickle can be trusted to be whole: try again later.
            return Err(PostError::Retry {
                reason: format!("{slow} ({})", without_query(&url)),
                retry_after: None,
            });
        }
        if status.is_success() {
            if let Ok(mut last) = self.last_success.lock() {
                *last = Some(std::time::Instant::now());
            }
            if let Some(e) = read_error {
                // The status line is the platform's word; a body cut off afterwards does not undo it.
                tracing::warn!(%status, error = %e, "platform answered 2xx but the body could not be read");
            }
            return Ok(answer);
        }
        let error = classify(
            status,
            response.headers(),
            &answer,
            OffsetDateTime::now_utc(),
        );
        if status == StatusCode::UNAUTHORIZED {
            self.explain_unauthorized(&answer);
        }
        Err(error)
    }

    fn note_server_date(&self, headers: &HeaderMap) {
        let Some(server) = headers
            .get(DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date)
        else {
            return;
        };
        let ours = sign::unix_now().saturating_add(self.clock_offset.load(Ordering::Relaxed));
        if let Ok(mut skew) = self.observed_skew.lock() {
            *skew = Some(server.unix_timestamp().saturating_sub(ours));
        }
    }

    /// A 401 for a stale timestamp is a clock problem, not a credentials problem: say so.
    fn explain_unauthorized(&self, body: &[u8]) {
        let code = serde_json::from_slice::<ErrorBody>(body)
            .map(|e| e.code.to_string())
            .unwrap_or_default();
        if code == ErrorCode::TimestampOutOfWindow.as_str() {
            tracing::error!(
                skew_secs = ?self.observed_clock_skew(),
                "platform refused the request timestamp: the gateway clock is wrong; check time sync"
            );
        } else {
            tracing::error!(%code, "platform refused our credentials: check the token and the HMAC secret");
        }
    }
}

/// Sorts a non-2xx answer into retry or rejected.
fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
) -> PostError {
    let code = status.as_u16();
    let retryable = status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS;
    if retryable {
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        return PostError::Retry {
            reason: format!("{PLATFORM_ANSWERED}{status}: {}", snippet(body)),
            retry_after,
        };
    }
    if status.is_redirection() {
        let target = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        return PostError::Rejected {
            status: code,
            body: format!(
                "platform redirects to {target}; redirects are not followed, fix the platform url"
            ),
        };
    }
    PostError::Rejected {
        status: code,
        body: truncate_chars(&String::from_utf8_lossy(body), REJECTED_BODY_LIMIT),
    }
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3). A date in the past is
/// "now" (zero delay).
fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let when = parse_http_date(value)?;
    let secs = (when - now).whole_seconds();
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only HTTP-date form senders may use.
fn parse_http_date(value: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    PrimitiveDateTime::parse(value.trim(), &format)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

fn check_url(url: &str) -> Result<Url, PlatformError> {
    let mut parsed = Url::parse(url.trim()).map_err(|e| PlatformError::BadUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    match parsed.scheme() {
        "https" => {}
        "http" => {
            let loopback = parsed.host_str().is_some_and(config::is_loopback_host);
            if !loopback {
                return Err(PlatformError::PlainHttpNotLoopback {
                    url: url.to_string(),
                });
            }
        }
        other => {
            return Err(PlatformError::UnsupportedScheme {
                url: url.to_string(),
                scheme: other.to_string(),
            });
        }
    }
    if parsed.host().is_none() {
        return Err(PlatformError::BadUrl {
            url: url.to_string(),
            reason: "no host".to_string(),
        });
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(PlatformError::BadUrl {
            url: url.to_string(),
            reason: "a base URL has no ?query or #fragment".to_string(),
        });
    }
    // Url::join replaces the last path segment unless the base ends with '/'.
    if !parsed.path().ends_with('/') {
        let path = format!("{}/", parsed.path());
        parsed.set_path(&path);
    }
    Ok(parsed)
}

/// `host` as `Url::host_str` gives it: IPv6 addresses in brackets.
/// The Mozilla roots shipped inside the binary.
/// Makes ring the process's TLS crypto provider, which reqwest uses for every client it builds
/// (reqwest is built without a provider of its own: see the workspace Cargo.toml). Idempotent;
/// any code building a `reqwest::Client` calls it first.
pub fn install_tls_provider() {
    // Err only when a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn built_in_roots() -> Vec<reqwest::Certificate> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok())
        .collect()
}

fn load_ca_file(path: &PathBuf) -> Result<Vec<reqwest::Certificate>, PlatformError> {
    let pem = std::fs::read(path).map_err(|source| PlatformError::CaFileRead {
        path: path.clone(),
        source,
    })?;
    let certs =
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| PlatformError::CaFileInvalid {
            path: path.clone(),
            reason: error_chain(&e),
        })?;
    if certs.is_empty() {
        return Err(PlatformError::CaFileInvalid {
            path: path.clone(),
            reason: "no BEGIN CERTIFICATE block".to_string(),
        });
    }
    Ok(certs)
}

/// How a body dropped for its low speed is reported by `read_limited`.
const TOO_SLOW: &str = "the platform sends its answer too slowly";

/// Reads at most `RESPONSE_LIMIT` bytes of the body; a read error ends the body early, and so
/// does a body that brings less than `LOW_SPEED_BYTES` in a `low_speed` window (its error
/// starts with `TOO_SLOW`).
async fn read_limited(
    response: &mut reqwest::Response,
    low_speed: Duration,
) -> (Vec<u8>, Option<String>) {
    let mut body = Vec::new();
    let mut window_start = tokio::time::Instant::now();
    let mut window_bytes = 0usize;
    loop {
        let deadline = window_start + low_speed;
        let next = tokio::time::timeout_at(deadline, response.chunk()).await;
        match next {
            Ok(Ok(Some(chunk))) => {
                let room = RESPONSE_LIMIT.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= RESPONSE_LIMIT {
                    return (body, None);
                }
                window_bytes += chunk.len();
                if window_bytes >= LOW_SPEED_BYTES {
                    window_start = tokio::time::Instant::now();
                    window_bytes = 0;
                }
            }
            Ok(Ok(None)) => return (body, None),
            Ok(Err(e)) => return (body, Some(error_chain(&e))),
            Err(_) => {
                return (
                    body,
                    Some(format!(
                        "{TOO_SLOW}: less than {LOW_SPEED_BYTES} bytes in {low_speed:?}"
                    )),
                );
            }
        }
    }
}

/// An error with its causes ("error sending request: … : Connection refused"), since the
/// outermost reqwest message rarely says what a technician needs.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn without_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

fn snippet(body: &[u8]) -> String {
    truncate_chars(&String::from_utf8_lossy(body), 200)
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use time::macros::datetime;

    /// Which refusals pause forwarding (the box's setup) and which quarantine (the batch).
    #[test]
    fn a_refusal_of_the_box_pauses_and_a_refusal_of_the_content_does_not() {
        let code = |c: &str| format!(r#"HTTP 401: {{"code":"{c}","message":"m"}}"#);
        let cases = [
            (401, code("bad_token"), Diagnosis::Token, true),
            (401, code("bad_signature"), Diagnosis::Signature, true),
            (401, code("missing_signature"), Diagnosis::Signature, true),
            (403, code("bad_signature"), Diagnosis::Signature, true),
            (
                401,
                code("timestamp_out_of_window"),
                Diagnosis::Clock,
                false,
            ),
            (401, String::new(), Diagnosis::Token, true),
            (
                403,
                "<html>Forbidden</html>".into(),
                Diagnosis::Forbidden,
                true,
            ),
            (404, String::new(), Diagnosis::Url, true),
            (405, String::new(), Diagnosis::Url, true),
            (308, String::new(), Diagnosis::Redirect, true),
            (407, String::new(), Diagnosis::Proxy, true),
            (400, code("invalid_batch"), Diagnosis::Content, false),
            (413, String::new(), Diagnosis::Content, false),
            (422, String::new(), Diagnosis::Content, false),
            (503, String::new(), Diagnosis::PlatformBusy, false),
        ];
        for (status, body, want, pauses) in cases {
            let d = Diagnosis::of_refusal(status, &body);
            assert_eq!(d, want, "{status} {body}");
            assert_eq!(d.pauses_forwarding(), pauses, "{status} {body}");
        }
    }

    fn cfg(url: &str) -> PlatformClientConfig {
        PlatformClientConfig {
            url: url.to_string(),
            token: "t".to_string(),
            hmac_secret: None,
            gateway_id: "goma-01".to_string(),
            key_id: sign::DEFAULT_KEY_ID.to_string(),
            timeout: Duration::from_secs(5),
            low_speed_time: Duration::from_secs(5),
            extra_ca_file: None,
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.3.2.1/api",
            "http://[::1]:9000/",
            "http://localhost:1/x/",
            "https://platform.example.org/kufatilia",
            "https://192.0.2.10/",
        ] {
            assert!(PlatformClient::new(&cfg(ok)).is_ok(), "{ok}");
        }
        for refused in [
            "http://192.0.2.10/",
            "http://platform.example.org/",
            "http://localhost.example.org/",
            "http://10.0.0.1:8080",
        ] {
            assert!(
                matches!(
                    PlatformClient::new(&cfg(refused)),
                    Err(PlatformError::PlainHttpNotLoopback { .. })
                ),
                "{refused}"
            );
        }
        assert!(matches!(
            PlatformClient::new(&cfg("ftp://127.0.0.1/")),
            Err(PlatformError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            PlatformClient::new(&cfg("not a url")),
            Err(PlatformError::BadUrl { .. })
        ));
        assert!(matches!(
            PlatformClient::new(&cfg("https://p.example/?a=1")),
            Err(PlatformError::BadUrl { .. })
        ));
    }

    #[test]
    fn endpoints_are_appended_to_the_base_path() {
        let c = PlatformClient::new(&cfg("https://p.example/kufatilia")).unwrap();
        assert_eq!(c.base.as_str(), "https://p.example/kufatilia/");
        assert_eq!(
            c.base.join(BATCHES_PATH).unwrap().as_str(),
            "https://p.example/kufatilia/v1/batches"
        );
    }

    #[test]
    fn bad_tokens_and_secrets_are_refused() {
        let mut c = cfg("https://p.example/");
        c.token = "  ".to_string();
        assert!(matches!(
            PlatformClient::new(&c),
            Err(PlatformError::EmptyToken)
        ));
        c.token = "a\nb".to_string();
        assert!(matches!(
            PlatformClient::new(&c),
            Err(PlatformError::BadToken)
        ));
        c.token = "ok".to_string();
        c.hmac_secret = Some(Vec::new());
        assert!(matches!(
            PlatformClient::new(&c),
            Err(PlatformError::EmptySecret)
        ));
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cfg("https://p.example/");
        c.extra_ca_file = Some(dir.path().join("missing.pem"));
        let err = PlatformClient::new(&c).unwrap_err();
        assert!(matches!(err, PlatformError::CaFileRead { .. }));
        assert!(err.to_string().contains("missing.pem"));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        c.extra_ca_file = Some(empty);
        assert!(matches!(
            PlatformClient::new(&c),
            Err(PlatformError::CaFileInvalid { .. })
        ));
    }

    #[test]
    fn the_mozilla_roots_are_built_in() {
        // Without them a box lacking ca-certificates could reach no https platform at all.
        assert!(built_in_roots().len() > 100, "{}", built_in_roots().len());
        assert!(PlatformClient::new(&cfg("https://platform.example.org/api")).is_ok());
    }

    #[test]
    fn only_a_stale_timestamp_is_a_clock_refusal() {
        let body = |code: &str| format!(r#"{{"code":"{code}","message":"x","server_time":null}}"#);
        let rejected = |status, body| PostError::Rejected { status, body };
        assert!(rejected(401, body("timestamp_out_of_window")).is_clock_refusal());
        assert!(!rejected(401, body("bad_signature")).is_clock_refusal());
        assert!(!rejected(400, body("timestamp_out_of_window")).is_clock_refusal());
        assert!(!rejected(401, "not json".into()).is_clock_refusal());
        let retry = PostError::Retry {
            reason: String::new(),
            retry_after: None,
        };
        assert!(!retry.is_clock_refusal());
    }

    #[test]
    fn the_observed_skew_becomes_the_signing_offset() {
        let client = PlatformClient::new(&cfg("http://127.0.0.1:9")).unwrap();
        assert_eq!(client.adopt_observed_clock(), None, "nothing seen yet");
        *client.observed_skew.lock().unwrap() = Some(7200);
        client.set_clock_offset(-100);
        assert_eq!(client.adopt_observed_clock(), Some(7100));
        assert_eq!(client.clock_offset(), 7100);
        assert_eq!(client.adopt_observed_clock(), None, "already folded in");
    }

    #[test]
    fn statuses_are_classified() {
        let now = datetime!(2025-03-14 07:00:00 UTC);
        let none = HeaderMap::new();
        for code in [500, 502, 503, 504, 408, 429] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(classify(status, &none, b"", now).is_retry(), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 413, 422] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(
                classify(status, &none, b"nope", now),
                PostError::Rejected {
                    status: code,
                    body: "nope".to_string()
                }
            );
        }
        let mut moved = HeaderMap::new();
        moved.insert(
            LOCATION,
            HeaderValue::from_static("http://elsewhere.example/"),
        );
        let err = classify(StatusCode::MOVED_PERMANENTLY, &moved, b"", now);
        assert!(
            matches!(err, PostError::Rejected { status: 301, ref body } if body.contains("elsewhere"))
        );
    }

    #[test]
    fn long_rejection_bodies_are_truncated_on_a_character_boundary() {
        let body = "é".repeat(5000);
        let err = classify(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            body.as_bytes(),
            OffsetDateTime::now_utc(),
        );
        let PostError::Rejected { body, .. } = err else {
            panic!("expected Rejected");
        };
        assert_eq!(body.chars().count(), REJECTED_BODY_LIMIT + 1);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = datetime!(2025-03-14 07:00:00 UTC);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Fri, 14 Mar 2025 07:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Fri, 14 Mar 2025 06:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);

        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        let err = classify(StatusCode::TOO_MANY_REQUESTS, &headers, b"", now);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    }
}
