//! Atrial fibrillation detection from RR irregularity on a short sliding
//! window, in the spirit of the low-complexity detectors of Petrėnas et al.
//! (Comput. Biol. Med. 65:184–191, 2015: ectopic beat filtering, bigeminy
//! suppression, irregularity) and Tateno & Glass (Med. Biol. Eng. Comput.
//! 39:664–671, 2001): AF is *irregularly irregular* — beat to beat changes
//! are large, no baseline interval dominates, and no pattern repeats.
//!
//! Over the last [`AfConfig::window`] intervals ([`features`]):
//! * ectopic filtering: a premature interval (< 90 % of the window median
//!   *m*) followed by a long one (> 105 % of *m*) whose sum is 2·*m* within
//!   ±[`AfConfig::compensation`] is a premature beat with its compensatory
//!   pause; both intervals are replaced by their mean (the underlying sinus
//!   period), as RR artefact correction does for ectopic beats;
//! * irregularity = median over beats of |RRᵢ − RRᵢ₋ₖ| / ((RRᵢ + RRᵢ₋ₖ)/2),
//!   the smallest over the lags k = 1..=[`AfConfig::max_lag`]
//!   (the median resists isolated ectopic beats, unlike RMSSD). Lag 1 is
//!   the successive difference; lags 2 and 3 see through bigeminy and
//!   trigeminy, where a pattern repeats every second or third beat —
//!   *regularly* irregular, not AF, while in AF the intervals are as
//!   unrelated two or three beats apart as one;
//! * concentration = share of intervals within ±[`AfConfig::band`] of *m*.
//!   Sinus rhythm with runs of ectopic beats or missed/extra detections
//!   keeps a baseline (high concentration); AF does not. A window with
//!   concentration ≥ [`AfConfig::max_concentration`] counts as regular.
//!
//! A window more irregular than [`AfConfig::max_irregularity`] is noise,
//! not rhythm (on afdb, 0.006 % of AF decisions exceed 0.35, while false
//! and missed detections in a noisy signal easily do): it neither starts
//! nor ends AF, and its decision says `noise`.
//!
//! Periodicity ([`periodicity`]): the larger lag-2 / lag-3 autocorrelation
//! of the successive differences of the last 33 intervals. Ventricular
//! bigeminy and trigeminy with varying coupling, and runs of PVC couplets,
//! are irregular at every lag yet repeat their *pattern* every 2 or 3 beats;
//! AF's differences are uncorrelated (≈ 0). A window whose periodicity
//! exceeds [`AfConfig::periodic_onset`] cannot start AF, and one above
//! [`AfConfig::periodic_offset`] counts towards ending it (after the
//! bigeminy suppression of Petrėnas et al. 2015, in autocorrelation form).
//!
//! Repetition ([`repetition`]): the share of the window's 3-interval
//! templates (RRᵢ₋₂, RRᵢ₋₁, RRᵢ) that another template of the window
//! matches within ±[`AfConfig::repeat_tolerance`] in every interval — the
//! template matching of sample entropy (Richman & Moorman, Am. J.
//! Physiol. 278:H2039, 2000) used as a count, not a logarithm. Sinus
//! rhythm with frequent atrial or ventricular ectopy, atrial flutter with
//! varying block and other *regularly irregular* rhythms visit a few
//! discrete interval patterns again and again (the clusters of their
//! Lorenz plots: Esperer et al., Ann. Noninvasive Electrocardiol.
//! 13:44–60, 2008), even when the pattern changes too often for any one
//! lag or the periodicity to see it; AF's intervals are continuous and
//! rarely repeat three at a time. A window whose repetition exceeds
//! [`AfConfig::repeat_onset`] cannot start AF, and one above
//! [`AfConfig::repeat_offset`] counts towards ending it.
//!
//! Short path: a paroxysm of AF covering less than about half the window
//! (a burst of a few dozen beats inside stable sinus rhythm) hardly moves
//! the 64-beat median. Beside it, [`AfConfig::short_window`] intervals centred on the
//! same beat are measured the same way; AF also starts when, for
//! [`AfConfig::short_run`] decisions, that short window is irregular
//! (above [`AfConfig::short_onset`], concentration below the bound), none
//! of its 3-interval patterns recurs in the long window (at most
//! [`AfConfig::short_repeat`]: ectopy repeats, AF does not), no interval
//! is shorter than [`AfConfig::short_min_rr`] of the long median (a double
//! detection), the long window's beats before it were regular (below
//! [`AfConfig::short_before`]: a paroxysm out of a steady rhythm) and the
//! long window is not periodic. Such an episode ends when the short window
//! is regular again (below [`AfConfig::short_offset`]) or most of its
//! patterns recur (above [`AfConfig::repeat_offset`], the long window's
//! bound), and the long window does not call for AF, for
//! [`AfConfig::short_end_run`] decisions; both
//! events are dated at the first decision of their run, as the long
//! path's are. When the long window confirms AF it becomes an
//! ordinary episode. Detecting brief AF on a few beats follows Petrėnas,
//! Marozas & Sörnmo (2015, 8-beat window); the gates keep its false
//! alarms out.
//!
//! AF starts when the irregularity exceeds [`AfConfig::onset`] and ends
//! when it falls below [`AfConfig::offset`] (hysteresis), each for
//! [`AfConfig::min_run`] consecutive beats (debouncing). A decision refers
//! to the beat at the window's centre, so it is reported half a window
//! (~32 beats) late. Memory: two windows of f64 (the intervals and their
//! times; state), and scratch space of a few windows (not checkpointed).
//!
//! Recordings shorter than a window (e.g. 30-s screening strips) are
//! classified as a whole by [`classify_segment`] with the same features.

use std::collections::VecDeque;

