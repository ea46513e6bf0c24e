"""Round 4 short-window features (f64), indexed by the decided rhythm-interval index c (same axis as cache_feat_W64).
Short window of Ws intervals CENTRED on c exactly as the long window is: w = rr[c-Ws/2 .. c+Ws/2) (w[Ws/2] = rr[c]),
lag partners rr[c-Ws/2-3 .. c-Ws/2), so the short ring is rr[c-Ws/2-3 .. c+Ws/2-1] (Ws+3 intervals).
  irr  = af.rs features(): base = w at sorted index Ws/2; pair filter on the ring copy; min over k=1..3 of the
         element at sorted index Ws/2 of |f[i]-f[i-k]|/((f[i]+f[i-k])/2), i = 3..Ws+2
  conc = #{x in w: |x-base| <= 0.03 base}/Ws
  per  = max(ac2, ac3) of the Ws successive differences of rr[c-Ws/2-1 .. c+Ws/2-1]   (Ws+1 intervals)
NaN where the short ring does not fit in the record."""
import numpy as np, pickle, time, sys
from numba import njit
from data import load_all
from features4 import per

@njit(cache=True)
def shortfeats(rr, Ws):
    n = len(rr); h = Ws // 2; L = Ws + 3
    out = np.full((n, 3), np.nan)
    f = np.empty(L); d = np.empty(Ws)
    for c in range(h + 3, n - h + 1):
        s0 = c - h - 3
        win = rr[s0:s0 + L]
        w = win[3:]
        base = np.sort(w)[h]
        near = 0
        for x in w:
            if abs(x - base) <= 0.03 * base:
                near += 1
        for i in range(L):
            f[i] = win[i]
        i = 0
        while i + 1 < L:
            a = f[i]; b = f[i + 1]
            if a < 0.9 * base and b > 1.05 * base and abs(a + b - 2.0 * base) <= 0.1 * 2.0 * base:
                m = (a + b) / 2.0
                f[i] = m; f[i + 1] = m; i += 2
            else:
                i += 1
        irr = np.inf
        for k in range(1, 4):
            for i in range(3, L):
                a = f[i]; b = f[i - k]
                d[i - 3] = abs(a - b) / ((a + b) / 2.0)
            v = np.sort(d)[h]
            if v < irr:
                irr = v
        out[c, 0] = irr; out[c, 1] = near / Ws
        out[c, 2] = per(rr[c - h - 1:c + h])
    return out

if __name__ == '__main__':
    t0 = time.time(); recs = load_all()
    for Ws in [int(x) for x in sys.argv[1:]]:
        res = {}
        for r in recs:
            ok = (r['rr'] >= 200) & (r['rr'] <= 3000)
            res[r['name']] = shortfeats(r['rr'][ok].astype(np.float64), Ws)
        pickle.dump(res, open(f'/tmp/af-proto/cache_feat5_S{Ws}.pkl', 'wb'))
        print(Ws, f'{time.time()-t0:.0f}s', flush=True)
