//! The dashboard's connections: bounded in number, timed while a request's
//! head is read, and a flood of strangers never crowds out signed-in users.
//!
//! The slots are [`aorta_slots`]' (the key broker's rule too): a
//! connection is *waiting* between requests, *serving* while one is
//! answered, and *trusted* once a request carried a live session; at the
//! cap the connection waiting longest is closed to make room. A request
//! head must arrive within [`Limits::header_timeout`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

/// How many connections, and how long a request head may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// From a request's head to its answer's head (body read included).
    pub request_timeout: Duration,
}

impl Limits {
    /// At most 4,096 connections, and never more than this process's
    /// open-file limit less `reserve` descriptors (kept for the results
    /// feed, its files and sockets).
    pub fn from_open_file_limit(reserve: usize) -> Self {
        let soft = open_file_limit().unwrap_or(1024);
        Self {
            max_connections: soft.saturating_sub(reserve).clamp(16, 4096),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The soft open-file limit (`RLIMIT_NOFILE`), from `/proc/self/limits`.
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        return Some(usize::MAX);
    }
    soft.parse().ok()
}

/// The dashboard's connection slots ([`aorta_slots`]): serve with it,
/// read its counts.
#[derive(Clone)]
pub struct Connections(aorta_slots::Slots);

impl Connections {
    pub fn new(limits: Limits) -> Self {
        Self(aorta_slots::Slots::new(limits.max_connections))
    }

    pub fn stats(&self) -> aorta_slots::SlotStats {
        self.0.stats()
    }

    /// Accepts connections on `listener` until it fails, serving `router`
    /// on each under `limits`; `signed_in` tells whether a request carries
    /// a live session (its connection is then never closed to make room).
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        router: Router,
        limits: Limits,
        signed_in: Arc<dyn Fn(&axum::http::HeaderMap) -> bool + Send + Sync>,
    ) -> std::io::Result<()> {
        loop {
            let (sock, peer) = match listener.accept().await {
                Ok(x) => x,
                // Out of descriptors or similar: the cap should prevent
                // it; wait a moment rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(admitted) = self.0.admit() else {
                drop(sock);
                continue;
            };
            let slot = Arc::new(admitted.slot);
            let svc = TowerToHyperService::new(router.clone());
            let signed_in = signed_in.clone();
            tokio::spawn(async move {
                let s2 = Arc::clone(&slot);
                let service = hyper::service::service_fn(
                    move |mut req: hyper::Request<hyper::body::Incoming>| {
                        // The sign-in throttle's per-address bucket.
                        req.extensions_mut()
                            .insert(axum::extract::ConnectInfo(peer));
                        if signed_in(req.headers()) {
                            s2.trust();
                        } else {
                            s2.serving();
                        }
                        let s3 = Arc::clone(&s2);
                        let fut = svc.call(req);
                        async move {
                            // The answer's head within the limit, the
                            // request's body read included (a stalled body
                            // gets 408; event streams answer their head at
                            // once and stream after).
                            let res = match tokio::time::timeout(limits.request_timeout, fut).await
                            {
                                Ok(r) => r,
                                Err(_) => Ok(axum::response::IntoResponse::into_response(
                                    axum::http::StatusCode::REQUEST_TIMEOUT,
                                )),
                            };
                            // Waiting again (unless trusted).
                            s3.waiting();
                            res
                        }
                    },
                );
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_timeout)
                    .serve_connection(TokioIo::new(sock), service);
                tokio::select! {
                    _ = served => {}
                    () = slot.evicted() => {}
                }
            });
        }
    }
}