/// Settings, chosen once for all records on afdb (docs/validation.md).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AfConfig {
    /// Intervals per decision.
    pub window: usize,
    /// Irregularity above which AF begins.
    pub onset: f64,
    /// Irregularity below which AF ends.
    pub offset: f64,
    /// Windows with at least this share of intervals near their median
    /// are regular, whatever their irregularity.
    pub max_concentration: f64,
    /// Half-width of "near the median", relative.
    pub band: f64,
    /// Largest lag of the irregularity measure (1 = successive
    /// differences only).
    pub max_lag: usize,
    /// Tolerance of the compensatory-pause test, relative to two median
    /// intervals (0 turns ectopic filtering off).
    pub compensation: f64,
    /// Consecutive decisions that must call for a change before the state
    /// flips (debounces onset/offset events).
    pub min_run: u32,
    /// Irregularity above which a window is noise, not rhythm.
    pub max_irregularity: f64,
    /// Periodicity above which a window cannot start AF.
    pub periodic_onset: f64,
    /// Periodicity above which a window counts towards ending AF.
    pub periodic_offset: f64,
    /// Relative tolerance of a template match in [`repetition`].
    pub repeat_tolerance: f64,
    /// Repetition above which a window cannot start AF.
    pub repeat_onset: f64,
    /// Repetition above which a window counts towards ending AF.
    pub repeat_offset: f64,
    /// Intervals of the short window centred on the decision's beat
    /// (the short path, see the module docs): rounded down to even, at
    /// most the window less 2; fewer than 4 turn the short path off.
    pub short_window: usize,
    /// Short-window irregularity above which the short path calls for AF.
    pub short_onset: f64,
    /// Short-window irregularity below which an episode the short path
    /// began counts towards ending.
    pub short_offset: f64,
    /// Consecutive decisions the short path needs to start AF.
    pub short_run: u32,
    /// Consecutive decisions that end an episode the short path began.
    pub short_end_run: u32,
    /// Largest share of the short window's 3-interval patterns that recur
    /// in the long window (as [`repetition`]) for the short path to start.
    pub short_repeat: f64,
    /// Shortest interval of the short window, relative to the long
    /// window's median, below which the short path does not start (a
    /// double detection or an artefact, not AF).
    pub short_min_rr: f64,
    /// Irregularity of the long window's intervals before the short
    /// window at or above which the short path does not start: it looks
    /// for a paroxysm out of a regular rhythm.
    pub short_before: f64,
}

impl Default for AfConfig {
    fn default() -> Self {
        Self {
            window: 64,
            onset: 0.07,
            offset: 0.045,
            max_concentration: 0.35,
            band: 0.03,
            max_lag: 3,
            compensation: 0.1,
            min_run: 16,
            max_irregularity: 0.35,
            periodic_onset: 0.70,
            periodic_offset: 0.85,
            repeat_tolerance: 0.03,
            repeat_onset: 0.45,
            repeat_offset: 0.6,
            short_window: 12,
            short_onset: 0.12,
            short_offset: 0.096,
            short_run: 6,
            short_end_run: 12,
            short_repeat: 0.05,
            short_min_rr: 0.35,
            short_before: 0.05,
        }
    }
}

/// A change of rhythm, reported when confirmed (`min_run` decisions in a
/// row) and dated at the first of those decisions: where the rhythm
/// changed, not where the change was confirmed. The decisions between
/// carry the old state; an episode is `[Onset, Offset)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AfEvent {
    /// AF begins at this beat time (s).
    Onset(f64),
    /// AF ends at this beat time (s).
    Offset(f64),
}

/// The decision for one beat (half a window late).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AfDecision {
    pub time: f64,
    pub af: bool,
    pub irregularity: f64,
    pub concentration: f64,
    /// The window was too irregular to be rhythm (see the module docs).
    pub noise: bool,
    /// Lag-2/3 periodicity of the last intervals ([`periodicity`]).
    pub periodicity: f64,
    /// Share of the window's interval patterns that recur ([`repetition`]);
    /// computed only when a rule needs it (`None` otherwise, e.g. when the
    /// window is not irregular enough for AF to start anyway).
    pub repetition: Option<f64>,
}

/// Why [`classify_segment`] did not decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undecided {
    /// Fewer than [`MIN_SEGMENT`] rhythm intervals (plus the lags).
    TooFewBeats,
    /// More irregular than [`AfConfig::max_irregularity`]: detection noise.
    Noise,
}

/// Streaming AF detector over RR intervals. A restored detector is
/// checked as it is read ([`Restored`]): one that `new` could not have
/// made, or whose buffers `push` could not have filled, is refused.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(try_from = "Restored")]
pub struct AfDetector {
    cfg: AfConfig,
    /// The last `window + max_lag` rhythm intervals (ms).
    rrs: VecDeque<f64>,
    times: VecDeque<f64>,
    in_af: bool,
    /// The current episode was begun by the short path and the long
    /// window has not yet confirmed it: it ends by the short path's rule.
    short: bool,
    /// Consecutive decisions of the long window calling for the other
    /// state (or, in a short-path episode, for AF: its confirmation).
    run: u32,
    /// The window centre of the first of them: where the change began.
    run_from: f64,
    /// The same for the short path (its onset, or its offset).
    short_run: u32,
    short_from: f64,
    /// Intervals left out as not rhythm (outside 200..3000 ms).
    out_of_range: u64,
    #[serde(skip)]
    scratch: Scratch,
    /// The short window's working buffers.
    #[serde(skip)]
    short_scratch: Scratch,
}

/// Largest window a restored detector may have (the default is 64).
pub const MAX_WINDOW: usize = 1024;

/// An [`AfDetector`] as read from a checkpoint, before its checks: the
/// same fields in the same order (the serialised form is the detector's).
#[derive(serde::Deserialize)]
pub struct Restored {
    cfg: AfConfig,
    rrs: VecDeque<f64>,
    times: VecDeque<f64>,
    in_af: bool,
    short: bool,
    run: u32,
    run_from: f64,
    short_run: u32,
    short_from: f64,
    out_of_range: u64,
}

impl TryFrom<Restored> for AfDetector {
    type Error = String;

