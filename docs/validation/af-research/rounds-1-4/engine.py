"""Fast evaluation engine: state machine (numba, for fitting only) + per-record stats for many settings."""
import numpy as np, pickle
from numba import njit
from data import load_all
import score as S

_FEATS = {}

def feats(W):
    if W not in _FEATS:
        _FEATS[W] = pickle.load(open(f'/tmp/af-proto/cache_feat_W{W}.pkl', 'rb'))
    return _FEATS[W]


@njit(cache=True)
def decide(irr, conc, on, off, mc, nz, R, backdate):
    n = len(irr)
    af = np.zeros(n, np.bool_)
    s = False; run = 0; start = -1
    for c in range(n):
        x = irr[c]
        if np.isnan(x):
            continue
        noise = x > nz
        eff = 0.0 if conc[c] >= mc else x
        if noise:
            wants = False
        elif s:
            wants = eff < off
        else:
            wants = eff > on
        if wants:
            if run == 0:
                start = c
            run += 1
        else:
            run = 0
        if run >= R:
            s = not s
            run = 0
            if backdate:
                for k in range(start, c):
                    if not np.isnan(irr[k]):
                        af[k] = s
        af[c] = s
    return af


class Rec:
    """A record on the rhythm-interval axis (out-of-range intervals removed)."""
    def __init__(self, r):
        ok = (r['rr'] >= 200) & (r['rr'] <= 3000)
        self.name, self.db = r['name'], r['db']
        self.rr = r['rr'][ok]; self.t = r['t'][ok]
        self.total_s = r['rr'].sum() / 1000.0
        self.spans = r['spans']
        self.truth = S.truth_at(self.t, self.spans)
        self.w = self.rr / 1000.0
        self.ep = []
        for a, b in self.spans:
            i = np.searchsorted(self.t, a, 'left'); k = np.searchsorted(self.t, b, 'left')
            bb = min(b, r['t'][-1])
            self.ep.append((i, k, bb - a))

    def stats(self, af, valid):
        """af, valid: bool arrays on the rhythm axis (decision for centre beat c, weight rr[c])."""
        w, tr = self.w, self.truth
        v = valid
        tp = w[v & tr & af].sum(); fn = w[v & tr & ~af].sum()
        tn = w[v & ~tr & ~af].sum(); fp = w[v & ~tr & af].sum()
        eps = [(d, bool(af[i:k].any())) for i, k, d in self.ep]
        onsets = int(np.count_nonzero(af[1:] & ~af[:-1]))
        return dict(name=self.name, db=self.db, tp=tp, fn=fn, tn=tn, fp=fp, onsets=onsets,
                    unjudged=max(self.total_s - w[v].sum(), 0.0),
                    episodes=[(0, d, f) for d, f in eps])

_RECS = None
def recs():
    global _RECS
    if _RECS is None:
        _RECS = [Rec(r) for r in load_all()]
    return _RECS


@njit(cache=True)
def decide_all(irr, conc, bounds, on, off, mc, nz, R, backdate):
    af = np.zeros(len(irr), np.bool_)
    for b in range(len(bounds) - 1):
        lo, hi = bounds[b], bounds[b + 1]
        af[lo:hi] = decide(irr[lo:hi], conc[lo:hi], on, off, mc, nz, R, backdate)
    return af


@njit(cache=True)
def decide_all2(irr, nirr, conc, bounds, on, off, mc, nz, R, backdate):
    """As decide_all, but the noise test uses nirr (median irregularity) while votes use irr."""
    af = np.zeros(len(irr), np.bool_)
    for b in range(len(bounds) - 1):
        lo, hi = bounds[b], bounds[b + 1]
        s = False; run = 0; start = lo
        for c in range(lo, hi):
            x = irr[c]
            if np.isnan(x):
                continue
            noise = nirr[c] > nz
            eff = 0.0 if conc[c] >= mc else x
            if noise:
                wants = False
            elif s:
                wants = eff < off
            else:
                wants = eff > on
            if wants:
                if run == 0:
                    start = c
                run += 1
            else:
                run = 0
            if run >= R:
                s = not s
                run = 0
                if backdate:
                    for k in range(start, c):
                        if not np.isnan(irr[k]):
                            af[k] = s
            af[c] = s
    return af
