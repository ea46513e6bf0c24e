"""As features.py, with several order statistics of the relative differences per lag.
Columns: [lag k=1..3] x [q=0.25,0.3125,0.375,0.5] (index (k-1)*4+qi), then conc_raw, conc_filt, ectopic_share, base."""
import numpy as np, pickle, os, sys, time
from data import load_all

PREMATURE, PAUSE, COMP, LAGS = 0.9, 1.05, 0.1, 3
QS = [0.25, 0.3125, 0.375, 0.5]


def window_feats(rr, W, band=0.03):
    n = len(rr)
    L = W + LAGS
    ranks = [int(q * W) for q in QS]
    out = np.full((n, 16), np.nan, dtype=np.float32)
    for j in range(L - 1, n):
        win = rr[j - L + 1:j + 1]
        w = win[LAGS:]
        base = np.partition(w, W // 2)[W // 2]
        conc = np.count_nonzero(np.abs(w - base) <= band * base) / W
        f = win.copy()
        a_ = f[:-1]; b_ = f[1:]
        cand = (a_ < PREMATURE * base) & (b_ > PAUSE * base) & (np.abs(a_ + b_ - 2 * base) <= COMP * 2 * base)
        ne = 0
        if cand.any():
            last = -10
            for i in np.flatnonzero(cand):
                if i == last + 1:
                    continue
                m = (f[i] + f[i + 1]) / 2
                f[i] = m; f[i + 1] = m
                last = i; ne += 2
        fw = f[LAGS:]
        concf = np.count_nonzero(np.abs(fw - base) <= band * base) / W
        c = j - W // 2 + 1
        for k in range(1, LAGS + 1):
            b = f[LAGS - k:L - k]
            d = np.partition(np.abs(fw - b) / ((fw + b) / 2), ranks)
            out[c, (k - 1) * 4:(k - 1) * 4 + 4] = d[ranks]
        out[c, 12] = conc; out[c, 13] = concf; out[c, 14] = ne / L; out[c, 15] = base
    return out

if __name__ == '__main__':
    recs = load_all()
    for W in [int(x) for x in sys.argv[1:]]:
        fn = f'/tmp/af-proto/cache_feat2_W{W}.pkl'
        if os.path.exists(fn):
            continue
        t0 = time.time(); res = {}
        for r in recs:
            ok = (r['rr'] >= 200) & (r['rr'] <= 3000)
            res[r['name']] = window_feats(r['rr'][ok], W)
        pickle.dump(res, open(fn, 'wb'))
        print('W', W, f'{time.time()-t0:.0f}s', flush=True)