    fn try_from(r: Restored) -> Result<Self, String> {
        // Checked before `new` allocates the window: a restored size must
        // not choose how much memory is reserved.
        if !(4..=MAX_WINDOW).contains(&r.cfg.window) {
            return Err(format!(
                "AF detector window of {} intervals (4..={MAX_WINDOW})",
                r.cfg.window
            ));
        }
        let fresh = AfDetector::new(r.cfg);
        let (w, lags) = (fresh.cfg.window, fresh.cfg.max_lag);
        if fresh.cfg != r.cfg {
            return Err(format!(
                "AF detector settings out of range (window {}, lags {})",
                r.cfg.window, r.cfg.max_lag
            ));
        }
        if r.rrs.len() != r.times.len() || r.rrs.len() > w + lags {
            return Err(format!(
                "AF detector buffers of {} intervals and {} times for a window of {}",
                r.rrs.len(),
                r.times.len(),
                w + lags
            ));
        }
        if !r.rrs.iter().all(|x| (200.0..=3000.0).contains(x))
            || !r.times.iter().all(|t| t.is_finite())
        {
            return Err("AF detector buffers hold values push never keeps".into());
        }
        if r.short && !r.in_af {
            return Err("AF detector in a short-path episode outside AF".into());
        }
        Ok(Self {
            rrs: r.rrs,
            times: r.times,
            in_af: r.in_af,
            short: r.short,
            run: r.run,
            run_from: r.run_from,
            short_run: r.short_run,
            short_from: r.short_from,
            out_of_range: r.out_of_range,
            ..fresh
        })
    }
}

/// Working buffers of [`features`] (not state: never checkpointed).
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    sorted: Vec<f64>,
    filtered: Vec<f64>,
    order: Vec<u128>,
    matched: Vec<bool>,
}

