//! Request authentication for the platform contract: the bearer token, the HMAC-SHA256 request
//! signature with its timestamp window and replay cache, and the keyed reporter pseudonym.
//!
//! Signature v2 (what the gateway sends): HMAC-SHA256 over one canonical string binding the
//! method, the endpoint path, the gateway id, the key id, a nonce, the timestamp and the body's
//! SHA-256 ([`canonical_v2`]; docs/platform-api.md has the worked example). A receiver keeps
//! each nonce for the clock window ([`NonceCache`]) so a captured request cannot be played again,
//! to the same endpoint, another endpoint or in another gateway's name.
//!
//! Signature v1 (`hex(HMAC-SHA256(secret, "<unix seconds>" + "." + body))`) is kept only for
//! receivers that still accept it during the change-over (`verify`).

use std::time::Duration;

use hmac::digest::common::Key;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::api::ErrorCode;

type HmacSha256 = Hmac<Sha256>;

/// Header with the unix time (seconds) the request was signed at.
pub const TIMESTAMP_HEADER: &str = "x-kufatilia-timestamp";
/// Header with one or more comma-separated `v1=<hex>` signatures.
pub const SIGNATURE_HEADER: &str = "x-kufatilia-signature";
/// How far a request timestamp may be from the receiver's clock, either way.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);
/// Prefix of reporter pseudonyms, so they cannot be mistaken for phone numbers.
pub(crate) const PSEUDONYM_PREFIX: &str = "r-";

/// Header naming the gateway the request speaks for (v2, signed).
pub const GATEWAY_HEADER: &str = "x-kufatilia-gateway";
/// Header naming which of the gateway's secrets signed the request (v2, signed).
pub const KEY_ID_HEADER: &str = "x-kufatilia-key-id";
/// Header with the request's single-use random nonce (v2, signed).
pub const NONCE_HEADER: &str = "x-kufatilia-nonce";
/// The key id a gateway signs with when its config names none.
pub const DEFAULT_KEY_ID: &str = "k1";
/// First line of the v2 canonical string: names the recipe, so no v2 signature can ever be
/// read as a signature of another scheme.
pub const V2_ALGORITHM: &str = "KUFATILIA-HMAC-SHA256-V2";

const SIGNATURE_SCHEME: &str = "v1=";
const SIGNATURE_SCHEME_V2: &str = "v2=";
/// Nonce length bounds a receiver accepts (the gateway sends 32 hex digits, 128 random bits).
const NONCE_LEN: std::ops::RangeInclusive<usize> = 16..=64;
const MAX_KEY_ID_LEN: usize = 64;
const PSEUDONYM_CONTEXT: &[u8] = b"kufatilia-reporter-v1\0";
const PSEUDONYM_HEX_LEN: usize = 16;

/// Why a signed request was refused. `code()` is what the receiver puts in its 401 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {TIMESTAMP_HEADER} header is missing")]
    MissingTimestamp,
    #[error("the {TIMESTAMP_HEADER} header {0:?} is not unix seconds")]
    BadTimestamp(String),
    #[error(
        "request timestamp {timestamp} is {skew_secs} s away from the receiver clock {now} \
         (allowed: {window_secs} s); check the gateway clock"
    )]
    OutsideWindow {
        timestamp: i64,
        now: i64,
        skew_secs: i64,
        window_secs: u64,
    },
    #[error("the {SIGNATURE_HEADER} header is missing")]
    MissingSignature,
    #[error("the {SIGNATURE_HEADER} header has no v1=<64 hex> signature")]
    MalformedSignature,
    #[error("the request signature does not match (wrong secret, or the body was changed)")]
    Mismatch,
    #[error("the {0} header is missing or malformed")]
    BadHeader(&'static str),
    #[error("no signing secret with key id {0:?} for this gateway")]
    UnknownKey(String),
    #[error("the nonce was already used: a replayed request")]
    Replayed,
}

impl SignatureError {
    pub fn code(&self) -> ErrorCode {
        match self {
            SignatureError::MissingTimestamp | SignatureError::BadTimestamp(_) => {
                ErrorCode::BadTimestamp
            }
            SignatureError::OutsideWindow { .. } => ErrorCode::TimestampOutOfWindow,
            SignatureError::MissingSignature | SignatureError::MalformedSignature => {
                ErrorCode::MissingSignature
            }
            SignatureError::Mismatch => ErrorCode::BadSignature,
            SignatureError::BadHeader(_) => ErrorCode::MissingSignature,
            SignatureError::UnknownKey(_) => ErrorCode::UnknownKey,
            SignatureError::Replayed => ErrorCode::ReplayedNonce,
        }
    }
}

