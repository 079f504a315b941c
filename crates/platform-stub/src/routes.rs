//! HTTP side of the reference receiver: authentication, injected failures, and one small handler
//! per endpoint. Handlers only check and translate; storage runs on the database thread.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::Uri;
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use time::OffsetDateTime;

use platform_api::sign::{self, TokenCheck};
use platform_api::{
    self as api, BATCHES_PATH, ErrorBody, ErrorCode, HEARTBEAT_PATH, HeartbeatAck, MAX_BODY_BYTES,
    OUTBOUND_PULL_PATH, OUTBOUND_STATUS_PATH, OutboundPull, OutboundPullRequest,
    OutboundStatusReport, Recipient, rfc3339,
};

use super::db::{self, Db, DbError, EnqueueError};

/// Most messages handed out by one pull, whatever `limit` asks.
const MAX_PULL: u32 = 100;

/// A failure the test controls asked for: answer `status` to the next `remaining` batch posts.
pub(super) struct Fault {
    pub(super) status: StatusCode,
    pub(super) remaining: usize,
    pub(super) retry_after: Option<HeaderValue>,
}

/// One gateway's credentials, as checked.
pub(super) struct Gateway {
    /// `None`: any id (a single-gateway stub that was not told the id).
    pub(super) id: Option<String>,
    pub(super) token: TokenCheck,
    pub(super) keys: Vec<(String, Vec<u8>)>,
}

