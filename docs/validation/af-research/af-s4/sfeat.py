"""Short companion-window features per decision (same decisions as beng.feats).
For S in SS: short window = win positions [C-S/2, C+S/2) with C=35 (the centre beat interval, as beng's ot).
IRRs: min over lags 1..3 of median rel |RR_i-RR_{i-k}|/mean with beng's premature-beat filter (short median as base).
CONCs: share of short window within +-3% of short median.
PREs: same irregularity over the part of the long window before the short window ([3, C-S/2), long-base filter).
MINs (4): min RR of short window / long median. RATEs (5): short median / median of the pre part [3, C-S/2).
REPs: share of 3-interval templates ending in the short window that another template in the 64-window matches within 3%."""
import sys, pickle, numpy as np, math
from numba import njit
L, LAGS, W, C = 67, 3, 64, 35
SS = (12, 16, 20, 24)
@njit(cache=True)
def irr_seg(f, lo, hi, buf):
    best = np.inf; n = hi - lo
    for k in range(1, LAGS + 1):
        for i in range(lo, hi):
            a = f[i]; b = f[i - k]
            buf[i - lo] = abs(a - b) / ((a + b) / 2.0)
        x = np.sort(buf[:n])
        if x[n // 2] < best: best = x[n // 2]
    return best
@njit(cache=True)
def pfilt(win, f, base, lo, hi):
    for i in range(L): f[i] = win[i]
    i = lo
    while i + 1 < hi:
        a = f[i]; b = f[i + 1]
        if a < 0.9 * base and b > 1.05 * base and abs(a + b - 2.0 * base) <= 0.2 * base:
            f[i] = (a + b) / 2.0; f[i + 1] = f[i]; i += 2
        else:
            i += 1
@njit(cache=True)
def sfeats(rr, t, SSa):
    n = len(rr); idx = np.empty(n, np.int64); m = 0
    for j in range(n):
        x = rr[j]
        if x >= 200.0 and x <= 3000.0 and math.isfinite(t[j]):
            idx[m] = j; m += 1
    nd = max(m - L + 1, 0); ns = len(SSa)
    out = np.zeros((nd, ns, 6))
    win = np.empty(L); f = np.empty(L); buf = np.empty(L)
    for q in range(nd):
        for i in range(L): win[i] = rr[idx[q + i]]
        lb = np.sort(win[LAGS:])[W // 2]
        for si in range(ns):
            S = SSa[si]; lo = C - S // 2; hi = C + S // 2
            sb = np.sort(win[lo:hi])[S // 2]
            near = 0
            for i in range(lo, hi):
                if abs(win[i] - sb) <= 0.03 * sb: near += 1
            pfilt(win, f, sb, lo - LAGS, hi)
            out[q, si, 0] = irr_seg(f, lo, hi, buf)
            out[q, si, 1] = near / S
            pfilt(win, f, lb, 0, L)
            out[q, si, 2] = irr_seg(f, LAGS, lo, buf) if lo - LAGS >= 4 else 0.0
            cnt = 0
            for i in range(lo + 2, hi):
                for j in range(LAGS + 2, L):
                    if j == i: continue
                    ok = True
                    for k in range(3):
                        a = win[i - k]; b = win[j - k]
                        if abs(a - b) > 0.03 * (a + b) * 0.5:
                            ok = False; break
                    if ok:
                        cnt += 1; break
            out[q, si, 3] = cnt / (hi - lo - 2)
            mn = 1e9
            for i in range(lo, hi):
                if win[i] < mn: mn = win[i]
            out[q, si, 4] = mn / lb
            out[q, si, 5] = sb / np.sort(win[LAGS:lo])[(lo - LAGS) // 2]
    return out
if __name__ == '__main__':
    recs = pickle.load(open('/tmp/af-proto/cache_data.pkl', 'rb'))
    F = pickle.load(open('/tmp/af-bd/feats.pkl', 'rb'))
    R = {}
    for i, r in enumerate(recs):
        x = sfeats(r['rr'].astype(float), r['t'].astype(float), np.array(SS, np.int64))
        assert len(x) == len(F[i][0]), (r['name'], len(x), len(F[i][0]))
        R[r['name']] = x.astype(np.float32)
        print(r['name'], len(x), flush=True)
    pickle.dump(dict(SS=SS, R=R), open('sfeat.pkl', 'wb'))