/// An HMAC-SHA256 keyed with `secret`. HMAC takes keys of any length (RFC 2104: longer keys are
/// hashed, shorter ones zero-padded), done here so that building the MAC cannot fail.
fn mac(secret: &[u8]) -> HmacSha256 {
    let mut key = Key::<HmacSha256>::default();
    if secret.len() > key.len() {
        let digest = Sha256::digest(secret);
        key[..digest.len()].copy_from_slice(&digest);
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    HmacSha256::new(&key)
}

fn signing_mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut m = mac(secret);
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The value of the signature header for `body` signed at `timestamp`: `v1=<64 hex>`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = signing_mac(secret, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("{SIGNATURE_SCHEME}{}", hex::encode(tag))
}

/// The current unix time in seconds, by the system clock.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Checks a v1-signed request (the old recipe, for receivers that still accept it). `timestamp` and `signature` are the header values as received;
/// the MAC covers the timestamp header text exactly as sent. Every signature comparison is
/// constant-time; the header may carry several `v1=` entries (secret rotation): one match passes.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
    window: Duration,
) -> Result<(), SignatureError> {
    let ts_text = timestamp.ok_or(SignatureError::MissingTimestamp)?.trim();
    let ts = parse_timestamp(ts_text)?;
    check_window(ts, now, window)?;
    let header = signature.ok_or(SignatureError::MissingSignature)?;
    let candidates = tags(header, SIGNATURE_SCHEME);
    if candidates.is_empty() {
        return Err(SignatureError::MalformedSignature);
    }
    let expected = signing_mac(secret, ts_text, body);
    if candidates
        .iter()
        .any(|tag| expected.clone().verify_slice(tag).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn parse_timestamp(text: &str) -> Result<i64, SignatureError> {
    // Digits only: "+5", " 5" or "5.0" would verify differently on other platforms' parsers.
    if text.is_empty() || text.len() > 15 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::BadTimestamp(
            text.chars().take(40).collect(),
        ));
    }
    text.parse()
        .map_err(|_| SignatureError::BadTimestamp(text.to_string()))
}

/// What a v2 signature covers, each field exactly as it travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedParts<'a> {
    /// `POST` for every gateway request.
    pub method: &'a str,
    /// The endpoint path as the contract names it, with a leading `/`: `/v1/batches`. Not the
    /// full URL path, so a platform may mount the API under any prefix or behind a proxy.
    pub path: &'a str,
    pub gateway_id: &'a str,
    pub key_id: &'a str,
    pub nonce: &'a str,
    /// Unix seconds, digits only, as in the timestamp header.
    pub timestamp: &'a str,
    pub body: &'a [u8],
}

/// The v2 canonical string: eight lines joined by `\n`, no trailing newline.
///
/// ```text
/// KUFATILIA-HMAC-SHA256-V2
/// <METHOD>
/// <endpoint path>
/// <gateway id>
/// <key id>
/// <nonce>
/// <timestamp>
/// <lowercase hex SHA-256 of the body>
/// ```
pub fn canonical_v2(parts: &SignedParts<'_>) -> String {
    let digest = hex::encode(Sha256::digest(parts.body));
    [
        V2_ALGORITHM,
        &parts.method.to_ascii_uppercase(),
        parts.path,
        parts.gateway_id,
        parts.key_id,
        parts.nonce,
        parts.timestamp,
        &digest,
    ]
    .join("\n")
}

/// The value of the signature header for `parts`: `v2=<64 hex>`.
pub fn signature_v2(secret: &[u8], parts: &SignedParts<'_>) -> String {
    let mut m = mac(secret);
    m.update(canonical_v2(parts).as_bytes());
    format!(
        "{SIGNATURE_SCHEME_V2}{}",
        hex::encode(m.finalize().into_bytes())
    )
}

/// A fresh nonce: 32 lowercase hex digits (128 random bits).
pub fn new_nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Every header a v2-signed request carries besides `Authorization`, as (name, value).
pub fn v2_headers(secret: &[u8], parts: &SignedParts<'_>) -> [(&'static str, String); 5] {
    [
        (GATEWAY_HEADER, parts.gateway_id.to_string()),
        (KEY_ID_HEADER, parts.key_id.to_string()),
        (NONCE_HEADER, parts.nonce.to_string()),
        (TIMESTAMP_HEADER, parts.timestamp.to_string()),
        (SIGNATURE_HEADER, signature_v2(secret, parts)),
    ]
}

