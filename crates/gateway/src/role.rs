//! The gateway role: what `aorta gateway` runs, assembled once. The
//! transport ([`Deployment`]), the verified fleet key's watcher, the
//! streams served (with their device keys), the clock, randomness and the
//! operator's output are injected; the binary parses arguments and reads
//! the key directory.
//!
//! Sources: simulated patients, a directory of paper-format CSV files, a
//! raw ECG or PPG waveform for one stream (replayed on the event-time
//! cadence), or devices over MQTT (live, one envelope per stream every
//! cadence of wall-clock time, through a bounded outbox).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aorta_envelope::KemSecret;
use aorta_kbs_client::FleetWatch;
use aorta_metrics::Exporter;
use aorta_transport::{Deployment, PartitionId, Producer};
use aorta_wire::StreamId;
use rand_core::{CryptoRng, RngCore};

use crate::driver::{replay, ReplayStream, WaveReplay};
use crate::route::Partitioned;
use crate::source::{Condition, RrSimulator, SimParams};
use crate::{GatewayError, Profile, Signal, StreamSender, WaveSender};

/// Where the role's lines go: `say` for what a person or script reads on
/// standard output (summaries, "subscribed"), `log` for notices (standard
/// error). Counts, pseudonyms and reasons only, never samples or names —
/// except with `names_files`.
#[derive(Clone)]
pub struct Output {
    pub say: Arc<dyn Fn(&str) + Send + Sync>,
    pub log: Arc<dyn Fn(&str) + Send + Sync>,
    /// The lines reach a person at a terminal, not a log: a line about one
    /// of the operator's input files (named after patients) names its path
    /// beside the stream's pseudonym. Off, only the pseudonym.
    pub names_files: bool,
}

/// One stream this gateway serves.
pub struct Served {
    /// The patient's name: the MQTT topic (`aorta/<name>/rr`) and the input
    /// file (`<name>.csv`); never written to a log.
    pub name: String,
    pub stream: StreamId,
    pub profile: Profile,
    /// The device's identity key (authenticates its sessions).
    pub device: KemSecret,
}

/// A raw waveform to stream.
pub struct Wave {
    pub signal: Signal,
    pub fs_hz: u32,
    pub samples: Vec<f32>,
    /// For the summary line ("ECG (lead 0 MLII)", "PPG").
    pub what: String,
}

/// Live MQTT ingestion's settings.
pub struct Mqtt {
    /// The broker, `HOST:PORT`.
    pub addr: String,
    pub max_samples: Option<u64>,
    pub duration: Option<Duration>,
    /// Samples dated more than this ahead of the clock are refused.
    pub max_ahead: Duration,
    pub outbox: crate::outbox::OutboxLimits,
    /// On exit, how long the transport may take what is still held.
    pub grace: Duration,
    /// Ask the key broker for a rotated key every this many ticks.
    pub key_check_ticks: u64,
    /// Set by the caller (SIGTERM, SIGINT): end every session, send what
    /// is held, return.
    pub stop: Arc<AtomicBool>,
}

/// Where the samples come from.
pub enum Source {
    /// Simulated patients for `minutes` of event time from `start` (Unix
    /// s; default: that long before now), with conditions by name.
    Simulate {
        minutes: u32,
        start: Option<i64>,
        conditions: HashMap<String, Condition>,
    },
    /// `<name>.csv` files in the paper's format; samples outside a file's
    /// densest `max_span_hours` are skipped and counted.
    Files { dir: PathBuf, max_span_hours: u32 },
    /// A raw waveform for the one stream served, from `start` (Unix s).
    Wave { wave: Wave, start: Option<i64> },
    /// Devices over MQTT.
    Mqtt(Mqtt),
}

/// How the role runs.
pub struct GatewayRole {
    pub deployment: Arc<dyn Deployment>,
    /// Partitions of the deployment (each stream to its pseudonym's).
    pub partitions: u32,
    pub output: Output,
    pub metrics: Option<Exporter>,
    /// Unix seconds.
    pub clock: fn() -> u64,
}

fn refused(what: &str, reason: impl Into<String>) -> GatewayError {
    GatewayError::Input {
        what: what.into(),
        reason: reason.into(),
    }
}

