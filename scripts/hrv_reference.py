#!/usr/bin/env python3
"""Reference HRV values for crates/analytics/tests/hrv_reference.rs.

Provenance: NN series are 5-minute windows cut from real recordings in
../shared/data (nsr2db nsr001 and nsr004, chf2db chf201, rr-healthy 000),
keeping intervals of 300..2000 ms (no other cleaning), as integer ms (the
intervals between peaks rounded to 1 ms, which is what NeuroKit2 is given),
written to crates/analytics/tests/reference/<name>.txt (one per line).

Reference implementations, settings pinned:
 * NeuroKit2 0.2.13 (hrv_time, hrv_nonlinear) on the same intervals, given as
   peak times in ms (sampling_rate=1000): MeanNN, SDNN, RMSSD, SDSD, pNN50,
   pNN20 (NeuroKit divides NN50 by n rather than the Task Force's n-1: the
   test rescales), HTI, SD1, SD2, SampEn, DFA_alpha1, DFA_alpha2.
 * TINN: exhaustive least-squares search written here (tinn_full), because
   NeuroKit2's search has a bug (see tinn_full's docstring).
 * SciPy (frequency domain), the pipeline Aorta documents:
   Welch: np.interp onto a 4 Hz grid from the first to the last beat,
   scipy.signal.detrend(type="linear"), scipy.signal.welch(fs=4,
   window="hann", nperseg=min(256, n), noverlap=nperseg//2, detrend=False,
   scaling="density"); band power = sum(PSD*df) for lo <= f < hi.
   Lomb-Scargle: scipy.signal.lombscargle on (t, NN - mean), f = k*0.001 Hz
   up to 0.5 Hz, PSD = 2*P*T/N; band power = sum(PSD*0.001).
Run: /path/to/venv/bin/python scripts/hrv_reference.py   (numpy, scipy, neurokit2)
"""
import json
import os
import sys

import numpy as np
import scipy
import scipy.signal
import neurokit2 as nk

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data")
OUT = os.path.join(ROOT, "crates", "analytics", "tests", "reference")
BANDS = {"vlf": (0.0033, 0.04), "lf": (0.04, 0.15), "hf": (0.15, 0.4)}


def load_secs(path, skip_first=True):
    v = np.loadtxt(path)
    return (v[1:] if skip_first else v) * 1000.0


def load_ms(path):
    out = []
    for line in open(path):
        try:
            out.append(float(line))
        except ValueError:
            pass
    return np.array(out)


def window(rr, start_s, secs=300):
    t = np.cumsum(rr) / 1000.0
    sel = (t >= start_s) & (t < start_s + secs)
    w = rr[sel]
    return w[(w >= 300) & (w <= 2000)]


def tinn_full(nn, binsize=1000 / 128):
    """TINN by exhaustive least squares over all N < X < M (Task Force 1996).
    NeuroKit2 0.2.13's _hrv_TINN never resets M after its first N, so it
    only tries the first N; its value is kept as TINN_neurokit2 for the record."""
    edges = np.arange(0, np.max(nn) + binsize, binsize)
    h, edges = np.histogram(nn, bins=edges)
    x = int(np.argmax(h))
    y = h[x]
    first = int(np.floor(np.min(nn) / binsize)) + 1
    best = (np.inf, 0, 0)
    for n in range(first, x):
        for m in range(x + 1, len(edges)):
            if edges[m] >= np.max(nn):
                break
            k = np.arange(n, m + 1)
            q = np.where(k <= x, y * (k - n) / (x - n), y * (m - k) / (m - x))
            err = float(np.sum((h[n:m + 1] - q) ** 2))
            if err < best[0]:
                best = (err, n, m)
    return (best[2] - best[1]) * binsize


def bands(f, p, df):
    out = {k: float(np.sum(p[(f >= lo) & (f < hi)]) * df) for k, (lo, hi) in BANDS.items()}
    out["lf_hf"] = out["lf"] / out["hf"]
    return out


def welch(nn):
    t = np.cumsum(nn) / 1000.0
    n = int(np.floor((t[-1] - t[0]) * 4)) + 1
    grid = t[0] + np.arange(n) / 4.0
    x = scipy.signal.detrend(np.interp(grid, t, nn), type="linear")
    seg = min(256, n)
    f, p = scipy.signal.welch(x, fs=4.0, window="hann", nperseg=seg, noverlap=seg // 2,
                              detrend=False, scaling="density")
    return bands(f, p, 4.0 / seg)


def lomb(nn):
    t = np.cumsum(nn) / 1000.0
    y = nn - nn.mean()
    f = np.arange(1, 501) * 0.001
    p = scipy.signal.lombscargle(t - t[0], y, 2 * np.pi * f, precenter=False, normalize=False)
    psd = 2 * p * (t[-1] - t[0]) / len(nn)
    return bands(f, psd, 0.001)


def main():
    cases = {
        "nsr001_w1": window(load_secs(os.path.join(DATA, "nsr2db", "nsr001_rr_secs.txt")), 3600),
        "nsr004_w1": window(load_secs(os.path.join(DATA, "nsr2db", "nsr004_rr_secs.txt")), 7200),
        "chf201_w1": window(load_secs(os.path.join(DATA, "chf2db", "chf201_rr_secs.txt")), 3600),
        "healthy000_w1": window(load_ms(os.path.join(DATA, "rr-healthy", "000.txt")), 1800),
    }
    ref = {"generated_with": {"numpy": np.__version__, "scipy": scipy.__version__,
                              "neurokit2": nk.__version__}, "cases": {}}
    os.makedirs(OUT, exist_ok=True)
    for name, raw in cases.items():
        # NeuroKit2 takes peak positions in samples (1 ms at 1000 Hz): the
        # stored series is exactly the intervals between those integer peaks.
        peaks = np.concatenate([[0.0], np.cumsum(raw)]).round().astype(int)
        nn = np.diff(peaks).astype(float)
        np.savetxt(os.path.join(OUT, name + ".txt"), nn, fmt="%d")
        tdom = nk.hrv_time(peaks, sampling_rate=1000)
        nl = nk.hrv_nonlinear(peaks, sampling_rate=1000)
        r = {k: float(tdom["HRV_" + k].iloc[0]) for k in
             ["MeanNN", "SDNN", "RMSSD", "SDSD", "pNN50", "pNN20", "HTI", "TINN"]}
        r.update({k: float(nl["HRV_" + k].iloc[0]) for k in
                  ["SD1", "SD2", "SampEn", "DFA_alpha1", "DFA_alpha2"]})
        r["TINN_neurokit2"] = r["TINN"]
        r["TINN"] = tinn_full(nn)
        r["n"] = int(len(nn))
        r["welch"] = welch(nn)
        r["lomb"] = lomb(nn)
        ref["cases"][name] = r
        print(name, len(nn), file=sys.stderr)
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
