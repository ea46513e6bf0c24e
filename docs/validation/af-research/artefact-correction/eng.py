"""Numba engine: shipped af.rs detector (W64, lags 3, PER gate 0.70/0.85) + RR artefact pre-correction variants."""
import numpy as np, pickle, math
from numba import njit
import pandas as pd

L, LAGS, W = 67, 3, 64


@njit(cache=True)
def detect(rr, t):
    n = len(rr)
    idx = np.empty(n, np.int64); m = 0
    for j in range(n):
        x = rr[j]
        if x >= 200.0 and x <= 3000.0 and math.isfinite(t[j]):
            idx[m] = j; m += 1
    nd = max(m - L + 1, 0)
    oj = np.empty(nd, np.int64); ot = np.empty(nd); oaf = np.zeros(nd, np.bool_)
    win = np.empty(L); f = np.empty(L); s = np.empty(W); d = np.empty(32)
    in_af = False; run = 0
    for q in range(nd):
        for i in range(L):
            win[i] = rr[idx[q + i]]
        for i in range(W):
            s[i] = win[LAGS + i]
        s.sort(); base = s[W // 2]
        near = 0
        for i in range(W):
            if abs(win[LAGS + i] - base) <= 0.03 * base:
                near += 1
        conc = near / W
        for i in range(L):
            f[i] = win[i]
        i = 0
        while i + 1 < L:
            a = f[i]; b = f[i + 1]
            if a < 0.9 * base and b > 1.05 * base and abs(a + b - 2.0 * base) <= 0.1 * 2.0 * base:
                f[i] = (a + b) / 2.0; f[i + 1] = f[i]; i += 2
            else:
                i += 1
        irr = np.inf
        for k in range(1, LAGS + 1):
            for i in range(LAGS, L):
                a = f[i]; b = f[i - k]
                s[i - LAGS] = abs(a - b) / ((a + b) / 2.0)
            s.sort()
            if s[W // 2] < irr:
                irr = s[W // 2]
        # periodicity over last 33 intervals
        for i in range(32):
            d[i] = win[L - 33 + i + 1] - win[L - 33 + i]
        en = 0.0
        for i in range(32):
            en += d[i] * d[i]
        en += 1e-9
        per = -np.inf
        for k in (2, 3):
            acc = 0.0
            for i in range(k, 32):
                acc += d[i] * d[i - k]
            if acc / en > per:
                per = acc / en
        eff = 0.0 if conc >= 0.35 else irr
        noise = irr > 0.35
        if noise:
            wants = False
        elif in_af:
            wants = eff < 0.05 or per > 0.85
        else:
            wants = eff > 0.07 and per <= 0.70
        run = run + 1 if wants else 0
        if run >= 16:
            run = 0; in_af = not in_af
        oj[q] = idx[q + L - 1]; ot[q] = t[idx[q + LAGS + W // 2]]; oaf[q] = in_af
    return oj, ot, oaf


# ---------------- (b) simple merge/split rule, streaming ----------------
@njit(cache=True)
def simple_fix(rr, t, x, y, K, do_merge, do_split, nmax, ctx=0.0):
    """Streaming: local median m = median of the last K accepted (output, in-range) intervals.
    merge rr[i], rr[i+1] (both in range, both < y*m) if |rr[i]+rr[i+1]-m| <= x*m -> one interval;
    split rr[i] into k in 2..nmax equal parts if |rr[i]-k*m| <= x*m (k*m <= 3000 ok).
    Corrections are not fed back into... they ARE fed into the median history (outputs)."""
    n = len(rr)
    orr = np.empty(2 * n + 10); ot = np.empty(2 * n + 10); no = 0
    hist = np.empty(K); hn = 0; hp = 0; buf = np.empty(K)
    nmerge = 0; nsplit = 0
    i = 0
    while i < n:
        v = rr[i]
        inr = v >= 200.0 and v <= 3000.0
        if not inr or hn < K:
            orr[no] = v; ot[no] = t[i]; no += 1
            if inr:
                hist[hp] = v; hp = (hp + 1) % K; hn = min(hn + 1, K)
            i += 1
            continue
        for j in range(K):
            buf[j] = hist[j]
        buf.sort(); m = buf[K // 2]
        done = False
        if do_merge and i + 1 < n:
            w = rr[i + 1]
            okc = True
            if ctx > 0.0:
                okc = no > 0 and abs(orr[no - 1] - m) <= ctx * m and i + 2 < n and abs(rr[i + 2] - m) <= ctx * m
            if okc and w >= 200.0 and v < y * m and w < y * m and abs(v + w - m) <= x * m:
                orr[no] = v + w; ot[no] = t[i + 1]; no += 1
                hist[hp] = v + w; hp = (hp + 1) % K
                nmerge += 1; i += 2; done = True
        if not done and do_split:
            for k in range(2, nmax + 1):
                okc = True
                if ctx > 0.0:
                    okc = no > 0 and abs(orr[no - 1] - m) <= ctx * m and i + 1 < n and abs(rr[i + 1] - m) <= ctx * m
                if okc and abs(v - k * m) <= x * m:
                    for p in range(k):
                        orr[no] = v / k; ot[no] = t[i] - (k - 1 - p) * v / k / 1000.0; no += 1
                        hist[hp] = v / k; hp = (hp + 1) % K
                    nsplit += 1; i += 1; done = True
                    break
        if not done:
            orr[no] = v; ot[no] = t[i]; no += 1
            hist[hp] = v; hp = (hp + 1) % K
            i += 1
    return orr[:no], ot[:no], nmerge, nsplit


# ---------------- (a) Lipponen-Tarvainen classification (port of clean.rs classify) ----------------
def _rolling_q(x, width, fn):
    s = pd.Series(x)
    r = s.rolling(width, center=True, min_periods=1)
    return fn(r)


def _threshold(x, alpha):
    a = np.abs(x)
    r = pd.Series(a).rolling(91, center=True, min_periods=1)
    return alpha * (r.quantile(0.75).to_numpy() - r.quantile(0.25).to_numpy()) / 2.0


def classify(rr, alpha=5.2, c1=0.13, c2=0.17):
    """rr in NeuroKit layout (element 0 placeholder). Returns kinds: 0 normal,1 ectopic,2 missed,3 extra,4 longshort."""
    n = len(rr); kinds = np.zeros(n, np.int8)
    if n < 4:
        return kinds
    drrs = np.empty(n); drrs[1:] = np.diff(rr); drrs[0] = drrs[1:].sum() / (n - 1)
    th1 = _threshold(drrs, alpha)
    with np.errstate(divide='ignore', invalid='ignore'):
        drrs = np.where(th1 != 0, drrs / th1, np.nan)
    pad = np.concatenate([drrs[1:3][::-1], drrs, drrs[-3:-1][::-1]])  # reflect by 2
    at = lambda k: pad[k + 2]
    ii = np.arange(n)
    pm1, pp1, pp2 = pad[ii + 1], pad[ii + 3], pad[ii + 4]
    s12 = np.where(drrs > 0, np.maximum(pm1, pp1), np.where(drrs < 0, np.minimum(pm1, pp1), 0.0))
    s22 = np.where(drrs >= 0, np.minimum(pp1, pp2), np.where(drrs < 0, np.maximum(pp1, pp2), 0.0))
    medrr = pd.Series(rr).rolling(11, center=True, min_periods=1).quantile(0.5).to_numpy()
    mrrs = rr - medrr; mrrs = np.where(mrrs < 0, 2 * mrrs, mrrs)
    th2 = _threshold(mrrs, alpha)
    with np.errstate(divide='ignore', invalid='ignore'):
        mrrs = np.where(th2 != 0, mrrs / th2, np.nan)
    return _classify_loop(rr, drrs, s12, s22, mrrs, medrr, th2, c1, c2), medrr


@njit(cache=True)
def _classify_loop(rr, drrs, s12, s22, mrrs, medrr, th2, c1, c2):
    n = len(rr); kinds = np.zeros(n, np.int8)
    i = 0
    while i + 2 < n:
        if abs(drrs[i]) <= 1.0 or np.isnan(drrs[i]):
            i += 1; continue
        eq1 = drrs[i] > 1.0 and s12[i] < -c1 * drrs[i] - c2
        eq2 = drrs[i] < -1.0 and s12[i] > -c1 * drrs[i] + c2
        if eq1 or eq2:
            kinds[i] = 1; i += 1; continue
        cands = [i]
        if abs(drrs[i + 1]) < abs(drrs[i + 2]):
            cands.append(i + 1)
        for j in cands:
            eq3 = drrs[j] > 1.0 and s22[j] < -1.0
            eq4 = abs(mrrs[j]) > 3.0
            eq5 = drrs[j] < -1.0 and s22[j] > 1.0
            if not (eq3 or eq4 or eq5):
                i += 1; continue
            eq6 = abs(rr[j] / 2.0 - medrr[j]) < th2[j]
            eq7 = j + 1 < n and abs(rr[j] + rr[j + 1] - medrr[j]) < th2[j]
            if eq5 and eq7:
                kinds[j] = 3
            elif eq3 and eq6:
                kinds[j] = 2
            else:
                kinds[j] = 4
            i += 1
    return kinds


def lt_fix(rr0, t0, passes=10, alpha=5.2, do_merge=True, do_split=True):
    """Extra/missed only (clean.rs flow, settle 4 after a correction), on the 200..3000 intervals; out-of-range kept."""
    ok = (rr0 >= 200) & (rr0 <= 3000)
    rr = rr0[ok].astype(float); t = t0[ok].astype(float)
    # adjacency in the original series (a merge must not span an out-of-range interval)
    oi = np.flatnonzero(ok); adj = np.append(np.diff(oi) == 1, False)
    nm = ns = 0
    for _ in range(passes):
        if len(rr) < 4:
            break
        padded = np.concatenate([[rr.mean()], rr])
        kinds, _m = classify(padded, alpha)
        r2, t2, a2 = [], [], []
        k = 0; settle = 0; changed = 0
        while k < len(rr):
            kind = 0 if k < settle else kinds[k + 1]
            if kind == 3 and do_merge and k + 1 < len(rr) and adj[k]:
                r2.append(rr[k] + rr[k + 1]); t2.append(t[k + 1]); a2.append(adj[k + 1]); k += 2; settle = k + 2; nm += 1; changed += 1
            elif kind == 2 and do_split:
                r2 += [rr[k] / 2, rr[k] / 2]; t2 += [t[k] - rr[k] / 2000, t[k]]; a2 += [True, adj[k]]; k += 1; settle = k + 3; ns += 1; changed += 1
            else:
                r2.append(rr[k]); t2.append(t[k]); a2.append(adj[k]); k += 1
        rr, t, adj = np.array(r2), np.array(t2), np.array(a2, bool)
        if not changed:
            break
    # re-insert out-of-range intervals in time order
    bad_r, bad_t = rr0[~ok], t0[~ok]
    R = np.concatenate([rr, bad_r]); T = np.concatenate([t, bad_t])
    o = np.argsort(T, kind='stable')
    return R[o], T[o], nm, ns
