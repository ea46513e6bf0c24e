"""Shared: data on the rhythm axis (in-range intervals), shipped-detector decisions, Petrenas features, scorer.
Reuses /tmp/af-proto loaders and caches (read only)."""
import sys, pickle, numpy as np
sys.path.insert(0, '/tmp/af-proto')
from data import load_all
import score as S
from scipy.signal import lfilter

MIT_AF = ('201', '203')


class Rec:
    def __init__(self, r):
        ok = (r['rr'] >= 200) & (r['rr'] <= 3000) & np.isfinite(r['t'])
        self.name, self.db = r['name'], r['db']
        self.rr = r['rr'][ok].astype(np.float64); self.t = r['t'][ok]
        self.total_s = r['rr'].sum() / 1000.0
        self.spans = r['spans']
        self.truth = S.truth_at(self.t, self.spans)
        self.ep = []
        for a, b in self.spans:
            i = np.searchsorted(self.t, a, 'left'); k = np.searchsorted(self.t, b, 'left')
            bb = min(b, r['t'][-1])
            self.ep.append((i, k, bb - a))


_R = None
def recs():
    global _R
    if _R is None:
        _R = [Rec(r) for r in load_all()]
    return _R


def shipped(R, F1, F4):
    """af.rs as shipped: W64, on .07, off .05, conc .35, noise .35, R16 no back-dating, PER perL32 0.70/0.85.
    Returns af[c], valid[c] on the rhythm axis (c = decided centre beat; decision made at push j = c + 31)."""
    f = F1[R.name]; irr = np.min(f[:, :3], axis=1); conc = f[:, 3]; per = F4[R.name][:, 1]
    n = len(irr); af = np.zeros(n, bool); valid = ~np.isnan(irr)
    s = False; run = 0
    for c in np.flatnonzero(valid):
        x = irr[c]; noise = x > 0.35; eff = 0.0 if conc[c] >= 0.35 else x; p = per[c]
        if noise:
            w = False
        elif s:
            w = eff < 0.05 or p > 0.85
        else:
            w = eff > 0.07 and not (p > 0.70)
        run = run + 1 if w else 0
        if run >= 16:
            run = 0; s = not s
        af[c] = s
    return af, valid


def ema(x, a, init=None):
    """y[i] = y[i-1] + a (x[i] - y[i-1]), y[-1] = init (default x[0])."""
    y0 = x[0] if init is None else init
    y, _ = lfilter([a], [1, -(1 - a)], x, zi=[(1 - a) * y0])
    return y


def petrenas_raw(rr_ms, N=8, gamma=0.03, trend='rm', fb=False, alpha=0.02):
    """Per-beat signals on the rhythm axis (index i = beat whose rm(i) needs rr[i+1]).
    Returns rm, M (NaN for i < N-1), Mbar, rbar, B, Bbar (all seconds-based)."""
    x = rr_ms / 1000.0; n = len(x)
    rm = x.copy()
    if n >= 3:
        rm[1:-1] = np.median(np.stack([x[:-2], x[1:-1], x[2:]]), axis=0)
    M = np.zeros(n); cnt = np.zeros(n)
    for j in range(N - 1):
        for k in range(j + 1, N):
            a = rm[N - 1 - j:n - j]; b = rm[N - 1 - k:n - k]
            cnt[N - 1:] += (np.abs(a - b) >= gamma)
    M[N - 1:] = cnt[N - 1:] * 2.0 / (N * (N - 1))
    cs_rm = np.concatenate([[0], np.cumsum(rm)]); cs_x = np.concatenate([[0], np.cumsum(x)])
    B = np.zeros(n)
    i = np.arange(N - 1, n)
    B[N - 1:] = (((cs_rm[i + 1] - cs_rm[i + 1 - N]) / (cs_x[i + 1] - cs_x[i + 1 - N])) - 1.0) ** 2
    src = rm if trend == 'rm' else x
    return rm, M, B, src


