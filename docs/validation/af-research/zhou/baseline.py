"""Faithful Python port of the CURRENT Rust detector (crates/analytics/src/af.rs, AfConfig::default)."""
import numpy as np
from collections import deque

CFG = dict(window=64, onset=0.07, offset=0.05, max_concentration=0.35, band=0.03,
           max_lag=3, compensation=0.1, min_run=16, max_irregularity=0.35)
PREMATURE, PAUSE = 0.9, 1.05


def rust_median(v):
    # select_nth_unstable at len/2 -> upper median for even lengths
    v = np.asarray(v)
    return np.partition(v, len(v) // 2)[len(v) // 2]


def features(rr, lags, cfg):
    window = rr[lags:]
    base = rust_median(window)
    conc = np.count_nonzero(np.abs(window - base) <= cfg['band'] * base) / len(window)
    f = list(rr)
    if cfg['compensation'] > 0:
        i = 0
        n = len(f)
        while i + 1 < n:
            a, b = f[i], f[i + 1]
            if a < PREMATURE * base and b > PAUSE * base and abs(a + b - 2 * base) <= cfg['compensation'] * 2 * base:
                f[i] = f[i + 1] = (a + b) / 2
                i += 2
            else:
                i += 1
    f = np.array(f)
    irr = np.inf
    for k in range(1, lags + 1):
        a = f[lags:]; b = f[lags - k:len(f) - k]
        irr = min(irr, rust_median(np.abs(a - b) / ((a + b) / 2)))
    return irr, conc


def run(t, rr, cfg=CFG):
    """Yields decisions as arrays: (push index j, decision time, af bool). Weight = rr[j] (as validate.rs)."""
    w, lags = cfg['window'], cfg['max_lag']
    rrs, times = deque(), deque()
    in_af, run_ = False, 0
    out_j, out_t, out_af = [], [], []
    for j in range(len(rr)):
        x = rr[j]
        if not (200.0 <= x <= 3000.0):
            continue
        rrs.append(x); times.append(t[j])
        if len(rrs) > w + lags:
            rrs.popleft(); times.popleft()
        if len(rrs) < w + lags:
            continue
        irr, conc = features(np.array(rrs), lags, cfg)
        eff = 0.0 if conc >= cfg['max_concentration'] else irr
        noise = irr > cfg['max_irregularity']
        centre = times[lags + w // 2]
        wants = (not noise) and ((eff < cfg['offset']) if in_af else (eff > cfg['onset']))
        run_ = run_ + 1 if wants else 0
        if run_ >= max(cfg['min_run'], 1):
            run_ = 0
            in_af = not in_af
        out_j.append(j); out_t.append(centre); out_af.append(in_af)
    return np.array(out_j, dtype=int), np.array(out_t), np.array(out_af, dtype=bool)
