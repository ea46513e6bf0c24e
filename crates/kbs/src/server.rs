//! The broker on a TCP socket: one JSON request per line, one response
//! line per request, served with bounded concurrency and memory whatever
//! the peers do.
//!
//! * Connections are tasks, not threads: an idle connection costs a socket
//!   and a few KiB. At most [`Limits::max_connections`] are held; one more
//!   is closed at once and counted (`busy`).
//! * A request must arrive whole within [`Limits::request_timeout`] of its
//!   first byte, and a connection may sit idle between requests for
//!   [`Limits::idle_timeout`]; answers must be taken within
//!   [`Limits::write_timeout`]. Slow senders are cut, not waited for.
//! * Each connection buffers up to [`Limits::free_buffer`] bytes of a
//!   request on its own; beyond that (large evidence with collateral) it
//!   draws from one shared budget of [`Limits::shared_buffer`] bytes, and a
//!   request that cannot get its share is refused (`busy`) instead of
//!   growing memory. Peak request memory is therefore bounded by
//!   `max_connections × free_buffer + shared_buffer`.
//! * The broker's decisions (verification, file reads, audit appends) run
//!   on at most [`Limits::handlers`] blocking threads at a time.
//! * `accept` errors (out of file descriptors, …) back off instead of
//!   spinning; the server never exits because of a peer.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand_core::{CryptoRng, RngCore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::broker::Broker;
use crate::proto::{Request, Response, Retry, MAX_LINE};

/// How much the server holds at most.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub write_timeout: Duration,
    pub free_buffer: usize,
    pub shared_buffer: usize,
    pub handlers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            idle_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            free_buffer: 16 * 1024,
            shared_buffer: 64 << 20,
            handlers: 4,
        }
    }
}

/// What the server turned away, by reason (monotonic counters).
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub requests: AtomicU64,
    pub busy_connections: AtomicU64,
    pub busy_memory: AtomicU64,
    pub timeouts: AtomicU64,
    pub oversized: AtomicU64,
    pub malformed: AtomicU64,
    pub accept_errors: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Serves with the default [`Limits`] until `stop` is set.
pub fn serve<R: RngCore + CryptoRng + Send + 'static>(
    listener: TcpListener,
    broker: Arc<Broker<R>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    serve_with(
        listener,
        broker,
        stop,
        Limits::default(),
        Arc::new(Stats::default()),
    )
}

struct Shared<R> {
    broker: Arc<Broker<R>>,
    limits: Limits,
    stats: Arc<Stats>,
    memory: Semaphore,
    handlers: Semaphore,
    /// Connection slots (`aorta_slots`, the dashboard's rule too): when
    /// the cap is reached, the connection waiting longest for its next
    /// request is closed to make room, so idle sockets cannot lock clients
    /// out.
    slots: aorta_slots::Slots,
}

/// Serves until `stop` is set (checked every 100 ms).
pub fn serve_with<R: RngCore + CryptoRng + Send + 'static>(
    listener: TcpListener,
    broker: Arc<Broker<R>>,
    stop: Arc<AtomicBool>,
    limits: Limits,
    stats: Arc<Stats>,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(limits.handlers.max(1) + 2)
        .thread_name("aorta-kbs")
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let shared = Arc::new(Shared {
            memory: Semaphore::new(limits.shared_buffer / 1024),
            handlers: Semaphore::new(limits.handlers.max(1)),
            slots: aorta_slots::Slots::new(limits.max_connections),
            broker,
            limits,
            stats,
        });
        let mut backoff = Duration::from_millis(10);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                }
                conn = listener.accept() => match conn {
                    Ok((stream, _)) => {
                        backoff = Duration::from_millis(10);
                        bump(&shared.stats.connections);
                        // Full: the connection idle longest was closed to
                        // make room; refused only if none is idle.
                        let Some(admitted) = shared.slots.admit() else {
                            bump(&shared.stats.busy_connections);
                            drop(stream);
                            continue;
                        };
                        if admitted.made_room {
                            bump(&shared.stats.busy_connections);
                        }
                        let s = Arc::clone(&shared);
                        tokio::spawn(async move {
                            connection(stream, &s, &admitted.slot).await;
                        });
                    }
                    Err(_) => {
                        // EMFILE, ENFILE, ENOBUFS...: wait for descriptors to
                        // free up instead of spinning on the same error.
                        bump(&shared.stats.accept_errors);
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                },
            }
        }
    })
}

enum Line {
    Request(Vec<u8>),
    /// Answer with this error, then close.
    Refuse(String, Retry),
    Closed,
}