def petrenas_O(M, B, src, N, alpha, delta, fb=False):
    n = len(M)
    Ms = M[N - 1:]; Bs = B[N - 1:]; ss = src
    if fb:
        from scipy.signal import filtfilt
        Mb = filtfilt([alpha], [1, -(1 - alpha)], Ms); Bb = filtfilt([alpha], [1, -(1 - alpha)], Bs)
        rb = filtfilt([alpha], [1, -(1 - alpha)], ss)[N - 1:]
    else:
        Mb = ema(Ms, alpha); Bb = ema(Bs, alpha); rb = ema(ss, alpha)[N - 1:]
    I = Mb / rb
    O = np.where(Bb >= delta, I, Bb) if delta > 0 else I
    out = np.full(n, np.nan); out[N - 1:] = O
    return out


def stats_rec(R, af, valid, wshift=0):
    """af/valid on the decided-beat axis c. Centre weighting: rr[c]; validate.rs weighting: rr[c + wshift]."""
    n = len(R.rr); c = np.flatnonzero(valid)
    wc = R.rr[c] / 1000.0
    wv = R.rr[np.minimum(c + wshift, n - 1)] / 1000.0
    tr = R.truth[c]; a = af[c]
    out = {}
    for nm, w in (('c', wc), ('v', wv)):
        out[nm] = np.array([w[tr & a].sum(), w[tr & ~a].sum(), w[~tr & ~a].sum(), w[~tr & a].sum()])
    eps = []
    for i, k, d in R.ep:
        eps.append(bool((af[i:k] & valid[i:k]).any()))
    out['eps'] = np.array(eps, bool)
    out['onsets'] = int(np.count_nonzero(a[1:] & ~a[:-1]) + (1 if len(a) and a[0] else 0))
    out['unjudged'] = R.total_s - wc.sum()
    return out


def G_meta():
    Rs = recs()
    return dict(names=[r.name for r in Rs], dbs=[r.db for r in Rs],
                eps_rec=np.array([ri for ri, r in enumerate(Rs) for _ in r.ep]),
                eps_dur=np.array([d for r in Rs for (_, _, d) in r.ep]))


def summary(per_rec, key='c'):
    """per_rec: list of stats_rec outputs (one per record, same order as recs())."""
    Rs = recs(); o = {}
    A = np.array([p[key] for p, r in zip(per_rec, Rs) if r.db == 'afdb']).sum(0)
    o['Se'] = 100 * A[0] / (A[0] + A[1]); o['Sp'] = 100 * A[2] / (A[2] + A[3])
    eps = np.concatenate([p['eps'] for p, r in zip(per_rec, Rs) if r.db == 'afdb'])
    dur = np.array([d for r in Rs if r.db == 'afdb' for (_, _, d) in r.ep])
    for nm, lo, hi in [('e<10', 0, 10), ('e10-30', 10, 30), ('e30-60', 30, 60), ('e1-5m', 60, 300), ('e>=5m', 300, 1e18), ('e>=30', 30, 1e18)]:
        s = (dur >= lo) & (dur < hi); o[nm] = (int(eps[s].sum()), int(s.sum()))
    o['mit_fp_min'] = sum(p[key][3] for p, r in zip(per_rec, Rs) if r.db == 'mitdb' and r.name not in MIT_AF) / 60
    for nm in MIT_AF:
        p = per_rec[[r.name for r in Rs].index(nm)][key]; o[nm + 'Se'] = 100 * p[0] / (p[0] + p[1])
    m2 = np.array([p[key] for p, r in zip(per_rec, Rs) if r.name in MIT_AF]).sum(0)
    o['mit_af_Se'] = 100 * m2[0] / (m2[0] + m2[1])
    o['nsr_fp_min'] = sum(p[key][3] for p, r in zip(per_rec, Rs) if r.db in ('nsr2db', 'chf2db')) / 60
    o['onsets'] = sum(p['onsets'] for p, r in zip(per_rec, Rs) if r.db == 'afdb')
    o['unjudged'] = sum(p['unjudged'] for p, r in zip(per_rec, Rs) if r.db == 'afdb')
    return o


def fmt(s):
    return ' '.join(f'{k}={v:.2f}' if isinstance(v, float) else f'{k}={v[0]}/{v[1]}' if isinstance(v, tuple) else f'{k}={v}' for k, v in s.items())


def load_feats():
    F1 = pickle.load(open('/tmp/af-proto/cache_feat_W64.pkl', 'rb'))
    F4 = pickle.load(open('/tmp/af-proto/cache_feat4_W64.pkl', 'rb'))['F']
    return F1, F4