/// A v2 request as received: the header values (absent ones `None`), the method, the endpoint
/// path and the raw body.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedV2<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub gateway_id: Option<&'a str>,
    pub key_id: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

/// What a verified v2 request proved: who signed it with which key, and its nonce (for the
/// replay cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedV2 {
    pub gateway_id: String,
    pub key_id: String,
    pub nonce: String,
    pub timestamp: i64,
}

/// True when the signature header holds a v2 entry (a receiver that still accepts v1 uses this
/// to choose the check).
pub fn is_v2(signature: Option<&str>) -> bool {
    signature.is_some_and(|h| {
        h.split(',')
            .any(|p| p.trim().starts_with(SIGNATURE_SCHEME_V2))
    })
}

/// Checks a v2-signed request. `secret_for(gateway id, key id)` gives the secret the receiver
/// holds for that pair (`None`: unknown key). The nonce is *not* recorded here: pass the result
/// to [`NonceCache::admit`] before acting on the request.
pub fn verify_v2<'s>(
    request: &ReceivedV2<'_>,
    secret_for: impl Fn(&str, &str) -> Option<&'s [u8]>,
    now: i64,
    window: Duration,
) -> Result<VerifiedV2, SignatureError> {
    let ts_text = request
        .timestamp
        .ok_or(SignatureError::MissingTimestamp)?
        .trim();
    let ts = parse_timestamp(ts_text)?;
    check_window(ts, now, window)?;
    let header = request.signature.ok_or(SignatureError::MissingSignature)?;
    let gateway_id = request
        .gateway_id
        .map(str::trim)
        .filter(|g| !g.is_empty() && g.len() <= 128 && g.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or(SignatureError::BadHeader(GATEWAY_HEADER))?;
    let key_id = request
        .key_id
        .map(str::trim)
        .filter(|k| valid_token(k, 1..=MAX_KEY_ID_LEN))
        .ok_or(SignatureError::BadHeader(KEY_ID_HEADER))?;
    let nonce = request
        .nonce
        .map(str::trim)
        .filter(|n| valid_token(n, NONCE_LEN))
        .ok_or(SignatureError::BadHeader(NONCE_HEADER))?;
    let candidates = tags(header, SIGNATURE_SCHEME_V2);
    if candidates.is_empty() {
        return Err(SignatureError::MalformedSignature);
    }
    let secret =
        secret_for(gateway_id, key_id).ok_or_else(|| SignatureError::UnknownKey(key_id.into()))?;
    let parts = SignedParts {
        method: request.method,
        path: request.path,
        gateway_id,
        key_id,
        nonce,
        timestamp: ts_text,
        body: request.body,
    };
    let mut expected = mac(secret);
    expected.update(canonical_v2(&parts).as_bytes());
    if candidates
        .iter()
        .any(|tag| expected.clone().verify_slice(tag).is_ok())
    {
        Ok(VerifiedV2 {
            gateway_id: gateway_id.to_string(),
            key_id: key_id.to_string(),
            nonce: nonce.to_string(),
            timestamp: ts,
        })
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Key ids and nonces: letters, digits, `-`, `_`, `.`, within `len`.
fn valid_token(text: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn tags(header: &str, scheme: &str) -> Vec<Vec<u8>> {
    header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix(scheme))
        .filter_map(|h| hex::decode(h).ok())
        .filter(|tag| tag.len() == 32)
        .collect()
}

fn check_window(ts: i64, now: i64, window: Duration) -> Result<(), SignatureError> {
    let skew = ts.saturating_sub(now);
    let window_secs = window.as_secs();
    if skew.unsigned_abs() > window_secs {
        return Err(SignatureError::OutsideWindow {
            timestamp: ts,
            now,
            skew_secs: skew,
            window_secs,
        });
    }
    Ok(())
}

/// The receiver's memory of nonces seen inside the clock window. A nonce is kept until its
/// request's timestamp leaves the window: after that the timestamp check refuses the request
/// anyway, so the cache stays as small as the traffic of one window.
#[derive(Debug)]
pub struct NonceCache {
    window: Duration,
    seen: std::collections::HashMap<(String, String), i64>,
    /// When the cache was last swept of expired nonces.
    swept_at: i64,
}

impl NonceCache {
    pub fn new(window: Duration) -> NonceCache {
        NonceCache {
            window,
            seen: std::collections::HashMap::new(),
            swept_at: i64::MIN,
        }
    }

    /// Records the nonce of a verified request; `Err(Replayed)` when this gateway already used
    /// it inside the window.
    pub fn admit(&mut self, verified: &VerifiedV2, now: i64) -> Result<(), SignatureError> {
        let keep = i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX);
        if now.saturating_sub(self.swept_at) >= 1 {
            // A nonce whose timestamp is out of the window can no longer pass the time check.
            self.seen.retain(|_, ts| ts.saturating_add(keep) >= now);
            self.swept_at = now;
        }
        let key = (verified.gateway_id.clone(), verified.nonce.clone());
        if self.seen.contains_key(&key) {
            return Err(SignatureError::Replayed);
        }
        self.seen.insert(key, verified.timestamp);
        Ok(())
    }

    /// Nonces held now.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// The `Authorization` header value for a bearer token.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Compares presented bearer tokens with the expected one in constant time: both sides are
/// MACed under a per-process random key and only the MAC tags are compared, so neither the
/// token's content nor its length leaks through timing.
#[derive(Clone)]
pub struct TokenCheck {
    key: [u8; 32],
    expected: Vec<u8>,
}

impl TokenCheck {
    pub fn new(token: &str) -> TokenCheck {
        let key: [u8; 32] = rand::random();
        let mut m = mac(&key);
        m.update(token.as_bytes());
        TokenCheck {
            key,
            expected: m.finalize().into_bytes().to_vec(),
        }
    }

    /// True when `authorization` is `Bearer <the token>` (scheme case-insensitive).
    pub fn matches_header(&self, authorization: Option<&str>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let value = value.trim();
        let Some((scheme, presented)) = value.split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        let mut m = mac(&self.key);
        m.update(presented.trim().as_bytes());
        m.verify_slice(&self.expected).is_ok()
    }
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCheck(..)")
    }
}

/// Canonical form of a phone number before it is pseudonymised: separators dropped, a leading
/// "00" turned into "+". National numbers stay national (the country code is not guessed), so
/// the modem's own format — international for mobile senders — is what keeps pseudonyms stable.
/// Anything that is not a number (an alphanumeric sender) is only trimmed and lowercased.
pub(crate) fn normalise_phone(phone: &str) -> String {
    let trimmed = phone.trim();
    let compact: String = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}'))
        .collect();
    let (plus, digits) = match compact.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => match compact.strip_prefix("00") {
            Some(rest) if !rest.is_empty() => (true, rest),
            _ => (false, compact.as_str()),
        },
    };
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if plus {
            format!("+{digits}")
        } else {
            digits.to_string()
        }
    } else {
        trimmed.to_lowercase()
    }
}

