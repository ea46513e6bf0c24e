"""Per-beat window features (exactly the current af.rs `features`, plus extras) for several window sizes.
Indexed by rhythm-interval index c = the window's centre beat (c = j - W/2 + 1 for the window ending at j)."""
import numpy as np, pickle, os, sys, time
from data import load_all

PREMATURE, PAUSE, COMP, LAGS = 0.9, 1.05, 0.1, 3


def window_feats(rr, W, band=0.03):
    n = len(rr)
    L = W + LAGS
    out = np.full((n, 7), np.nan)  # irr1, irr2, irr3, conc_raw, conc_filt, ectopic_share, base
    for j in range(L - 1, n):
        win = rr[j - L + 1:j + 1]
        w = win[LAGS:]
        base = np.partition(w, W // 2)[W // 2]
        conc = np.count_nonzero(np.abs(w - base) <= band * base) / W
        f = win.copy()
        # ectopic filter (premature + compensatory pause -> both replaced by their mean)
        a_ = f[:-1]; b_ = f[1:]
        cand = (a_ < PREMATURE * base) & (b_ > PAUSE * base) & (np.abs(a_ + b_ - 2 * base) <= COMP * 2 * base)
        ne = 0
        if cand.any():
            i = 0
            idx = np.flatnonzero(cand)
            last = -2
            for i in idx:
                if i <= last + 1 and last >= 0 and i == last + 1:
                    continue  # the sequential scan skips i+1 after a replacement
                m = (f[i] + f[i + 1]) / 2
                f[i] = m; f[i + 1] = m
                last = i; ne += 2
        fw = f[LAGS:]
        concf = np.count_nonzero(np.abs(fw - base) <= band * base) / W
        c = j - W // 2 + 1
        for k in range(1, LAGS + 1):
            a = fw; b = f[LAGS - k:L - k]
            out[c, k - 1] = np.partition(np.abs(a - b) / ((a + b) / 2), W // 2)[W // 2]
        out[c, 3] = conc; out[c, 4] = concf; out[c, 5] = ne / L; out[c, 6] = base
    return out

if __name__ == '__main__':
    Ws = [int(x) for x in sys.argv[1:]] or [64]
    recs = load_all()
    for W in Ws:
        fn = f'/tmp/af-proto/cache_feat_W{W}.pkl'
        if os.path.exists(fn):
            continue
        t0 = time.time(); res = {}
        for r in recs:
            ok = (r['rr'] >= 200) & (r['rr'] <= 3000)
            res[r['name']] = window_feats(r['rr'][ok], W)
        pickle.dump(res, open(fn, 'wb'))
        print('W', W, f'{time.time()-t0:.0f}s', flush=True)