pub(super) struct Shared {
    pub(super) db: Db,
    pub(super) gateways: Vec<Gateway>,
    pub(super) admin: Option<TokenCheck>,
    pub(super) accept_v1: bool,
    /// Nonces of v2 requests seen inside the clock window, for every gateway.
    pub(super) nonces: Mutex<sign::NonceCache>,
    /// Test control: refuse every batch whose body holds these bytes with this status.
    pub(super) refuse_containing: Mutex<Option<(StatusCode, Vec<u8>)>>,
    pub(super) window: Duration,
    pub(super) lease_secs: AtomicU64,
    pub(super) fault: Mutex<Option<Fault>>,
    pub(super) batch_posts: AtomicUsize,
    /// Hand out up to `MAX_PULL` messages whatever a pull's `limit` asks, as a broken platform
    /// would.
    pub(super) ignore_pull_limit: AtomicBool,
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(&format!("/{BATCHES_PATH}"), post(post_batch))
        .route(&format!("/{HEARTBEAT_PATH}"), post(post_heartbeat))
        .route(&format!("/{OUTBOUND_PULL_PATH}"), post(pull_outbound))
        .route(
            &format!("/{OUTBOUND_STATUS_PATH}"),
            post(post_outbound_status),
        )
        .route("/admin/outbound", post(admin_enqueue).get(admin_list))
        .route("/health", get(health))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

fn now_text() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// A request the stub refuses: an HTTP status, an `ErrorBody`, and maybe one extra header.
#[derive(Debug)]
pub(super) struct Refusal {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    // Boxed: rare, and it would make every `Result<_, Refusal>` twice as large.
    header: Option<Box<(HeaderName, HeaderValue)>>,
}

impl Refusal {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
            header: None,
        }
    }

    fn bad_request(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Refusal {
        self.header = Some(Box::new((name, value)));
        self
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: self.message,
            server_time: Some(now_text()),
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some((name, value)) = self.header.map(|h| *h) {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<DbError> for Refusal {
    fn from(e: DbError) -> Refusal {
        tracing::error!(error = %e, "platform-stub storage failed");
        // 503, not 500 with details: the gateway retries, and nothing about the disk leaks out.
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StorageUnavailable,
            "the receiver could not store the request; try again later",
        )
    }
}

type Answer = Result<Response, Refusal>;

impl Shared {
    /// Takes one injected failure, if any is pending.
    fn injected_failure(&self) -> Result<(), Refusal> {
        let Ok(mut guard) = self.fault.lock() else {
            return Ok(());
        };
        let Some(fault) = guard.as_mut() else {
            return Ok(());
        };
        let mut refusal = Refusal::new(
            fault.status,
            ErrorCode::InjectedFailure,
            format!("test control: answering {}", fault.status),
        );
        if let Some(ra) = &fault.retry_after {
            refusal = refusal.with_header(RETRY_AFTER, ra.clone());
        }
        fault.remaining = fault.remaining.saturating_sub(1);
        if fault.remaining == 0 {
            *guard = None;
        }
        Err(refusal)
    }

    fn token_refusal() -> Refusal {
        tracing::warn!("platform-stub refused a request: missing or wrong bearer token");
        Refusal::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::BadToken,
            "missing or wrong bearer token",
        )
        .with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// The admin endpoints' own token (never a gateway's).
    fn check_admin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        match &self.admin {
            Some(admin) if admin.matches_header(authorization) => Ok(()),
            Some(_) => Err(Self::token_refusal()),
            None => Err(Refusal::new(
                StatusCode::FORBIDDEN,
                ErrorCode::BadToken,
                "the admin API is off: start the stub with --admin-token-file",
            )),
        }
    }

    /// Which gateway the request comes from (by its token), and proof that it signed this very
    /// request (v2: method, path, gateway, key, nonce, time, body; the nonce used once). Returns
    /// the gateway id the request may speak for (`None`: any, for an unnamed single gateway that
    /// does not sign).
    fn authenticate(
        &self,
        headers: &HeaderMap,
        path: &str,
        body: &[u8],
    ) -> Result<Option<String>, Refusal> {
        let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(gateway) = self
            .gateways
            .iter()
            .find(|g| g.token.matches_header(authorization))
        else {
            return Err(Self::token_refusal());
        };
        if gateway.keys.is_empty() {
            return Ok(gateway.id.clone());
        }
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let refused = |e: sign::SignatureError| {
            tracing::warn!(code = %e.code(), "platform-stub refused a request: {e}");
            Refusal::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string())
        };
        let now = sign::unix_now();
        let signature = header(sign::SIGNATURE_HEADER);
        if !sign::is_v2(signature) {
            if !self.accept_v1 {
                let e = sign::SignatureError::MissingSignature;
                tracing::warn!("platform-stub refused a request without a v2 signature");
                return Err(Refusal::new(
                    StatusCode::UNAUTHORIZED,
                    e.code(),
                    "no v2 signature: sign requests with v2 (docs/platform-api.md); v1 is \
                     accepted only when the receiver is started with --accept-v1",
                ));
            }
            let ts = header(sign::TIMESTAMP_HEADER);
            let mut last = sign::SignatureError::MissingSignature;
            for (_, secret) in &gateway.keys {
                match sign::verify(secret, ts, signature, body, now, self.window) {
                    Ok(()) => return Ok(gateway.id.clone()),
                    Err(e) => last = e,
                }
            }
            return Err(refused(last));
        }
        let claimed = header(sign::GATEWAY_HEADER).map(str::trim);
        if let (Some(own), Some(claimed)) = (&gateway.id, claimed)
            && own != claimed
        {
            return Err(gateway_mismatch(own, claimed));
        }
        let request = sign::ReceivedV2 {
            method: "POST",
            path,
            gateway_id: claimed,
            key_id: header(sign::KEY_ID_HEADER),
            nonce: header(sign::NONCE_HEADER),
            timestamp: header(sign::TIMESTAMP_HEADER),
            signature,
            body,
        };
        let secret_for = |_: &str, key_id: &str| {
            gateway
                .keys
                .iter()
                .find(|(id, _)| id == key_id)
                .map(|(_, secret)| secret.as_slice())
        };
        let verified = sign::verify_v2(&request, secret_for, now, self.window).map_err(refused)?;
        match self.nonces.lock() {
            Ok(mut nonces) => nonces.admit(&verified, now).map_err(refused)?,
            // Without the cache no replay can be ruled out: refuse rather than guess.
            Err(_) => {
                return Err(Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::StorageUnavailable,
                    "the receiver cannot check nonces now; try again later",
                ));
            }
        }
        Ok(Some(verified.gateway_id))
    }

    /// The test control `refuse_batches_containing`.
    fn refused_content(&self, body: &[u8]) -> Result<(), Refusal> {
        let Ok(slot) = self.refuse_containing.lock() else {
            return Ok(());
        };
        match slot.as_ref() {
            Some((status, needle))
                if !needle.is_empty() && body.windows(needle.len()).any(|w| w == needle) =>
            {
                Err(Refusal::new(
                    *status,
                    ErrorCode::InjectedFailure,
                    format!("test control: this batch is always answered {status}"),
                ))
            }
            _ => Ok(()),
        }
    }

    fn lease_secs(&self) -> i64 {
        i64::try_from(self.lease_secs.load(Ordering::Relaxed)).unwrap_or(i64::MAX)
    }
}

fn gateway_mismatch(own: &str, claimed: &str) -> Refusal {
    tracing::warn!(token_of = %own, claimed = %claimed, "platform-stub refused a request in another gateway's name");
    Refusal::new(
        StatusCode::FORBIDDEN,
        ErrorCode::GatewayMismatch,
        format!("this token belongs to gateway {own:?}, not {claimed:?}"),
    )
}

/// The body's `gateway_id` must be the gateway the request was authenticated as.
fn same_gateway(proved: Option<&str>, body: &str) -> Result<(), Refusal> {
    match proved {
        Some(own) if own != body => Err(gateway_mismatch(own, body)),
        _ => Ok(()),
    }
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8], code: ErrorCode) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::bad_request(code, e.to_string()))
}

