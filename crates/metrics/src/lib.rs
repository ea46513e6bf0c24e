//! Operations metrics (`--metrics 127.0.0.1:PORT` on the worker, gateway
//! and key broker): OpenMetrics text served at `GET /metrics`, encoded by
//! the Prometheus project's `prometheus-client`.
//!
//! Processes publish *snapshots* of the totals they already keep
//! ([`Exporter::counter`] sets a counter to a running total, so counters
//! only ever increase by what happened; [`Exporter::gauge`] sets a value).
//! Labels carry reasons and kinds from fixed sets, never a patient name, a
//! pseudonym or a measured value: callers pass `&'static str` label values.
//!
//! The endpoint answers one connection at a time with 5-s timeouts and
//! reads at most 8 KiB of request; bind it to loopback.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Connections answered at once by a metrics endpoint.
pub const MAX_CONNECTIONS: usize = 32;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

#[derive(Default)]
struct State {
    registry: Registry,
    counters: HashMap<&'static str, Family<Labels, Counter>>,
    gauges: HashMap<&'static str, Family<Labels, Gauge<f64, AtomicU64>>>,
    // Metrics without labels are registered as such (no `{}` in the text).
    plain_counters: HashMap<&'static str, Counter>,
    plain_gauges: HashMap<&'static str, Gauge<f64, AtomicU64>>,
    last: HashMap<(&'static str, Labels), u64>,
}

/// A process's metrics.
#[derive(Clone, Default)]
pub struct Exporter {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exporter")
    }
}

impl Exporter {
    pub fn new() -> Self {
        let e = Self::default();
        e.gauge(
            "process_resident_memory_bytes",
            "Resident memory of this process",
            &[],
            resident_bytes() as f64,
        );
        e
    }

    /// Sets counter `name` (exposed as `name_total`) with `labels` to the
    /// running total `total`; a total lower than before (a restart of the
    /// counting) adds nothing.
    pub fn counter(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &'static str)],
        total: u64,
    ) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        let s = &mut *s;
        if labels.is_empty() {
            let c = s
                .plain_counters
                .entry(name)
                .or_insert_with(|| {
                    let c = Counter::default();
                    s.registry.register(name, help, c.clone());
                    c
                })
                .clone();
            let last = s.last.entry((name, Vec::new())).or_insert(0);
            if total > *last {
                c.inc_by(total - *last);
                *last = total;
            }
            return;
        }
        let fam = s
            .counters
            .entry(name)
            .or_insert_with(|| {
                let f = Family::<Labels, Counter>::default();
                s.registry.register(name, help, f.clone());
                f
            })
            .clone();
        let key = (name, labels.to_vec());
        let last = s.last.entry(key).or_insert(0);
        if total > *last {
            fam.get_or_create(&labels.to_vec()).inc_by(total - *last);
            *last = total;
        } else {
            let _ = fam.get_or_create(&labels.to_vec());
        }
    }

    /// Sets gauge `name` with `labels` to `value`.
    pub fn gauge(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &'static str)],
        value: f64,
    ) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        let s = &mut *s;
        if labels.is_empty() {
            s.plain_gauges
                .entry(name)
                .or_insert_with(|| {
                    let g = Gauge::<f64, AtomicU64>::default();
                    s.registry.register(name, help, g.clone());
                    g
                })
                .set(value);
            return;
        }
        let fam = s
            .gauges
            .entry(name)
            .or_insert_with(|| {
                let f = Family::<Labels, Gauge<f64, AtomicU64>>::default();
                s.registry.register(name, help, f.clone());
                f
            })
            .clone();
        fam.get_or_create(&labels.to_vec()).set(value);
    }

    /// The OpenMetrics text of every metric now.
    pub fn render(&self) -> String {
        self.gauge(
            "process_resident_memory_bytes",
            "Resident memory of this process",
            &[],
            resident_bytes() as f64,
        );
        let mut out = String::new();
        if let Ok(s) = self.state.lock() {
            let _ = encode(&mut out, &s.registry);
        }
        out
    }

    /// Serves `GET /metrics` on `addr` from a background thread; returns
    /// the address bound.
    pub fn serve(&self, addr: &str) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr)?;
        let bound = listener.local_addr()?;
        let me = self.clone();
        // Each connection on a thread of its own, at most MAX_CONNECTIONS
        // at a time, each given 5 s in all: idle connections hold a thread
        // each for 5 s at most and never delay a real scrape; past the cap
        // a connection is closed at once (a flood costs only its own).
        let busy = Arc::new(AtomicUsize::new(0));
        std::thread::Builder::new()
            .name("aorta-metrics".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let Ok(c) = conn else {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    };
                    if busy.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                        busy.fetch_sub(1, Ordering::AcqRel);
                        drop(c);
                        continue;
                    }
                    let (me, done) = (me.clone(), busy.clone());
                    let spawned = std::thread::Builder::new()
                        .name("aorta-metrics-conn".into())
                        .spawn(move || {
                            let _ = me.answer(c);
                            done.fetch_sub(1, Ordering::AcqRel);
                        });
                    if spawned.is_err() {
                        busy.fetch_sub(1, Ordering::AcqRel);
                    }
                }
            })?;
        Ok(bound)
    }

    fn answer(&self, mut c: TcpStream) -> std::io::Result<()> {
        c.set_read_timeout(Some(Duration::from_secs(5)))?;
        c.set_write_timeout(Some(Duration::from_secs(5)))?;
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        // A whole request within 5 s, or none.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            c.set_read_timeout(Some(left))?;
            let n = c.read(&mut buf)?;
            if n == 0 {
                break;
            }
            req.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
        let (status, ty, body) =
            if req.starts_with(b"GET /metrics ") || req.starts_with(b"GET /metrics?") {
                (
                    "200 OK",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    self.render(),
                )
            } else {
                ("404 Not Found", "text/plain", "GET /metrics\n".to_string())
            };
        write!(
            c,
            "HTTP/1.1 {status}\r\nContent-Type: {ty}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }
}

/// This process's resident set size (Linux `/proc/self/status`), 0 when
/// unknown.
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_totals_and_render_as_openmetrics() {
        let e = Exporter::new();
        e.counter(
            "aorta_test_rejected",
            "Rejected",
            &[("reason", "replay")],
            3,
        );
        e.counter(
            "aorta_test_rejected",
            "Rejected",
            &[("reason", "replay")],
            5,
        );
        e.counter(
            "aorta_test_rejected",
            "Rejected",
            &[("reason", "replay")],
            2,
        );
        e.gauge("aorta_test_streams", "Streams", &[], 7.0);
        let t = e.render();
        assert!(
            t.contains("aorta_test_rejected_total{reason=\"replay\"} 5"),
            "{t}"
        );
        assert!(t.contains("aorta_test_streams 7.0"), "{t}");
        assert!(!t.contains("{}"), "{t}");
        assert!(t.contains("process_resident_memory_bytes"), "{t}");
        assert!(t.ends_with("# EOF\n"));
    }
}