impl GatewayRole {
    /// Seals every served stream's samples from `source` to the fleet key
    /// `watch` verified (following rotations), until the source ends.
    pub fn run<R: RngCore + CryptoRng>(
        &self,
        served: Vec<Served>,
        mut watch: FleetWatch,
        source: Source,
        rng: &mut R,
    ) -> Result<(), GatewayError> {
        if served.is_empty() {
            return Err(refused("gateway", "no enrolled patients to serve"));
        }
        let parts = (0..self.partitions)
            .map(|p| self.deployment.producer(PartitionId(p)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Partitioned::new(parts)?;
        match source {
            Source::Wave { wave, start } => {
                self.wave(served, wave, start, &mut watch, &mut out, rng)
            }
            Source::Mqtt(m) => self.mqtt(served, watch, out, m, rng),
            source => self.replay(served, source, &mut watch, &mut out, rng),
        }
    }

    fn senders<R: RngCore + CryptoRng>(
        &self,
        served: &[Served],
        watch: &FleetWatch,
        rng: &mut R,
    ) -> Result<Vec<StreamSender>, GatewayError> {
        let session = crate::batcher::new_session_id(rng);
        served
            .iter()
            .map(|p| {
                StreamSender::new(
                    p.stream,
                    session,
                    p.profile,
                    watch.current(),
                    &p.device,
                    rng,
                )
            })
            .collect()
    }

    /// Simulated patients or paper-format files, on the event-time cadence.
    fn replay<R: RngCore + CryptoRng>(
        &self,
        served: Vec<Served>,
        source: Source,
        watch: &mut FleetWatch,
        out: &mut dyn Producer,
        rng: &mut R,
    ) -> Result<(), GatewayError> {
        let senders = self.senders(&served, watch, rng)?;
        let mut streams = Vec::new();
        // Input lines that did not parse (replayed files), for the summary.
        let mut skipped_lines = 0u64;
        let (start_us, end_us) = match source {
            Source::Simulate {
                minutes,
                start,
                conditions,
            } => {
                let start = start
                    .unwrap_or((self.clock)() as i64 - i64::from(minutes) * 60)
                    .div_euclid(10)
                    * 10_000_000;
                let end = start + i64::from(minutes) * 60_000_000;
                if let Some(name) = conditions
                    .keys()
                    .find(|n| !served.iter().any(|p| &&p.name == n))
                {
                    return Err(refused(
                        "--simulate-condition",
                        format!("'{name}' is not a patient this gateway serves"),
                    ));
                }
                for (i, (s, p)) in senders.into_iter().zip(&served).enumerate() {
                    let seed = i as u64 + 1;
                    let params = SimParams::patient(seed).with_condition(
                        conditions
                            .get(&p.name)
                            .copied()
                            .unwrap_or(Condition::Normal),
                    );
                    let src =
                        RrSimulator::new(params, seed, start).take_while(move |x| x.t_us < end);
                    streams.push(ReplayStream::new(s, Box::new(src)).with_device(dup(&p.device)));
                }
                (start, end)
            }
            Source::Files {
                dir,
                max_span_hours,
            } => {
                let max_span_us = i64::from(max_span_hours) * 3_600_000_000;
                let mut spans = Vec::new();
                for (p, s) in served.iter().zip(senders) {
                    let path = dir.join(format!("{}.csv", p.name));
                    // Messages name the stream's pseudonym (and the file on
                    // an operator's terminal), never a line's content.
                    let label = if self.output.names_files {
                        format!("{} (stream {})", path.display(), p.stream)
                    } else {
                        format!("stream {} (its input file)", p.stream)
                    };
                    let file = match crate::source::read_paper_file(&path, &label, max_span_us) {
                        Ok(f) => f,
                        Err(e) => {
                            // One unusable file costs only its stream.
                            (self.output.log)(&format!(
                                "gateway: {e}; the stream sends no samples"
                            ));
                            crate::source::PaperFile::default()
                        }
                    };
                    if let Some(problem) = file.units {
                        // Results from it would be silently wrong: nothing
                        // is sent, and the operator is told the fix.
                        return Err(refused(&label, problem.to_string()));
                    }
                    if !file.skipped.is_empty() {
                        skipped_lines += file.skipped.total();
                        (self.output.log)(&format!(
                            "gateway: {label}: {} lines skipped: {}",
                            file.skipped.total(),
                            file.skipped
                        ));
                    }
                    if file.outside_span > 0 {
                        (self.output.log)(&format!(
                            "gateway: {label}: {} samples dated outside the recording's {} h span skipped (--max-span-hours)",
                            file.outside_span, max_span_hours
                        ));
                    }
                    if let (Some(f), Some(l)) = (file.samples.first(), file.samples.last()) {
                        spans.push((f.t_us, l.t_us, p.stream));
                    }
                    streams.push(
                        ReplayStream::new(s, Box::new(file.samples.into_iter()))
                            .with_device(dup(&p.device)),
                    );
                }
                let lo = spans.iter().map(|x| x.0).min();
                let hi = spans.iter().map(|x| x.1).max();
                let (Some(lo), Some(hi)) = (lo, hi) else {
                    return Err(refused("--input", "no samples in the input files"));
                };
                if hi - lo > max_span_us {
                    let earliest = spans.iter().min_by_key(|x| x.0).map(|x| x.2);
                    let latest = spans.iter().max_by_key(|x| x.1).map(|x| x.2);
                    return Err(refused(
                        "--input",
                        format!(
                            "the input files together span {:.1} h (stream {} starts earliest, stream {} ends latest), more than --max-span-hours {}: replay them in separate runs, or raise the limit",
                            (hi - lo) as f64 / 3.6e9,
                            earliest.map_or(String::new(), |s| s.to_string()),
                            latest.map_or(String::new(), |s| s.to_string()),
                            max_span_hours
                        ),
                    ));
                }
                (lo.div_euclid(10_000_000) * 10_000_000, hi + 1)
            }
            Source::Wave { .. } | Source::Mqtt(_) => {
                return Err(refused("gateway", "not a replayed source"))
            }
        };
        let metrics = self.metrics.as_ref();
        let stats = replay(
            &mut streams,
            out,
            (start_us, end_us),
            Some(watch),
            rng,
            |st| {
                if let Some(m) = metrics {
                    crate::metrics::totals(m, st.envelopes, st.bytes);
                }
            },
        )?;
        (self.output.say)(&format!(
            "gateway: {} samples from {} patients in {} envelopes ({} bytes), {} backlogged ticks, {skipped_lines} input lines skipped",
            stats.samples,
            served.len(),
            stats.envelopes,
            stats.bytes,
            stats.backlog_ticks
        ));
        Ok(())
    }

    /// A raw ECG lead or PPG signal for one stream, replayed on the
    /// event-time cadence into `out`, following key rotation like RR
    /// streams ([`Source::Wave`] of [`GatewayRole::run`]).
    pub fn wave<R: RngCore + CryptoRng>(
        &self,
        served: Vec<Served>,
        wave: Wave,
        start: Option<i64>,
        watch: &mut FleetWatch,
        out: &mut dyn Producer,
        rng: &mut R,
    ) -> Result<(), GatewayError> {
        let [p] = &served[..] else {
            return Err(refused(
                "--ecg-wfdb, --ppg-file",
                "they stream one patient: name it with --patient",
            ));
        };
        let fs = wave.fs_hz;
        if !(25..=1000).contains(&fs) {
            return Err(refused(
                "sampling rate",
                format!("{fs} Hz is outside 25..=1000 Hz"),
            ));
        }
        // The envelope size is the enrolment's (signed by the controller,
        // checked by workers): a stream enrolled for RR at 4 samples/s
        // cannot carry a 360-Hz lead on time. Refused here, with the fix,
        // rather than sent as many small envelopes a tick, every window
        // flagged backlog.
        let cap = aorta_wire::EcgBatch::capacity(p.profile.bucket.content_capacity());
        let per_tick = (u64::from(fs) * u64::from(p.profile.cadence_ms)).div_ceil(1000);
        if per_tick > cap as u64 {
            return Err(refused(
                &format!("stream {}", p.stream),
                format!(
                    "{} at {fs} Hz gives {per_tick} samples every {} ms, but '{}' is enrolled for {}-byte envelopes that carry {cap} (enrolled for a lower --max-rate): re-enrol the device for the signal's rate, `aorta keys enrol --patient {} --max-rate {fs}` (with its --dir, transport and --algorithms), then stream again",
                    wave.what,
                    p.profile.cadence_ms,
                    p.name,
                    p.profile.bucket.len(),
                    p.name
                ),
            ));
        }
        let secs = wave.samples.len() as f64 / f64::from(fs);
        let origin = start
            .unwrap_or((self.clock)() as i64 - secs.ceil() as i64)
            .div_euclid(10)
            * 10_000_000;
        let sender = WaveSender::new(
            wave.signal,
            p.stream,
            crate::batcher::new_session_id(rng),
            p.profile,
            (watch.current(), &p.device),
            fs,
            origin,
            rng,
        )?;
        let mut stream = [WaveReplay::new(
            sender,
            dup(&p.device),
            wave.signal,
            wave.samples,
            (fs, origin),
            p.profile.cadence_ms,
        )];
        let cadence_us = i64::from(p.profile.cadence_ms) * 1000;
        // Ticks up to the one that ends after the last sample; the last
        // seals whatever is left.
        let end = stream[0].end_us();
        let ticks = (end - origin).max(1).div_euclid(cadence_us) + 1;
        let stats = replay(
            &mut stream,
            out,
            (origin, origin + ticks * cadence_us),
            Some(watch),
            rng,
            |_| {},
        )?;
        (self.output.say)(&format!(
            "gateway: {secs:.0} s of {} at {fs} Hz for '{}' in {} envelopes ({} bytes)",
            wave.what, p.name, stats.envelopes, stats.bytes
        ));
        Ok(())
    }

    /// Live MQTT ingestion: one envelope per stream every cadence of
    /// wall-clock time.
    ///
    /// Hostile or broken devices cost only their own data: oversized,
    /// non-UTF-8 and malformed messages, and samples dated too far ahead or
    /// too late, are refused and counted by reason (printed as counts,
    /// never values); a lost broker connection is re-established with
    /// back-off while the ticks go on.
    fn mqtt<R: RngCore + CryptoRng>(
        &self,
        served: Vec<Served>,
        watch: FleetWatch,
        out: Partitioned<Box<dyn Producer + Send>>,
        m: Mqtt,
        rng: &mut R,
    ) -> Result<(), GatewayError> {
        use crate::driver::{live, LiveHooks, LiveOptions, LiveStats, LiveStream};
        use crate::outbox::Outbox;
        let (host, port) = m
            .addr
            .rsplit_once(':')
            .ok_or_else(|| refused("--mqtt", "takes HOST:PORT"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| refused("--mqtt", format!("port {port:?} is not a number")))?;
        let devices: Vec<String> = served.iter().map(|p| p.name.clone()).collect();
        let mut src = crate::source::mqtt::MqttDevices::new(
            crate::source::mqtt::MqttSource::connect(
                host,
                port,
                &format!("aorta-gateway-{}", std::process::id()),
                &devices,
            )?,
            &devices,
        );
        let senders = self.senders(&served, &watch, rng)?;
        let mut streams = Vec::with_capacity(senders.len());
        for (sender, p) in senders.into_iter().zip(&served) {
            streams.push(LiveStream::new(sender, dup(&p.device)));
        }
        let opts = LiveOptions {
            cadence: Duration::from_millis(u64::from(
                served.first().map_or(10_000, |p| p.profile.cadence_ms),
            )),
            max_ahead_us: i64::try_from(m.max_ahead.as_micros()).unwrap_or(i64::MAX),
        };
        let outbox = Outbox::new(out, m.outbox)?;

        struct Hooks<'a> {
            m: &'a Mqtt,
            output: &'a Output,
            started: Instant,
            metrics: Option<&'a Exporter>,
            reported: LiveStats,
            lagging: bool,
        }
        impl LiveHooks for Hooks<'_> {
            fn notice(&mut self, msg: &str) {
                if msg.starts_with("subscribed") {
                    (self.output.say)(&format!("{msg} on {}", self.m.addr));
                } else {
                    (self.output.log)(&format!("gateway: {msg}"));
                }
            }
            fn stop(&mut self, s: &LiveStats) -> bool {
                self.m.stop.load(Ordering::Acquire)
                    || self.m.max_samples.is_some_and(|n| s.samples >= n)
                    || self.m.duration.is_some_and(|d| self.started.elapsed() >= d)
            }
            fn tick(&mut self, s: &LiveStats) {
                if let Some(m) = self.metrics {
                    crate::metrics::totals(m, s.sealed_envelopes, s.sealed_bytes);
                    for (reason, n) in &s.refused {
                        crate::metrics::refused(m, reason, *n);
                    }
                    crate::metrics::outbox(m, &s.outbox);
                    m.counter(
                        "aorta_gateway_samples_accepted",
                        "Samples accepted from devices into their streams",
                        &[],
                        s.samples,
                    );
                }
                if s.refused != self.reported.refused {
                    (self.output.log)(&format!("gateway: refused so far: {}", counts(&s.refused)));
                }
                let (o, r) = (&s.outbox, &self.reported.outbox);
                if self.lagging && o.queued_ticks <= 1 {
                    self.lagging = false;
                    (self.output.log)(&format!(
                        "gateway: the transport caught up ({} envelopes dropped in all)",
                        o.dropped_envelopes
                    ));
                }
                if o.dropped_ticks > r.dropped_ticks
                    || (o.retries > r.retries && o.queued_ticks > 1)
                {
                    self.lagging = true;
                    (self.output.log)(&format!(
                        "gateway: the transport is not keeping up ({}): {} ticks waiting ({} KiB), {} envelopes dropped so far (oldest first; workers flag the gap)",
                        o.last_error.as_deref().unwrap_or("slow"),
                        o.queued_ticks,
                        o.queued_bytes / 1024,
                        o.dropped_envelopes
                    ));
                }
                self.reported = s.clone();
            }
        }
        let mut hooks = Hooks {
            m: &m,
            output: &self.output,
            started: Instant::now(),
            metrics: self.metrics.as_ref(),
            reported: LiveStats::default(),
            lagging: false,
        };
        // Key checks on their own thread, one every `key_check_ticks`
        // cadences: a slow key broker must not delay a tick.
        let every = u32::try_from(m.key_check_ticks.max(1)).unwrap_or(u32::MAX);
        let mut watch = watch
            .spawn(opts.cadence.saturating_mul(every))
            .map_err(|e| GatewayError::KeyWatch(e.to_string()))?;
        let stats = live(
            &mut streams,
            &mut src,
            &outbox,
            Some(&mut watch),
            &opts,
            rng,
            &mut hooks,
        )?;
        let reconnects = src.reconnects;
        src.disconnect();
        let sent = outbox.close(m.grace)?;
        let total: u64 = stats.refused.values().sum();
        let say = &self.output.say;
        say(&format!(
            "gateway: {} samples, {total} refused, {} envelopes, {reconnects} MQTT reconnections",
            stats.samples, stats.sealed_envelopes
        ));
        if total > 0 {
            say(&format!("gateway: refused: {}", counts(&stats.refused)));
        }
        say(&format!(
            "gateway: transport: {} envelopes sent, {} not sent ({} retries{})",
            sent.sent_envelopes,
            sent.dropped_envelopes,
            sent.retries,
            sent.last_error
                .as_deref()
                .map_or(String::new(), |e| format!("; last error: {e}"))
        ));
        if let Some(e) = &self.metrics {
            crate::metrics::outbox(e, &sent);
        }
        Ok(())
    }
}

/// Another handle on a device key (secret keys are not `Clone`; each
/// session holder keeps its own, zeroized on drop).
fn dup(k: &KemSecret) -> KemSecret {
    KemSecret::from_bytes(*k.expose_secret())
}

fn counts(m: &BTreeMap<&'static str, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{v} × {k}"))
        .collect::<Vec<_>>()
        .join("; ")
}