/// Scratch space carries no state: any two are equal, so a restored
/// detector equals the one that was checkpointed.
impl PartialEq for Scratch {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

fn median(v: &mut [f64]) -> f64 {
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// What [`features`] measures of a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    pub irregularity: f64,
    pub concentration: f64,
    /// The window's median interval (ms; the upper one of an even count).
    pub median: f64,
}

/// Irregularity, concentration and median of `rr` (ms, rhythm intervals
/// only): the window is `rr[lags..]`, the first `lags` intervals only
/// serve as partners of its first differences (see the module
/// documentation). `rr.len()` must exceed `lags`.
pub fn features(rr: &[f64], lags: usize, cfg: &AfConfig, s: &mut Scratch) -> Features {
    let window = &rr[lags..];
    s.sorted.clear();
    s.sorted.extend_from_slice(window);
    let base = median(&mut s.sorted);
    let near = window
        .iter()
        .filter(|r| (*r - base).abs() <= cfg.band * base)
        .count();
    let concentration = near as f64 / window.len() as f64;
    let f = &mut s.filtered;
    f.clear();
    f.extend_from_slice(rr);
    if cfg.compensation > 0.0 {
        let mut i = 0;
        while i + 1 < f.len() {
            let (a, b) = (f[i], f[i + 1]);
            if a < PREMATURE * base
                && b > PAUSE * base
                && (a + b - 2.0 * base).abs() <= cfg.compensation * 2.0 * base
            {
                f[i] = (a + b) / 2.0;
                f[i + 1] = f[i];
                i += 2;
            } else {
                i += 1;
            }
        }
    }
    let irregularity = median_difference(f, lags..f.len(), lags, &mut s.sorted);
    Features {
        irregularity,
        concentration,
        median: base,
    }
}

/// The smallest over the lags 1..=`lags` of the median relative difference
/// |fᵢ − fᵢ₋ₖ| / ((fᵢ + fᵢ₋ₖ)/2) over i in `at` (each i ≥ `lags`); 0 for
/// an empty range.
fn median_difference(
    f: &[f64],
    at: std::ops::Range<usize>,
    lags: usize,
    sorted: &mut Vec<f64>,
) -> f64 {
    if at.is_empty() {
        return 0.0;
    }
    let mut smallest = f64::INFINITY;
    for k in 1..=lags {
        sorted.clear();
        sorted.extend(at.clone().map(|i| {
            let (a, b) = (f[i], f[i - k]);
            (a - b).abs() / ((a + b) / 2.0)
        }));
        smallest = smallest.min(median(sorted));
    }
    smallest
}

/// Intervals whose successive differences [`periodicity`] looks at.
pub const PERIODIC_SPAN: usize = 33;

/// The larger of the lag-2 and lag-3 autocorrelations of the successive
/// differences of the last [`PERIODIC_SPAN`] intervals of `rr` (ms):
/// Σ dᵢ·dᵢ₋ₖ / Σ dᵢ² over those differences. Near 0 for AF, near 1 for a
/// pattern that repeats every 2 or 3 beats. 0 for fewer intervals.
pub fn periodicity(rr: &[f64]) -> f64 {
    let Some(tail) = rr
        .len()
        .checked_sub(PERIODIC_SPAN)
        .and_then(|s| rr.get(s..))
    else {
        return 0.0;
    };
    let d = |i: usize| tail[i + 1] - tail[i];
    let n = PERIODIC_SPAN - 1;
    let energy: f64 = (0..n).map(|i| d(i) * d(i)).sum::<f64>() + 1e-9;
    [2usize, 3]
        .iter()
        .map(|&k| (k..n).map(|i| d(i) * d(i - k)).sum::<f64>() / energy)
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Intervals per template of [`repetition`].
pub const TEMPLATE: usize = 3;

/// Share of the templates (`TEMPLATE` successive intervals, ms) of
/// `window` that another template of it matches: every interval within
/// `tolerance` of its partner, relative to their mean. 0 for fewer than
/// two templates. Templates are sorted by their last interval and each
/// one only compares with the neighbours inside that interval's band, and
/// stops at its first match: O(n log n) when the intervals spread (AF) or
/// repeat (sinus), never more than comparing every pair (about 3,800
/// comparisons for a 64-interval window). Leaves each template's flag in
/// the scratch space, where the short path reads it.
pub fn repetition(window: &[f64], tolerance: f64, s: &mut Scratch) -> f64 {
    let n = window.len().saturating_sub(TEMPLATE - 1);
    s.matched.clear();
    s.matched.resize(n, false);
    if n < 2 {
        return 0.0;
    }
    // Template j is window[j..j + TEMPLATE], sorted by its last interval.
    let close = |a: f64, b: f64| (a - b).abs() <= tolerance * (a + b) / 2.0;
    let same = |i: usize, j: usize| (0..TEMPLATE).all(|k| close(window[i + k], window[j + k]));
    // Sorted as integers: the bits of a positive f64 order as its value
    // (intervals are 200..3000 ms), the template's index below them.
    s.order.clear();
    s.order
        .extend((0..n).map(|j| (u128::from(window[j + TEMPLATE - 1].to_bits()) << 64) | j as u128));
    s.order.sort_unstable();
    let key = |o: u128| window[(o as u64) as usize + TEMPLATE - 1];
    for p in 0..n {
        let i = (s.order[p] as u64) as usize;
        let last = key(s.order[p]);
        if s.matched[i] {
            continue;
        }
        // Up, then down the sorted order, while the last interval is close.
        let order = &s.order;
        let near = |o: &&u128| close(last, key(**o));
        let partner = order[p + 1..]
            .iter()
            .take_while(near)
            .chain(order[..p].iter().rev().take_while(near))
            .map(|o| (*o as u64) as usize)
            .find(|&j| same(i, j));
        if let Some(j) = partner {
            s.matched[i] = true;
            s.matched[j] = true;
        }
    }
    s.matched.iter().filter(|m| **m).count() as f64 / n as f64
}

/// A premature interval is shorter than this share of the median.
const PREMATURE: f64 = 0.9;
/// A compensatory pause is longer than this share of the median.
const PAUSE: f64 = 1.05;

/// Fewest intervals [`classify_segment`] decides on.
pub const MIN_SEGMENT: usize = 16;

/// Whole-recording decision for a short strip (e.g. a 30-s single-lead
/// recording): the features of the streaming detector over all its rhythm
/// intervals (ms; values outside 200..3000 ms are dropped), AF when the
/// irregularity exceeds the onset threshold and the concentration is
/// below its bound. Undecided with fewer than [`MIN_SEGMENT`] intervals
/// (plus the lags) or when the strip is noise.
pub fn classify_segment(rr_ms: &[f64], cfg: &AfConfig) -> Result<AfDecision, Undecided> {
    let rr: Vec<f64> = rr_ms
        .iter()
        .copied()
        .filter(|r| (200.0..=3000.0).contains(r))
        .collect();
    let lags = cfg.max_lag.clamp(1, MIN_SEGMENT / 2);
    if rr.len() < MIN_SEGMENT + lags {
        return Err(Undecided::TooFewBeats);
    }
    let Features {
        irregularity,
        concentration,
        ..
    } = features(&rr, lags, cfg, &mut Scratch::default());
    if irregularity > cfg.max_irregularity {
        return Err(Undecided::Noise);
    }
    let periodicity = periodicity(&rr);
    let repetition = repetition(&rr[lags..], cfg.repeat_tolerance, &mut Scratch::default());
    Ok(AfDecision {
        time: 0.0,
        // The periodicity and repetition gates were cross-validated on the
        // streaming detector only; strips are judged as before (both are
        // reported).
        af: concentration < cfg.max_concentration && irregularity > cfg.onset,
        irregularity,
        concentration,
        noise: false,
        periodicity,
        repetition: Some(repetition),
    })
}

/// AF episodes `(onset, offset)` in one recording's beats: `beats` holds
/// `(time s, RR ms)` for each interval, the time being the beat that ends
/// it. The streaming detector runs over all of them; an episode still open
/// at the end closes at the last beat. A recording too short for the
/// streaming window is judged as a whole ([`classify_segment`]): AF from
/// its first to its last beat, or nothing.
pub fn episodes(beats: &[(f64, f64)], cfg: AfConfig) -> Vec<(f64, f64)> {
    let mut det = AfDetector::new(cfg);
    let mut out = Vec::new();
    let mut open: Option<f64> = None;
    let mut decided = false;
    for &(t, rr) in beats {
        let (dec, ev) = det.push(rr, t);
        decided |= dec.is_some();
        match ev {
            Some(AfEvent::Onset(t0)) => open = Some(t0),
            Some(AfEvent::Offset(t1)) => {
                if let Some(t0) = open.take() {
                    out.push((t0, t1));
                }
            }
            None => {}
        }
    }
    let last = beats.last().map_or(0.0, |b| b.0);
    if let Some(t0) = open {
        out.push((t0, last));
    }
    if !decided {
        let rr: Vec<f64> = beats.iter().map(|b| b.1).collect();
        if classify_segment(&rr, &cfg).is_ok_and(|d| d.af) {
            let first = beats.first().map_or(0.0, |b| b.0 - b.1 / 1000.0);
            out.push((first, last));
        }
    }
    out
}

/// Counts a decision calling for a change: the run's length, and where it
/// began.
fn count(run: &mut u32, from: &mut f64, wants: bool, at: f64) {
    if wants {
        if *run == 0 {
            *from = at;
        }
        *run += 1;
    } else {
        *run = 0;
    }
}

impl AfDetector {
    /// The long window's repetition, computed once per decision and only
    /// when a rule needs it (it also leaves the match flags the short path
    /// reads).
    fn long_repetition(&mut self, memo: &mut Option<f64>) -> f64 {
        if let Some(r) = *memo {
            return r;
        }
        let lags = self.cfg.max_lag;
        let r = repetition(
            &self.rrs.make_contiguous()[lags..],
            self.cfg.repeat_tolerance,
            &mut self.scratch,
        );
        *memo = Some(r);
        r
    }

    /// Whether the long window calls for AF (its onset rule).
    fn long_onset(
        &mut self,
        noise: bool,
        effective: f64,
        periodicity: f64,
        memo: &mut Option<f64>,
    ) -> bool {
        !noise
            && effective > self.cfg.onset
            && periodicity <= self.cfg.periodic_onset
            && self.long_repetition(memo) <= self.cfg.repeat_onset
    }

    /// The short window's place in the buffer: `short_window` intervals
    /// centred on the decision's beat, at least one long-window interval
    /// before it. `None` when the short path is off.
    fn short_bounds(&self) -> Option<(usize, usize)> {
        let (w, lags) = (self.cfg.window, self.cfg.max_lag);
        let half = (self.cfg.short_window / 2).min(w / 2 - 1);
        (half >= 2).then(|| (lags + w / 2 - half, lags + w / 2 + half))
    }

    /// The short window measured as the long one is, in its own scratch
    /// space (the long window's filtered intervals stay for
    /// [`Self::regular_before`]).
    fn short_features(&mut self, (lo, hi): (usize, usize)) -> Features {
        let lags = self.cfg.max_lag;
        let rr = self.rrs.make_contiguous();
        features(&rr[lo - lags..hi], lags, &self.cfg, &mut self.short_scratch)
    }

    /// Share of the short window's 3-interval patterns that recur in the
    /// long window. Fails closed: flags that do not cover it count as
    /// recurring.
    fn short_repetition(&mut self, (lo, hi): (usize, usize), memo: &mut Option<f64>) -> f64 {
        self.long_repetition(memo);
        let lags = self.cfg.max_lag;
        // Long-window pattern j is rr[lags + j..][..TEMPLATE]; those lying
        // wholly inside the short window:
        match self
            .scratch
            .matched
            .get(lo - lags..hi - lags + 1 - TEMPLATE)
        {
            Some(m) if !m.is_empty() => m.iter().filter(|m| **m).count() as f64 / m.len() as f64,
            _ => 1.0,
        }
    }

    /// Whether the short path calls for AF (see the module docs); the
    /// cheap tests first, the rest only when they pass.
    fn short_onset(&mut self, b: (usize, usize), long_median: f64, memo: &mut Option<f64>) -> bool {
        let f = self.short_features(b);
        let cfg = self.cfg;
        f.irregularity > cfg.short_onset
            && f.concentration < cfg.max_concentration
            && self.short_repetition(b, memo) <= cfg.short_repeat
            && {
                let rr = self.rrs.make_contiguous();
                let shortest = rr[b.0..b.1].iter().copied().fold(f64::INFINITY, f64::min);
                shortest >= cfg.short_min_rr * long_median
            }
            && self.regular_before(b.0)
    }

    /// Whether the long window's intervals before the short window were
    /// regular. Reads the long window's filtered intervals, still in the
    /// scratch space from this decision's [`features`].
    fn regular_before(&mut self, lo: usize) -> bool {
        let lags = self.cfg.max_lag;
        let s = &mut self.scratch;
        median_difference(&s.filtered, lags..lo, lags, &mut s.sorted) < self.cfg.short_before
    }

    /// Whether the short window is regular again, or most of its patterns
    /// recur (as the long window's gate ends any episode): recurring
    /// ectopy after a burst does not keep an episode going.
    fn short_regular(&mut self, b: Option<(usize, usize)>, memo: &mut Option<f64>) -> bool {
        let Some(b) = b else { return true };
        let f = self.short_features(b);
        f.irregularity < self.cfg.short_offset
            || f.concentration >= self.cfg.max_concentration
            || self.short_repetition(b, memo) > self.cfg.repeat_offset
    }

    pub fn new(cfg: AfConfig) -> Self {
        let w = cfg.window.max(4);
        let lag = cfg.max_lag.clamp(1, w / 2);
        Self {
            cfg: AfConfig {
                window: w,
                max_lag: lag,
                ..cfg
            },
            rrs: VecDeque::with_capacity(w + lag),
            times: VecDeque::with_capacity(w + lag),
            in_af: false,
            short: false,
            run: 0,
            run_from: 0.0,
            short_run: 0,
            short_from: 0.0,
            out_of_range: 0,
            scratch: Scratch::default(),
            short_scratch: Scratch::default(),
        }
    }

    pub fn in_af(&self) -> bool {
        self.in_af
    }

    /// Heap held: the window's intervals and times, and the working
    /// buffers as allocated (their capacities, not a formula).
    pub fn heap_bytes(&self) -> usize {
        let f = std::mem::size_of::<f64>();
        let scratch = |s: &Scratch| {
            (s.sorted.capacity() + s.filtered.capacity()) * f
                + s.order.capacity() * std::mem::size_of::<u128>()
                + s.matched.capacity()
        };
        (self.rrs.capacity() + self.times.capacity()) * f
            + scratch(&self.scratch)
            + scratch(&self.short_scratch)
    }

    /// Intervals left out so far because they were outside 200..3000 ms.
    pub fn out_of_range(&self) -> u64 {
        self.out_of_range
    }

    /// Feeds one RR interval (ms) ending at `time` (s). Returns the decision
    /// for the window's centre once the window is full, and an event when
    /// the rhythm changes. Intervals outside 200..3000 ms (and non-finite
    /// values) are not rhythm — a double detection, a missed beat, a pause
    /// or a gap in the signal: they are counted ([`Self::out_of_range`]) and
    /// left out, and the window goes on across them, so the rhythm around
    /// them is still judged (restarting the window left stretches of
    /// heart-failure recordings with frequent artefacts unjudged for hours).
    pub fn push(&mut self, rr_ms: f64, time: f64) -> (Option<AfDecision>, Option<AfEvent>) {
        if !(200.0..=3000.0).contains(&rr_ms) || !time.is_finite() {
            self.out_of_range += 1;
            return (None, None);
        }
        let (w, lags) = (self.cfg.window, self.cfg.max_lag);
        self.rrs.push_back(rr_ms);
        self.times.push_back(time);
        if self.rrs.len() > w + lags {
            self.rrs.pop_front();
            self.times.pop_front();
        }
        if self.rrs.len() < w + lags {
            return (None, None);
        }
        let Features {
            irregularity,
            concentration,
            median: long_median,
        } = features(
            self.rrs.make_contiguous(),
            lags,
            &self.cfg,
            &mut self.scratch,
        );
        let effective = if concentration >= self.cfg.max_concentration {
            0.0
        } else {
            irregularity
        };
        let noise = irregularity > self.cfg.max_irregularity;
        let periodicity = periodicity(self.rrs.make_contiguous());
        let centre = self.times[lags + w / 2];
        let short = self.short_bounds();
        // The long window's repetition, once, when a rule needs it.
        let mut rep = None;
        let mut event = None;
        if !self.in_af {
            let long_onset = self.long_onset(noise, effective, periodicity, &mut rep);
            let short_onset = !noise
                && periodicity <= self.cfg.periodic_onset
                && short.is_some_and(|b| self.short_onset(b, long_median, &mut rep));
            count(&mut self.run, &mut self.run_from, long_onset, centre);
            count(
                &mut self.short_run,
                &mut self.short_from,
                short_onset,
                centre,
            );
            // Dated where the run of decisions calling for it began: the
            // rhythm changed there; the run only confirmed it.
            if self.run >= self.cfg.min_run.max(1) {
                event = Some(AfEvent::Onset(self.run_from));
            } else if self.short_run >= self.cfg.short_run.max(1) {
                event = Some(AfEvent::Onset(self.short_from));
                self.short = true;
            }
        } else if !self.short {
            let offset = !noise
                && (effective < self.cfg.offset
                    || periodicity > self.cfg.periodic_offset
                    || self.long_repetition(&mut rep) > self.cfg.repeat_offset);
            count(&mut self.run, &mut self.run_from, offset, centre);
            if self.run >= self.cfg.min_run.max(1) {
                event = Some(AfEvent::Offset(self.run_from));
            }
        } else {
            // A short-path episode: the long window confirming AF makes it
            // an ordinary episode; otherwise it ends when the short window
            // is regular again and the long one does not call for AF.
            let long_onset = self.long_onset(noise, effective, periodicity, &mut rep);
            count(&mut self.run, &mut self.run_from, long_onset, centre);
            if self.run >= self.cfg.min_run.max(1) {
                self.short = false;
                self.run = 0;
                self.short_run = 0;
            } else {
                let offset = !noise && !long_onset && self.short_regular(short, &mut rep);
                count(&mut self.short_run, &mut self.short_from, offset, centre);
                if self.short_run >= self.cfg.short_end_run.max(1) {
                    event = Some(AfEvent::Offset(self.short_from));
                }
            }
        }
        if event.is_some() {
            self.in_af = !self.in_af;
            self.short &= self.in_af;
            self.run = 0;
            self.short_run = 0;
        }
        (
            Some(AfDecision {
                time: centre,
                af: self.in_af,
                irregularity,
                concentration,
                noise,
                periodicity,
                repetition: rep,
            }),
            event,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinus_with_ectopy_is_not_af_and_irregular_rhythm_is() {
        let mut d = AfDetector::new(AfConfig::default());
        let mut t = 0.0;
        let mut events = Vec::new();
        // Sinus at 800 ms with a premature beat and compensatory pause every 5 beats.
        for i in 0..300 {
            let rr = match i % 5 {
                3 => 560.0,
                4 => 1040.0,
                _ => 800.0 + (i % 3) as f64 * 5.0,
            };
            t += rr / 1000.0;
            if let (_, Some(e)) = d.push(rr, t) {
                events.push(e);
            }
        }
        assert!(events.is_empty(), "{events:?}");
        // Irregularly irregular: a deterministic pseudo-random sequence 450..1050 ms.
        let mut x = 12345u64;
        for _ in 0..300 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let rr = 450.0 + (x >> 33) as f64 % 600.0;
            t += rr / 1000.0;
            if let (_, Some(e)) = d.push(rr, t) {
                events.push(e);
            }
        }
        assert!(
            matches!(events.as_slice(), [AfEvent::Onset(_)]),
            "{events:?}"
        );
        assert!(d.in_af());
        // Garbage is counted and left out, without an event or a panic,
        // and the window goes on: the next interval is judged at once.
        assert_eq!(d.push(f64::NAN, t), (None, None));
        assert_eq!(d.push(-5.0, t), (None, None));
        assert_eq!(d.push(20_000.0, t), (None, None));
        assert_eq!(d.out_of_range(), 3);
        t += 0.8;
        let (dec, _) = d.push(800.0, t);
        assert!(dec.is_some_and(|x| x.af), "{dec:?}");
    }

    fn lcg(x: &mut u64) -> f64 {
        *x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*x >> 33) as f64 / (1u64 << 31) as f64
    }

    /// `(time s, RR ms)` for each interval, the first beat at 0.
    fn beats(rr: &[f64]) -> Vec<(f64, f64)> {
        let mut t = 0.0;
        rr.iter()
            .map(|r| {
                t += r / 1000.0;
                (t, *r)
            })
            .collect()
    }

    /// AF onsets over `rr`, and the median of what `pick` reads from the
    /// decisions (those it reads a value from).
    fn onsets_and_median(
        rr: &[f64],
        cfg: AfConfig,
        pick: impl Fn(&AfDecision) -> Option<f64>,
    ) -> (usize, f64) {
        let mut d = AfDetector::new(cfg);
        let (mut onsets, mut values) = (0, Vec::new());
        for (t, r) in beats(rr) {
            let (dec, ev) = d.push(r, t);
            values.extend(dec.as_ref().and_then(&pick));
            onsets += usize::from(matches!(ev, Some(AfEvent::Onset(_))));
        }
        values.sort_by(f64::total_cmp);
        (onsets, values[values.len() / 2])
    }

    #[test]
    fn bigeminy_and_trigeminy_switching_is_not_af() {
        // As in MIT-BIH 119: runs of N–V (bigeminy) and N–N–V (trigeminy),
        // premature 600 ms, compensatory 1250 ms, sinus 900 ms with jitter.
        let mut d = AfDetector::new(AfConfig::default());
        let (mut t, mut x) = (0.0, 7u64);
        let mut decisions = 0;
        for run in 0..40 {
            let pattern: &[f64] = if run % 2 == 0 {
                &[600.0, 1250.0]
            } else {
                &[900.0, 600.0, 1250.0]
            };
            for _ in 0..(3 + run % 4) {
                for &rr in pattern {
                    let rr = rr + 40.0 * (lcg(&mut x) - 0.5);
                    t += rr / 1000.0;
                    let (dec, ev) = d.push(rr, t);
                    assert_eq!(ev, None, "at {t:.0} s");
                    decisions += usize::from(dec.is_some());
                }
            }
        }
        assert!(decisions > 200, "{decisions}");
    }

    #[test]
    fn short_strips_are_classified_as_a_whole() {
        let cfg = AfConfig::default();
        let mut x = 99u64;
        let af: Vec<f64> = (0..30).map(|_| 450.0 + 600.0 * lcg(&mut x)).collect();
        let sinus: Vec<f64> = (0..30).map(|_| 800.0 + 30.0 * lcg(&mut x)).collect();
        let d = classify_segment(&af, &cfg).unwrap();
        assert!(d.af, "{d:?}");
        let d = classify_segment(&sinus, &cfg).unwrap();
        assert!(!d.af && d.concentration > 0.5, "{d:?}");
        // Detection noise: "intervals" anywhere from 200 to 2800 ms at
        // random (missed beats and spurious detections mixed).
        let noise: Vec<f64> = (0..40).map(|_| 200.0 + 2600.0 * lcg(&mut x)).collect();
        assert_eq!(classify_segment(&noise, &cfg), Err(Undecided::Noise));
        // Too few rhythm intervals (impossible values do not count).
        let mut short = af[..18].to_vec();
        short.extend([f64::NAN, 50.0, 20_000.0]);
        assert_eq!(classify_segment(&short, &cfg), Err(Undecided::TooFewBeats));
        assert_eq!(classify_segment(&[], &cfg), Err(Undecided::TooFewBeats));
    }

    /// Ventricular trigeminy whose intervals vary by ±15 % is irregular at
    /// every lag (the old rule called it AF) but repeats its pattern every
    /// three beats: the periodicity gate keeps it out, while irregularly
    /// irregular intervals are still AF.
    #[test]
    fn periodic_ectopy_is_not_af_but_irregular_rhythm_still_is() {
        let mut x = 11u64;
        let mut jitter = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let trigeminy: Vec<f64> = (0..600)
            .map(|i| {
                let base = [520.0, 1150.0, 820.0][i % 3];
                base * (1.0 + 0.3 * jitter())
            })
            .collect();
        let af: Vec<f64> = (0..600).map(|_| 700.0 * (1.0 + 0.6 * jitter())).collect();
        let onsets = |rr: &[f64], cfg| onsets_and_median(rr, cfg, |d| Some(d.periodicity));
        let without = AfConfig {
            periodic_onset: f64::INFINITY,
            periodic_offset: f64::INFINITY,
            ..AfConfig::default()
        };
        assert!(
            onsets(&trigeminy, without).0 > 0,
            "the old rule calls it AF"
        );
        let (n, per) = onsets(&trigeminy, AfConfig::default());
        assert_eq!(n, 0, "trigeminy raised AF (median periodicity {per:.2})");
        assert!(per > 0.7, "{per}");
        let (n, per) = onsets(&af, AfConfig::default());
        assert_eq!(n, 1, "AF missed (median periodicity {per:.2})");
        assert!(per.abs() < 0.3, "{per}");
        assert_eq!(periodicity(&af[..PERIODIC_SPAN - 1]), 0.0);
    }

    /// The sorted search finds exactly the templates a direct comparison
    /// of every pair finds, on patterned and on random windows.
    #[test]
    fn repetition_equals_a_direct_count() {
        let mut x = 5u64;
        let direct = |w: &[f64], tol: f64| {
            let n = w.len() - (TEMPLATE - 1);
            let close = |a: f64, b: f64| (a - b).abs() <= tol * (a + b) / 2.0;
            let flags: Vec<bool> = (0..n)
                .map(|i| (0..n).any(|j| j != i && (0..TEMPLATE).all(|k| close(w[i + k], w[j + k]))))
                .collect();
            let hit = flags.iter().filter(|f| **f).count();
            (hit as f64 / n as f64, flags)
        };
        let mut s = Scratch::default();
        for case in 0..200 {
            let len = 3 + case % 70;
            let levels = 1 + case % 7;
            let w: Vec<f64> = (0..len)
                .map(|_| {
                    let level = (lcg(&mut x) * levels as f64).floor();
                    500.0 + 90.0 * level + 40.0 * lcg(&mut x) * (case % 3) as f64
                })
                .collect();
            for tol in [0.0, 0.03, 0.1] {
                let (share, flags) = direct(&w, tol);
                assert_eq!(repetition(&w, tol, &mut s), share, "{w:?} {tol}");
                // Each template's flag, which the short path reads.
                assert_eq!(s.matched, flags, "{w:?} {tol}");
            }
        }
        assert_eq!(repetition(&[800.0, 800.0, 800.0], 0.03, &mut s), 0.0);
        assert_eq!(repetition(&[], 0.03, &mut s), 0.0);
    }

    /// Sinus rhythm with frequent atrial ectopy in changing patterns (as
    /// in afdb 04015: sinus beats, premature beats in threes, bigeminy,
    /// in random order) is irregular at every lag and not periodic, yet
    /// it keeps returning to the same few interval patterns: the
    /// repetition gate keeps it out, and AF is still AF.
    #[test]
    fn recurring_ectopy_patterns_are_not_af_but_af_still_is() {
        let mut x = 21u64;
        let motifs: [&[f64]; 4] = [
            &[840.0],
            &[552.0, 616.0, 936.0],
            &[560.0, 1120.0],
            &[520.0, 600.0, 650.0, 1000.0],
        ];
        let mut ectopy = Vec::new();
        while ectopy.len() < 800 {
            let m = motifs[(lcg(&mut x) * 4.0) as usize % 4];
            ectopy.extend(m.iter().map(|r| r * (1.0 + 0.01 * (lcg(&mut x) - 0.5))));
        }
        let af: Vec<f64> = (0..800).map(|_| 450.0 + 600.0 * lcg(&mut x)).collect();
        let run = |rr: &[f64], cfg| onsets_and_median(rr, cfg, |d| d.repetition);
        let without = AfConfig {
            repeat_onset: f64::INFINITY,
            repeat_offset: f64::INFINITY,
            ..AfConfig::default()
        };
        assert!(run(&ectopy, without).0 > 0, "without the gate it is AF");
        let (n, rep) = run(&ectopy, AfConfig::default());
        assert_eq!(
            n, 0,
            "recurring ectopy raised AF (median repetition {rep:.2})"
        );
        assert!(rep > 0.6, "{rep}");
        let (n, rep) = run(&af, AfConfig::default());
        assert_eq!(n, 1, "AF missed (median repetition {rep:.2})");
        assert!(rep < 0.3, "{rep}");
    }

    /// A 20-beat (~12 s) paroxysm of AF inside stable sinus rhythm is too short
    /// for the 64-beat median; the short path finds it, dated near where
    /// it happened, and ends it. A burst of double detections (an
    /// interval split in two) is not AF.
    #[test]
    fn short_paroxysm_is_found_and_double_detections_are_not() {
        let mut x = 77u64;
        let sinus = |n: usize, x: &mut u64| -> Vec<f64> {
            (0..n)
                .map(|_| 900.0 * (1.0 + 0.01 * (lcg(x) - 0.5)))
                .collect()
        };
        let mut rr = sinus(200, &mut x);
        let burst_from: f64 = rr.iter().sum::<f64>() / 1000.0;
        rr.extend((0..20).map(|_| 380.0 + 420.0 * lcg(&mut x)));
        let burst_to: f64 = rr.iter().sum::<f64>() / 1000.0;
        rr.extend(sinus(200, &mut x));
        let without = AfConfig {
            short_window: 0,
            ..AfConfig::default()
        };
        assert_eq!(
            episodes(&beats(&rr), without),
            vec![],
            "the long window alone"
        );
        let found = episodes(&beats(&rr), AfConfig::default());
        let [(on, off)] = found[..] else {
            panic!("{found:?} for a burst at {burst_from:.1}..{burst_to:.1} s")
        };
        assert!(
            (on - burst_from).abs() < 4.0,
            "onset {on:.1}, burst from {burst_from:.1}"
        );
        assert!(
            (off - burst_to).abs() < 3.0,
            "offset {off:.1}, burst to {burst_to:.1}"
        );
        // Double detections: 12 sinus intervals in a row each split in two
        // unequal parts at random (a T wave or an artefact counted as a
        // beat): as irregular as AF, but some parts are impossibly short.
        let mut split = sinus(200, &mut x);
        for k in 0..12 {
            let at = 100 + 2 * k;
            let a = split[at] * (0.2 + 0.6 * lcg(&mut x));
            let b = split[at] - a;
            split.splice(at..=at, [a, b]);
        }
        split.extend(sinus(100, &mut x));
        let without = AfConfig {
            short_min_rr: 0.0,
            ..AfConfig::default()
        };
        assert_ne!(
            episodes(&beats(&split), without),
            vec![],
            "without the bound"
        );
        assert_eq!(episodes(&beats(&split), AfConfig::default()), vec![]);
    }

    /// A paroxysm followed by ectopy in changing, recurring patterns (not
    /// periodic, irregular to the short window): the episode the short
    /// path began ends soon after the burst, not minutes later.
    #[test]
    fn a_short_episode_ends_when_recurring_ectopy_follows() {
        let motifs: [&[f64]; 4] = [
            &[900.0],
            &[560.0, 640.0, 980.0],
            &[580.0, 1200.0],
            &[540.0, 620.0, 680.0, 1060.0],
        ];
        for seed in 1..=20u64 {
            let mut x = seed;
            let mut rr: Vec<f64> = (0..200)
                .map(|_| 900.0 * (1.0 + 0.01 * (lcg(&mut x) - 0.5)))
                .collect();
            rr.extend((0..20).map(|_| 380.0 + 420.0 * lcg(&mut x)));
            let burst_to: f64 = rr.iter().sum::<f64>() / 1000.0;
            while rr.len() < 600 {
                let m = motifs[(lcg(&mut x) * 4.0) as usize % 4];
                rr.extend(m.iter().map(|r| r * (1.0 + 0.01 * (lcg(&mut x) - 0.5))));
            }
            for (on, off) in episodes(&beats(&rr), AfConfig::default()) {
                assert!(
                    off < burst_to + 30.0,
                    "seed {seed}: AF {on:.0}..{off:.0} s after a burst ending at {burst_to:.0} s"
                );
            }
        }
    }

    /// A checkpointed detector restores to itself and goes on deciding as
    /// the original does; a forged or corrupted one that `new` could not
    /// have made (or whose buffers `push` could not have filled) is
    /// refused as it is read, instead of panicking later.
    #[test]
    fn restore_checks_what_it_reads() {
        let mut x = 3u64;
        let mut d = AfDetector::new(AfConfig::default());
        let mut t = 0.0;
        for _ in 0..100 {
            let r = 450.0 + 600.0 * lcg(&mut x);
            t += r / 1000.0;
            d.push(r, t);
        }
        // The checkpoint's own encoding (postcard) restores it exactly.
        let bytes = postcard::to_stdvec(&d).unwrap();
        let mut back: AfDetector = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, d);
        t += 0.7;
        assert_eq!(back.push(700.0, t), d.push(700.0, t));
        // Tampered copies, edited as JSON.
        let mut v = serde_json::to_value(&d).unwrap();
        for (path, value) in [
            ("/cfg/window", serde_json::json!(0)),
            ("/cfg/window", serde_json::json!(1u64 << 40)),
            ("/cfg/max_lag", serde_json::json!(40)),
            ("/times", serde_json::json!([1.0])),
            ("/rrs/0", serde_json::json!(5.0)),
            ("/short", serde_json::json!(true)),
        ] {
            let mut bad = v.clone();
            if path == "/short" {
                bad["in_af"] = serde_json::json!(false);
            }
            *bad.pointer_mut(path).unwrap() = value;
            let err = serde_json::from_value::<AfDetector>(bad).unwrap_err();
            assert!(err.to_string().contains("AF detector"), "{path}: {err}");
        }
        v["rrs"] = serde_json::json!([]);
        v["times"] = serde_json::json!([]);
        assert!(serde_json::from_value::<AfDetector>(v).is_ok());
    }
}
