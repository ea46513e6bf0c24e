"""Back-dated engine: features from /tmp/af-clean/eng.detect logic, split into features + state machine."""
import numpy as np, math
from numba import njit
L, LAGS, W = 67, 3, 64

@njit(cache=True)
def multi(f, i, base, ctol, cs, kmax):
    """k short intervals (each < cs*base) then a long (> 1.05*base) summing to (k+1)*base within ctol; k=2..kmax.
    Replaces the k+1 intervals by their mean in place. Returns number consumed (0 if no match)."""
    n = len(f)
    for k in range(2, kmax + 1):
        if i + k >= n:
            return 0
        ok = True; sm = 0.0
        for j in range(k):
            if not (f[i + j] < cs * base):
                ok = False; break
            sm += f[i + j]
        if not ok:
            return 0
        c = f[i + k]
        if c > 1.05 * base and abs(sm + c - (k + 1) * base) <= ctol * (k + 1) * base:
            mv = (sm + c) / (k + 1)
            for j in range(k + 1):
                f[i + j] = mv
            return k + 1
    return 0

@njit(cache=True)
def feats(rr, t, mode, ctol, cs, kmax):
    n = len(rr)
    idx = np.empty(n, np.int64); m = 0
    for j in range(n):
        x = rr[j]
        if x >= 200.0 and x <= 3000.0 and math.isfinite(t[j]):
            idx[m] = j; m += 1
    nd = max(m - L + 1, 0)
    oj = np.empty(nd, np.int64); ot = np.empty(nd); EFF = np.empty(nd); PER = np.empty(nd); NZ = np.zeros(nd, np.bool_)
    win = np.empty(L); f = np.empty(L); s = np.empty(W); d = np.empty(32)
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
            elif mode == 1:
                nk = multi(f, i, base, ctol, cs, kmax)
                i += nk if nk > 0 else 1
            else:
                i += 1
        if mode == 2:
            i = 0
            while i + 2 < L:
                nk = multi(f, i, base, ctol, cs, kmax)
                i += nk if nk > 0 else 1
        irr = np.inf
        for k in range(1, LAGS + 1):
            for i in range(LAGS, L):
                a = f[i]; b = f[i - k]
                s[i - LAGS] = abs(a - b) / ((a + b) / 2.0)
            s.sort()
            if s[W // 2] < irr:
                irr = s[W // 2]
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
        EFF[q] = 0.0 if conc >= 0.35 else irr
        NZ[q] = irr > 0.35; PER[q] = per
        oj[q] = idx[q + L - 1]; ot[q] = t[idx[q + LAGS + W // 2]]
    return oj, ot, EFF, PER, NZ

@njit(cache=True)
def machine(EFF, PER, NZ, onset, offset, run_on, run_off, backdate):
    nd = len(EFF); oaf = np.zeros(nd, np.bool_)
    in_af = False; run = 0; frm = 0; ons = 0
    for q in range(nd):
        if NZ[q]:
            wants = False
        elif in_af:
            wants = EFF[q] < offset or PER[q] > 0.85
        else:
            wants = EFF[q] > onset and PER[q] <= 0.70
        if wants:
            if run == 0:
                frm = q
            run += 1
        else:
            run = 0
        need = run_off if in_af else run_on
        if run >= need:
            run = 0; in_af = not in_af
            if in_af:
                ons += 1
            if backdate:
                for p in range(frm, q):
                    oaf[p] = in_af
        oaf[q] = in_af
    return oaf, ons