/// The keyed pseudonym of a reporter: `r-` + the first 16 hex digits (64 bits) of
/// HMAC-SHA256(secret, context + normalised number). Stable for one secret, unlinkable without it.
pub fn pseudonym(secret: &[u8], phone: &str) -> String {
    let mut m = mac(secret);
    m.update(PSEUDONYM_CONTEXT);
    m.update(normalise_phone(phone).as_bytes());
    let tag = hex::encode(m.finalize().into_bytes());
    format!("{PSEUDONYM_PREFIX}{}", &tag[..PSEUDONYM_HEX_LEN])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"kufatilia-test-secret";
    const BODY: &[u8] = br#"{"schema_version":1}"#;
    const TS: i64 = 1_700_000_000;

    // Known answers computed with an independent HMAC implementation (Python's hmac module):
    //   hmac.new(b"kufatilia-test-secret", b'1700000000.{"schema_version":1}', sha256).hexdigest()
    const KNOWN_SIGNATURE: &str =
        "v1=c1b08e36f086df3ecdc0f5ebf73799e6202fc881636075026fdf06af36c1881d";

    // The worked example of docs/platform-api.md, computed with Python's hmac and hashlib.
    const V2_EXAMPLE: SignedParts<'static> = SignedParts {
        method: "POST",
        path: "/v1/batches",
        gateway_id: "goma-01",
        key_id: "k1",
        nonce: "4f1c2b9a0e7d5c3b8a6f1e2d3c4b5a69",
        timestamp: "1741937215",
        body: br#"{"schema_version":1,"gateway_id":"goma-01"}"#,
    };
    const V2_KNOWN: &str = "v2=43d4a20f841035abc8a2d69123ff8014882827b335e9040e2a59d49750df7d88";

    fn received<'a>(parts: &SignedParts<'a>, sig: &'a str) -> ReceivedV2<'a> {
        ReceivedV2 {
            method: parts.method,
            path: parts.path,
            gateway_id: Some(parts.gateway_id),
            key_id: Some(parts.key_id),
            nonce: Some(parts.nonce),
            timestamp: Some(parts.timestamp),
            signature: Some(sig),
            body: parts.body,
        }
    }

    fn example_secret(gateway: &str, key: &str) -> Option<&'static [u8]> {
        (gateway == "goma-01" && key == "k1").then_some(b"example-secret".as_slice())
    }

    #[test]
    fn v2_known_answer_and_canonical_string() {
        assert_eq!(signature_v2(b"example-secret", &V2_EXAMPLE), V2_KNOWN);
        assert_eq!(
            canonical_v2(&V2_EXAMPLE),
            "KUFATILIA-HMAC-SHA256-V2\nPOST\n/v1/batches\ngoma-01\nk1\n\
             4f1c2b9a0e7d5c3b8a6f1e2d3c4b5a69\n1741937215\n\
             9a2321215ea87d86049336ebc24afff8a750fdd46712e848eae18fc91b9bcc9a"
        );
    }

    #[test]
    fn v2_verifies_and_a_nonce_passes_once() {
        let now = 1_741_937_215;
        let ok = verify_v2(
            &received(&V2_EXAMPLE, V2_KNOWN),
            example_secret,
            now,
            DEFAULT_WINDOW,
        )
        .unwrap();
        assert_eq!(ok.gateway_id, "goma-01");
        let mut cache = NonceCache::new(DEFAULT_WINDOW);
        assert_eq!(cache.admit(&ok, now), Ok(()));
        assert_eq!(cache.admit(&ok, now + 10), Err(SignatureError::Replayed));
        assert_eq!(SignatureError::Replayed.code(), ErrorCode::ReplayedNonce);
        // Once the timestamp is out of the window the nonce is forgotten: the time check refuses.
        assert_eq!(cache.admit(&ok, now + 301), Ok(()));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn v2_binds_path_gateway_method_and_body() {
        let now = 1_741_937_215;
        for changed in [
            SignedParts {
                path: "/v1/heartbeat",
                ..V2_EXAMPLE
            },
            SignedParts {
                method: "PUT",
                ..V2_EXAMPLE
            },
            SignedParts {
                nonce: "4f1c2b9a0e7d5c3b8a6f1e2d3c4b5a6a",
                ..V2_EXAMPLE
            },
            SignedParts {
                timestamp: "1741937216",
                ..V2_EXAMPLE
            },
            SignedParts {
                body: b"{}",
                ..V2_EXAMPLE
            },
        ] {
            assert_eq!(
                verify_v2(
                    &received(&changed, V2_KNOWN),
                    example_secret,
                    now,
                    DEFAULT_WINDOW
                ),
                Err(SignatureError::Mismatch),
                "{changed:?}"
            );
        }
        // Another gateway's name: its secret (here: none held) is looked up, not goma-01's.
        let other = SignedParts {
            gateway_id: "bukavu-02",
            ..V2_EXAMPLE
        };
        assert_eq!(
            verify_v2(
                &received(&other, V2_KNOWN),
                example_secret,
                now,
                DEFAULT_WINDOW
            ),
            Err(SignatureError::UnknownKey("k1".into()))
        );
        let mut bad = received(&V2_EXAMPLE, V2_KNOWN);
        bad.nonce = Some("short");
        assert_eq!(
            verify_v2(&bad, example_secret, now, DEFAULT_WINDOW),
            Err(SignatureError::BadHeader(NONCE_HEADER))
        );
        assert!(is_v2(Some(V2_KNOWN)) && !is_v2(Some("v1=00")) && !is_v2(None));
    }

    #[test]
    fn signature_known_answer() {
        assert_eq!(signature(SECRET, TS, BODY), KNOWN_SIGNATURE);
    }

    #[test]
    fn rfc4231_test_case_6_long_key() {
        // RFC 4231 §4.7: a 131-byte key, longer than the SHA-256 block, must be hashed first.
        let key = [0xaa_u8; 131];
        let mut m = mac(&key);
        m.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex::encode(m.finalize().into_bytes()),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn rfc4231_test_case_2_short_key() {
        let mut m = mac(b"Jefe");
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(m.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_fresh_signature_verifies() {
        let sig = signature(SECRET, TS, BODY);
        let ts = TS.to_string();
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&sig), BODY, TS + 10, DEFAULT_WINDOW),
            Ok(())
        );
    }

    #[test]
    fn one_of_several_signatures_may_match() {
        let good = signature(SECRET, TS, BODY);
        let other = signature(b"old secret", TS, BODY);
        let header = format!("{other}, {good}");
        let ts = TS.to_string();
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&header), BODY, TS, DEFAULT_WINDOW),
            Ok(())
        );
    }

    #[test]
    fn wrong_secret_changed_body_and_stale_time_are_refused() {
        let ts = TS.to_string();
        let sig = signature(b"another secret", TS, BODY);
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&sig), BODY, TS, DEFAULT_WINDOW),
            Err(SignatureError::Mismatch)
        );
        let sig = signature(SECRET, TS, BODY);
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&sig), b"{}", TS, DEFAULT_WINDOW),
            Err(SignatureError::Mismatch)
        );
        let err = verify(
            SECRET,
            Some(&ts),
            Some(&sig),
            BODY,
            TS + 301,
            DEFAULT_WINDOW,
        );
        assert!(matches!(
            err,
            Err(SignatureError::OutsideWindow {
                skew_secs: -301,
                ..
            })
        ));
        assert_eq!(err.unwrap_err().code(), ErrorCode::TimestampOutOfWindow);
        // A clock running ahead of the receiver is refused the same way.
        let err = verify(
            SECRET,
            Some(&ts),
            Some(&sig),
            BODY,
            TS - 301,
            DEFAULT_WINDOW,
        );
        assert!(matches!(err, Err(SignatureError::OutsideWindow { .. })));
    }

    #[test]
    fn malformed_headers_are_refused_with_a_reason() {
        let sig = signature(SECRET, TS, BODY);
        assert_eq!(
            verify(SECRET, None, Some(&sig), BODY, TS, DEFAULT_WINDOW),
            Err(SignatureError::MissingTimestamp)
        );
        for bad in ["", "-1", "+1700000000", "17e8", "1700000000.5"] {
            assert!(
                matches!(
                    verify(SECRET, Some(bad), Some(&sig), BODY, TS, DEFAULT_WINDOW),
                    Err(SignatureError::BadTimestamp(_))
                ),
                "{bad:?}"
            );
        }
        let ts = TS.to_string();
        assert_eq!(
            verify(SECRET, Some(&ts), None, BODY, TS, DEFAULT_WINDOW),
            Err(SignatureError::MissingSignature)
        );
        for bad in ["", "v2=00", "v1=zz", "v1=abcd", &sig[3..]] {
            assert_eq!(
                verify(SECRET, Some(&ts), Some(bad), BODY, TS, DEFAULT_WINDOW),
                Err(SignatureError::MalformedSignature),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bearer_tokens_compare_exactly() {
        let check = TokenCheck::new("s3cret-token");
        assert!(check.matches_header(Some("Bearer s3cret-token")));
        assert!(check.matches_header(Some("bearer s3cret-token")));
        assert!(!check.matches_header(Some("Bearer s3cret-toke")));
        assert!(!check.matches_header(Some("Bearer s3cret-token2")));
        assert!(!check.matches_header(Some("Basic s3cret-token")));
        assert!(!check.matches_header(Some("s3cret-token")));
        assert!(!check.matches_header(None));
    }

    #[test]
    fn phone_numbers_normalise_to_one_form() {
        assert_eq!(normalise_phone("+243 81 234 5678"), "+243812345678");
        assert_eq!(normalise_phone("00243-81-234-5678"), "+243812345678");
        assert_eq!(normalise_phone(" 0812345678 "), "0812345678");
        assert_eq!(normalise_phone("Vodacom"), "vodacom");
    }

    #[test]
    fn pseudonyms_are_stable_keyed_and_prefixed() {
        let a = pseudonym(SECRET, "+243812345678");
        assert_eq!(a, pseudonym(SECRET, "00243 81 234 5678"));
        assert_ne!(a, pseudonym(b"other gateway secret", "+243812345678"));
        assert_ne!(a, pseudonym(SECRET, "+243812345679"));
        assert!(a.starts_with(PSEUDONYM_PREFIX));
        assert_eq!(a.len(), PSEUDONYM_PREFIX.len() + PSEUDONYM_HEX_LEN);
        assert_eq!(a, KNOWN_PSEUDONYM);
    }

    // Python: "r-" + hmac.new(b"kufatilia-test-secret", b"kufatilia-reporter-v1\0+243812345678",
    //                         sha256).hexdigest()[:16]
    const KNOWN_PSEUDONYM: &str = "r-6a1690845a23495b";
}
