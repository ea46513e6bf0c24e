//! The dashboard's connections: bounded in number, timed while a request's
//! head is read, and a flood of strangers never crowds out signed-in users.
//!
//! Every accepted connection is in one of three states: *waiting* (no
//! request in flight and never signed in: a stranger between requests, or
//! one that has sent nothing yet), *serving* (a request is being answered)
//! or *trusted* (it carried a live session once). At the connection cap, a
//! new connection closes the connection that has waited longest — strangers
//! only, never one being served or a signed-in user's — so idle or
//! half-sent connections cannot hold every slot or descriptor; a request
//! head must arrive within [`Limits::header_timeout`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Notify;

/// How many connections, and how long a request head may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
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

const WAITING: u8 = 0;
const SERVING: u8 = 1;
const TRUSTED: u8 = 2;

struct Conn {
    close: Notify,
    /// State and, while waiting, its place in the eviction order.
    state: Mutex<(u8, u64)>,
}

#[derive(Default)]
struct Inner {
    open: usize,
    next: u64,
    /// Waiting connections by when they began to wait: the oldest first.
    waiting: BTreeMap<u64, Arc<Conn>>,
}

/// Counts of what the limits did, for tests and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConnStats {
    pub open: usize,
    pub evicted: u64,
    pub refused: u64,
}

#[derive(Default)]
struct Registry {
    inner: Mutex<Inner>,
    evicted: std::sync::atomic::AtomicU64,
    refused: std::sync::atomic::AtomicU64,
}

impl Registry {
    /// A slot for a new connection, closing the longest-waiting stranger
    /// if the cap is reached; `None` when every slot is being served or
    /// trusted.
    fn admit(&self, max: usize) -> Option<Arc<Conn>> {
        let mut g = self.inner.lock().ok()?;
        if g.open >= max {
            let (_, victim) = g.waiting.pop_first()?;
            if let Ok(mut s) = victim.state.lock() {
                s.0 = SERVING; // no longer in the queue
            }
            victim.close.notify_one();
            self.evicted
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        g.open += 1;
        let seq = g.next;
        g.next += 1;
        let c = Arc::new(Conn {
            close: Notify::new(),
            state: Mutex::new((WAITING, seq)),
        });
        g.waiting.insert(seq, c.clone());
        Some(c)
    }

    fn set(&self, c: &Arc<Conn>, to: u8) {
        let Ok(mut g) = self.inner.lock() else {
            return;
        };
        let Ok(mut s) = c.state.lock() else {
            return;
        };
        if s.0 == TRUSTED {
            return;
        }
        if s.0 == WAITING {
            g.waiting.remove(&s.1);
        }
        s.0 = to;
        if to == WAITING {
            s.1 = g.next;
            g.next += 1;
            g.waiting.insert(s.1, c.clone());
        }
    }

    fn leave(&self, c: &Arc<Conn>) {
        if let Ok(mut g) = self.inner.lock() {
            if let Ok(s) = c.state.lock() {
                if s.0 == WAITING {
                    g.waiting.remove(&s.1);
                }
            }
            g.open = g.open.saturating_sub(1);
        }
    }
}

/// The connection limits' handle: serve with it, read its counts.
#[derive(Clone, Default)]
pub struct Connections(Arc<Registry>);

impl Connections {
    pub fn stats(&self) -> ConnStats {
        use std::sync::atomic::Ordering::Relaxed;
        ConnStats {
            open: self.0.inner.lock().map_or(0, |g| g.open),
            evicted: self.0.evicted.load(Relaxed),
            refused: self.0.refused.load(Relaxed),
        }
    }

    /// Accepts connections on `listener` until it fails, serving `router`
    /// on each under `limits`; `signed_in` tells whether a request carries
    /// a live session.
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
            let Some(conn) = self.0.admit(limits.max_connections) else {
                self.0
                    .refused
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                drop(sock);
                continue;
            };
            let registry = self.0.clone();
            let svc = TowerToHyperService::new(router.clone());
            let signed_in = signed_in.clone();
            tokio::spawn(async move {
                let (r2, c2) = (registry.clone(), conn.clone());
                let service = hyper::service::service_fn(
                    move |mut req: hyper::Request<hyper::body::Incoming>| {
                        // The sign-in throttle's per-address bucket.
                        req.extensions_mut()
                            .insert(axum::extract::ConnectInfo(peer));
                        let trusted = signed_in(req.headers());
                        r2.set(&c2, if trusted { TRUSTED } else { SERVING });
                        let (r3, c3) = (r2.clone(), c2.clone());
                        let fut = svc.call(req);
                        async move {
                            let res = fut.await;
                            // Back in the queue of strangers, unless signed in.
                            r3.set(&c3, WAITING);
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
                    () = conn.close.notified() => {}
                }
                registry.leave(&conn);
            });
        }
    }
}
