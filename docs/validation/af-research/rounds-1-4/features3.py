"""Round 2 features, per rhythm-interval index c (= the decided centre beat; window of W ends at j = c + W/2 - 1).
COSEn (Lake & Moorman 2011): SampEn(m=1, r=30 ms) of the Wc intervals [c-Wc/2, c+Wc/2), + ln(2r) - ln(mean RR) (seconds).
  No length-2 match (A = 0): A := 1 (finite upper bound; documented).
Ectopy: over the W intervals of the window [j-W+1, j], sinus estimate s = sorted(w)[int(0.75 W)]; an interval is
  premature if x < P*s; the first interval after a premature run is the post-ectopic one; both are 'marked'.
  nn_irr = upper median of |x_i - x_{i-1}| / ((x_i + x_{i-1})/2) over consecutive pairs with both unmarked (NN pairs),
  n_nn = number of such pairs, ect = fraction of marked intervals.
dRR autocorrelation lag 1..3 over the window."""
import numpy as np, pickle, os, sys, time
from numba import njit
from data import load_all

@njit(cache=True)
def sampen_cosen(x, r):
    n = len(x)
    A = 0; B = 0
    for i in range(n - 1):
        for k in range(i + 1, n - 1):
            if abs(x[i] - x[k]) <= r:
                B += 1
                if abs(x[i + 1] - x[k + 1]) <= r:
                    A += 1
    if B == 0:
        B = 1
    if A == 0:
        A = 1
    se = -np.log(A / B)
    return se + np.log(2 * r / 1000.0) - np.log(np.mean(x) / 1000.0), A, B

@njit(cache=True)
def feats(rr, W, Wcs, Ps):
    n = len(rr)
    nc = len(Wcs)
    out = np.full((n, nc + 3 * len(Ps) + 3), np.nan)
    for c in range(n):
        # COSEn, centred
        for q in range(nc):
            Wc = Wcs[q]
            lo = c - Wc // 2; hi = lo + Wc
            if lo >= 0 and hi <= n:
                out[c, q], _, _ = sampen_cosen(rr[lo:hi], 30.0)
        j = c + W // 2 - 1
        lo = j - W + 1
        if lo - 1 < 0 or j >= n:
            continue
        w = rr[lo:j + 1]
        s = np.sort(w)[int(0.75 * W)]
        for p in range(len(Ps)):
            P = Ps[p]
            prem = w < P * s
            mark = prem.copy()
            # previous interval (context) premature -> first of window is post-ectopic
            prevp = rr[lo - 1] < P * s
            for i in range(W):
                if not prem[i] and (prevp if i == 0 else prem[i - 1]):
                    mark[i] = True
            d = np.empty(W)
            m = 0
            for i in range(1, W):
                if not mark[i] and not mark[i - 1]:
                    d[m] = abs(w[i] - w[i - 1]) / ((w[i] + w[i - 1]) / 2); m += 1
            base = nc + 3 * p
            out[c, base + 1] = m
            out[c, base + 2] = mark.sum() / W
            if m > 0:
                out[c, base] = np.sort(d[:m])[m // 2]
            else:
                out[c, base] = 1.0
        dd = np.diff(rr[lo - 1:j + 1])  # W differences
        den = np.sum(dd * dd) + 1e-9
        for k in range(1, 4):
            out[c, nc + 3 * len(Ps) + k - 1] = np.sum(dd[k:] * dd[:-k]) / den
    return out

WCS = np.array([12, 16, 32]); PS = np.array([0.8, 0.85, 0.9])
COLS = [f'cosen{w}' for w in WCS] + [f'{nm}{p}' for p in PS for nm in ('nnirr', 'nnn', 'ect')] + ['ac1', 'ac2', 'ac3']

if __name__ == '__main__':
    recs = load_all()
    for W in [int(x) for x in sys.argv[1:]]:
        fn = f'/tmp/af-proto/cache_feat3_W{W}.pkl'
        t0 = time.time(); res = {}
        for r in recs:
            ok = (r['rr'] >= 200) & (r['rr'] <= 3000)
            res[r['name']] = feats(r['rr'][ok].astype(np.float64), W, WCS, PS).astype(np.float32)
        pickle.dump(dict(cols=COLS, F=res), open(fn, 'wb'))
        print('W', W, f'{time.time()-t0:.0f}s', flush=True)