async fn post_batch(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    s.batch_posts.fetch_add(1, Ordering::Relaxed);
    s.injected_failure()?;
    let proved = s.authenticate(&headers, uri.path(), &body)?;
    s.refused_content(&body)?;
    let batch = api::parse_batch(&body).map_err(|violation| {
        tracing::warn!(%violation, "platform-stub refused a batch");
        Refusal::bad_request(ErrorCode::InvalidBatch, violation.to_string())
    })?;
    same_gateway(proved.as_deref(), &batch.gateway_id)?;
    let received_at = now_text();
    let gateway = batch.gateway_id.clone();
    let stored =
        s.db.call(move |c| db::store_batch(c, &batch, &received_at))
            .await?;
    if !stored.conflicts.is_empty() {
        tracing::warn!(
            gateway = %gateway,
            ids = ?stored.conflicts,
            "incident ids re-sent with different content; kept the first version \
             (is the gateway reusing ids after a store reset?)"
        );
    }
    tracing::info!(
        gateway = %gateway,
        batch_id = %stored.ack.batch_id,
        accepted = stored.ack.accepted,
        duplicates = stored.ack.duplicates,
        "platform-stub stored a batch"
    );
    Ok(Json(stored.ack).into_response())
}

async fn post_heartbeat(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let proved = s.authenticate(&headers, uri.path(), &body)?;
    let heartbeat = api::parse_heartbeat(&body)
        .map_err(|v| Refusal::bad_request(ErrorCode::InvalidHeartbeat, v.to_string()))?;
    same_gateway(proved.as_deref(), &heartbeat.gateway_id)?;
    let received_at = now_text();
    let ack = HeartbeatAck {
        server_time: received_at.clone(),
    };
    s.db.call(move |c| db::store_heartbeat(c, &heartbeat, &received_at))
        .await?;
    Ok(Json(ack).into_response())
}

async fn pull_outbound(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let proved = s.authenticate(&headers, uri.path(), &body)?;
    let request: OutboundPullRequest = parse_json(&body, ErrorCode::InvalidPull)?;
    request
        .validate()
        .map_err(|v| Refusal::bad_request(ErrorCode::InvalidPull, v.to_string()))?;
    same_gateway(proved.as_deref(), &request.gateway_id)?;
    let limit = if s.ignore_pull_limit.load(Ordering::Relaxed) {
        MAX_PULL
    } else {
        request.limit.min(MAX_PULL)
    };
    let lease = s.lease_secs();
    let now = sign::unix_now();
    let messages =
        s.db.call(move |c| db::pull_outbound(c, &request.gateway_id, limit, now, lease))
            .await?;
    Ok(Json(OutboundPull { messages }).into_response())
}

async fn post_outbound_status(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let proved = s.authenticate(&headers, uri.path(), &body)?;
    let report: OutboundStatusReport = parse_json(&body, ErrorCode::InvalidStatus)?;
    report
        .validate()
        .map_err(|v| Refusal::bad_request(ErrorCode::InvalidStatus, v.to_string()))?;
    same_gateway(proved.as_deref(), &report.gateway_id)?;
    let now = now_text();
    let ack =
        s.db.call(move |c| db::record_statuses(c, &report, &now))
            .await?;
    Ok(Json(ack).into_response())
}

/// What an operator posts to `/admin/outbound`.
#[derive(Debug, Deserialize)]
struct EnqueueRequest {
    to: Recipient,
    text: String,
}

/// Admin endpoints take the admin token only (no signature), so `curl` can drive them; no
/// gateway's token opens them.
async fn admin_enqueue(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Answer {
    s.check_admin(&headers)?;
    let request: EnqueueRequest = parse_json(&body, ErrorCode::InvalidMessage)?;
    let now = now_text();
    let queued =
        s.db.call(move |c| Ok(db::enqueue_outbound(c, &request.to, &request.text, &now)))
            .await?;
    match queued {
        Ok(message) => Ok((StatusCode::CREATED, Json(message)).into_response()),
        Err(e @ EnqueueError::UnknownRecipient(_)) => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownRecipient,
            e.to_string(),
        )),
        Err(e @ EnqueueError::EmptyText) => Err(Refusal::bad_request(
            ErrorCode::InvalidMessage,
            e.to_string(),
        )),
        Err(EnqueueError::Db(e)) => Err(e.into()),
    }
}

async fn admin_list(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Answer {
    s.check_admin(&headers)?;
    let records = s.db.call(db::outbound).await?;
    Ok(Json(records).into_response())
}

async fn health() -> Response {
    Json(serde_json::json!({ "status": "ok", "server_time": now_text() })).into_response()
}

async fn not_found() -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "no such endpoint",
    )
}
