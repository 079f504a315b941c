//! A recording TCP proxy on 127.0.0.1 in front of the platform, and the HTTP/1.1 requests read
//! back from what it recorded: the bytes as they crossed the wire, for the privacy scan, the
//! replay tests and the check of real requests against docs/openapi.yaml.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a recording proxy saw: every byte each connection sent towards the platform.
#[derive(Clone, Default)]
pub struct Wire {
    pub requests: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Wire {
    pub fn bytes(&self) -> Vec<u8> {
        self.requests.lock().unwrap().concat()
    }

    pub fn connections(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// A TCP proxy on 127.0.0.1 in front of `upstream`, recording what clients send (headers and
/// bodies as they are on the wire) and passing both directions on unchanged.
pub async fn recording_proxy(upstream: std::net::SocketAddr) -> (String, Wire) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let wire = Wire::default();
    let recorded = wire.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            let slot = {
                let mut r = recorded.requests.lock().unwrap();
                r.push(Vec::new());
                r.len() - 1
            };
            let requests = recorded.requests.clone();
            tokio::spawn(async move {
                let (mut client_rx, mut client_tx) = client.into_split();
                let (mut server_rx, mut server_tx) = server.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = client_rx.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        requests.lock().unwrap()[slot].extend_from_slice(&buf[..n]);
                        if server_tx.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = server_tx.shutdown().await;
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut server_rx, &mut client_tx).await;
                    let _ = client_tx.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (url, wire)
}

impl Wire {
    /// Every complete request recorded so far, in the order each connection sent them.
    pub fn http_requests(&self) -> Vec<HttpRequest> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .flat_map(|conn| parse_requests(conn))
            .collect()
    }
}

/// One HTTP/1.1 request as it was on the wire.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The request's bytes exactly as recorded.
    pub raw: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The complete requests in one connection's bytes (bodies sized by Content-Length).
pub fn parse_requests(mut bytes: &[u8]) -> Vec<HttpRequest> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap_or("").split(' ');
        let method = request_line.next().unwrap_or("").to_string();
        let path = request_line.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let total = end + 4 + length;
        if bytes.len() < total {
            break;
        }
        out.push(HttpRequest {
            method,
            path,
            headers,
            body: bytes[end + 4..total].to_vec(),
            raw: bytes[..total].to_vec(),
        });
        bytes = &bytes[total..];
    }
    out
}