/// Reads one request line within the limits.
async fn read_line<'s, R>(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    s: &'s Shared<R>,
    slot: &aorta_slots::Slot,
) -> (Line, Option<tokio::sync::SemaphorePermit<'s>>) {
    let mut held: Option<tokio::sync::SemaphorePermit<'s>> = None;
    let mut chunk = [0u8; 8192];
    let mut deadline = None;
    loop {
        if let Some(nl) = buf
            .iter()
            .position(|b| *b == b'\n')
            .filter(|nl| *nl <= MAX_LINE)
        {
            let rest = buf.split_off(nl + 1);
            let line = std::mem::replace(buf, rest);
            return (Line::Request(line), held);
        }
        if buf.len() > MAX_LINE {
            bump(&s.stats.oversized);
            return (
                Line::Refuse(
                    format!("request longer than {MAX_LINE} bytes"),
                    Retry::Never,
                ),
                held,
            );
        }
        let wait = match deadline {
            None => s.limits.idle_timeout,
            Some(d) => {
                tokio::time::Instant::saturating_duration_since(&d, tokio::time::Instant::now())
            }
        };
        // Idle (no byte of a request yet): closed first to make room for a
        // new connection; part of a line read: closed only when nobody is
        // idle, oldest request first (a slow sender keeps its slot only
        // while nobody needs it).
        if deadline.is_none() {
            slot.waiting();
        }
        let r = tokio::select! {
            r = tokio::time::timeout(wait, stream.read(&mut chunk)) => Some(r),
            () = slot.evicted() => None,
        };
        slot.serving();
        let read = match r {
            Some(r) => r,
            None => return (Line::Closed, held),
        };
        let n = match read {
            Err(_) => {
                bump(&s.stats.timeouts);
                return if buf.is_empty() {
                    (Line::Closed, held)
                } else {
                    (
                        Line::Refuse(
                            format!(
                                "request not complete within {} s",
                                s.limits.request_timeout.as_secs()
                            ),
                            Retry::Later,
                        ),
                        held,
                    )
                };
            }
            Ok(Err(_)) | Ok(Ok(0)) => return (Line::Closed, held),
            Ok(Ok(n)) => n,
        };
        if deadline.is_none() {
            deadline = Some(tokio::time::Instant::now() + s.limits.request_timeout);
        }
        let Some(data) = chunk.get(..n) else {
            return (Line::Closed, held);
        };
        buf.extend_from_slice(data);
        if buf.capacity() > s.limits.free_buffer {
            // Memory above the free allowance (the buffer's capacity, not
            // just its length) comes from the shared budget, in KiB, taken
            // as the request grows.
            let want = (buf.capacity() - s.limits.free_buffer).div_ceil(1024) as u32;
            let have = held.as_ref().map_or(0, |p| p.num_permits() as u32);
            if want > have {
                match s.memory.try_acquire_many(want - have) {
                    Ok(p) => match held.as_mut() {
                        Some(h) => h.merge(p),
                        None => held = Some(p),
                    },
                    Err(_) => {
                        bump(&s.stats.busy_memory);
                        buf.clear();
                        buf.shrink_to_fit();
                        return (
                            Line::Refuse(
                                "broker busy: request memory exhausted, retry later".into(),
                                Retry::Later,
                            ),
                            held,
                        );
                    }
                }
            }
        }
    }
}

async fn write(stream: &mut TcpStream, resp: &Response, s: &Shared<impl Sized>) -> bool {
    let mut bytes = serde_json::to_vec(resp).unwrap_or_else(|_| b"{}".to_vec());
    bytes.push(b'\n');
    match tokio::time::timeout(s.limits.write_timeout, stream.write_all(&bytes)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            bump(&s.stats.timeouts);
            false
        }
    }
}

async fn connection<R: RngCore + CryptoRng + Send + 'static>(
    mut stream: TcpStream,
    s: &Arc<Shared<R>>,
    slot: &aorta_slots::Slot,
) {
    let mut buf = Vec::new();
    loop {
        let (line, permit) = read_line(&mut stream, &mut buf, s, slot).await;
        let resp = match line {
            Line::Closed => return,
            Line::Refuse(error, retry) => {
                drop(permit);
                let _ = write(&mut stream, &Response::Error { error, retry }, s).await;
                return;
            }
            Line::Request(line) => {
                bump(&s.stats.requests);
                let req = serde_json::from_slice::<Request>(&line);
                drop(line);
                match req {
                    Ok(req) => {
                        // The request's memory stays charged to the shared
                        // budget until it is answered.
                        let Ok(_slot) = s.handlers.acquire().await else {
                            return;
                        };
                        let broker = Arc::clone(&s.broker);
                        let r = match tokio::task::spawn_blocking(move || broker.handle(req)).await
                        {
                            Ok(r) => r,
                            Err(_) => Response::Error {
                                error: "internal error".into(),
                                retry: Retry::Later,
                            },
                        };
                        drop(permit);
                        r
                    }
                    Err(e) => {
                        // Not a broker client: answer once and close.
                        drop(permit);
                        bump(&s.stats.malformed);
                        let _ = write(
                            &mut stream,
                            &Response::Error {
                                error: crate::audit::sanitize(
                                    &format!("not a key broker request: {e}"),
                                    crate::audit::MAX_REASON,
                                ),
                                retry: Retry::Never,
                            },
                            s,
                        )
                        .await;
                        return;
                    }
                }
            }
        };
        if !write(&mut stream, &resp, s).await {
            return;
        }
    }
}
