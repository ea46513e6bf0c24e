"""Round 3 gate features in f64 for the CURRENT detector's 64-interval window, indexed by the decided (centre)
rhythm-interval index c (window of W = 64 ends at j = c + 31; the ring holds rr[j-66 .. j]).
  per64  = max(ac2, ac3) of the 64 successive differences of rr[j-64 .. j]  (the whole window + 1 lag interval)
  perL32 = same over the 32 differences of rr[j-32 .. j]                       (the window's last 32 intervals)
  perM32 = same over the 32 differences of rr[c-17 .. c+15]                    (Round 2's PER, centred as in Round 2)
  ce64   = COSEn (m=1, r=30 ms) of rr[c-32 .. c+32)  (= the 64-interval window itself)
  ce32   = COSEn of rr[c-16 .. c+16)                  (Round 2's cosen32)
ac_k = sum_{i>=k} d[i] d[i-k] / (sum d^2 + 1e-9).  COSEn: A = 0 -> 1, B = 0 -> 1 (as Round 2).
irr/conc come from cache_feat_W64.pkl (f64, exactly af.rs features)."""
import numpy as np, pickle, time
from numba import njit
from data import load_all


@njit(cache=True)
def cosen(x, r):
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
    s = 0.0
    for i in range(n):
        s += x[i]
    return -np.log(A / B) + np.log(2 * r / 1000.0) - np.log(s / n / 1000.0)


@njit(cache=True)
def per(x):
    """x: intervals; PER over its len(x)-1 successive differences."""
    m = len(x) - 1
    d = np.empty(m)
    for i in range(m):
        d[i] = x[i + 1] - x[i]
    den = 1e-9
    for i in range(m):
        den += d[i] * d[i]
    best = -np.inf
    for k in (2, 3):
        s = 0.0
        for i in range(k, m):
            s += d[i] * d[i - k]
        v = s / den
        if v > best:
            best = v
    return best


@njit(cache=True)
def feats(rr):
    W = 64; L = W + 3
    n = len(rr)
    out = np.full((n, 5), np.nan)
    for j in range(L - 1, n):
        c = j - W // 2 + 1
        out[c, 0] = per(rr[j - 64:j + 1])
        out[c, 1] = per(rr[j - 32:j + 1])
        out[c, 2] = per(rr[c - 17:c + 16])
        out[c, 3] = cosen(rr[c - 32:c + 32], 30.0)
        out[c, 4] = cosen(rr[c - 16:c + 16], 30.0)
    return out

COLS = ['per64', 'perL32', 'perM32', 'ce64', 'ce32']

if __name__ == '__main__':
    t0 = time.time(); res = {}
    for r in load_all():
        ok = (r['rr'] >= 200) & (r['rr'] <= 3000)
        res[r['name']] = feats(r['rr'][ok].astype(np.float64))
    pickle.dump(dict(cols=COLS, F=res), open('/tmp/af-proto/cache_feat4_W64.pkl', 'wb'))
    print(f'{time.time()-t0:.0f}s', flush=True)
