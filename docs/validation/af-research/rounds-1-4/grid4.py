"""Round 3 grid: the CURRENT detector (W64, onset .07, offset .05, conc .35, R16, no back-dating) + PER and/or COSEn
gates, all features f64 (cache_feat_W64.pkl for irr/conc, cache_feat4_W64.pkl for the gates).
  onset vote  : !noise && eff > 0.07 && [PER <= p_on] && [COSEn > tc]
  offset vote : !noise && (eff < 0.05 || [PER > p_off])
Families: 'a' (PER only), 'b' (COSEn only), 'c' (both).  `python grid4.py test` checks BASE == baseline.py."""
import numpy as np, pickle, itertools, sys, time
from grid import Cat
from grid3 import decide3

OFF = None
_d = {}
def feats(C):
    if not _d:
        F1 = pickle.load(open('/tmp/af-proto/cache_feat_W64.pkl', 'rb'))
        F4 = pickle.load(open('/tmp/af-proto/cache_feat4_W64.pkl', 'rb'))
        X1 = np.concatenate([F1[n] for n in C.names]); X4 = np.concatenate([F4['F'][n] for n in C.names])
        _d['irr'] = np.ascontiguousarray(np.min(X1[:, :3], 1)); _d['conc'] = np.ascontiguousarray(X1[:, 3])
        for i, k in enumerate(F4['cols']):
            _d[k] = np.ascontiguousarray(X4[:, i])
        assert np.array_equal(np.isnan(_d['irr']), np.isnan(_d['per64']))
    return _d

def gates(d, cfg):
    gon = np.ones(len(d['irr']), bool); gex = np.zeros(len(d['irr']), bool)
    if cfg['pon'] is not None:
        gon &= ~(d[cfg['pw']] > cfg['pon'])
    if cfg['poff'] is not None:
        gex |= d[cfg['pw']] > cfg['poff']
    if cfg['tc'] is not None:
        gon &= d[cfg['cw']] > cfg['tc']
    return gon, gex

def evaluate(C, cfg):
    d = feats(C); gon, gex = gates(d, cfg)
    af = decide3(d['irr'], d['irr'], d['conc'], gon, gex, C.bounds, 0.07, 0.05, 0.35, 0.35, 16, 16, False)
    return C.stats(af, ~np.isnan(d['irr'])), af

BASE = dict(fam='base', pw='per64', pon=None, poff=None, cw='ce64', tc=None)
PONS = [None] + [round(0.15 + 0.05 * i, 2) for i in range(14)]          # 0.15 .. 0.80
POFFS = [None] + [round(0.3 + 0.05 * i, 2) for i in range(14)]          # 0.30 .. 0.95
TCS = [-2.4, -2.2, -2.0, -1.9, -1.8, -1.7, -1.6, -1.5, -1.4, -1.3, -1.2, -1.1, -1.0]

def per_opts():
    out = []
    for pw, pon, poff in itertools.product(['per64', 'perL32', 'perM32'], PONS, POFFS):
        if pon is None and poff is None:
            continue
        if pon is not None and poff is not None and poff < pon:
            continue
        out.append((pw, pon, poff))
    return out

def configs():
    out = [BASE]
    for pw, pon, poff in per_opts():
        out.append(dict(fam='a', pw=pw, pon=pon, poff=poff, cw='ce64', tc=None))
    for cw, tc in itertools.product(['ce64', 'ce32'], TCS):
        out.append(dict(fam='b', pw='per64', pon=None, poff=None, cw=cw, tc=tc))
    for (pw, pon, poff), cw, tc in itertools.product(per_opts(), ['ce64', 'ce32'], TCS):
        out.append(dict(fam='c', pw=pw, pon=pon, poff=poff, cw=cw, tc=tc))
    return out

if __name__ == '__main__':
    C = Cat()
    if sys.argv[1] == 'test':
        from data import load_all
        B = pickle.load(open('/tmp/af-proto/cache_baseline.pkl', 'rb'))
        (st, ep), af = evaluate(C, BASE); d = feats(C); bad = 0
        for i, n in enumerate(C.names):
            sl = slice(C.bounds[i], C.bounds[i + 1]); g = af[sl][~np.isnan(d['irr'][sl])]
            b = B[n][2]
            if len(g) != len(b) or not np.array_equal(g, b):
                bad += 1; print('MISMATCH', n, len(g), len(b), (g != b).sum() if len(g) == len(b) else '')
        print('records mismatching baseline.py:', bad)
        import cv
        G = dict(names=C.names, dbs=C.dbs, eps_rec=C.eps_rec, eps_dur=C.eps_dur)
        print(cv.fmt(cv.summary(G, np.ones(C.nrec, bool), st, ep)))
        for k in ['per64', 'perL32', 'perM32', 'ce64', 'ce32']:
            x = d[k]; print(k, np.nanpercentile(x, [5, 50, 95]).round(3))
    else:
        cf = configs(); print(len(cf), flush=True)
        ST = np.zeros((len(cf), C.nrec, 4)); EP = np.zeros((len(cf), len(C.eps_dur)), bool); t0 = time.time()
        for i, cfg in enumerate(cf):
            (ST[i], EP[i]), _ = evaluate(C, cfg)
            if i % 500 == 0:
                print(i, f'{time.time()-t0:.0f}s', flush=True)
        pickle.dump(dict(configs=cf, ST=ST, EP=EP, eps_rec=C.eps_rec, eps_dur=C.eps_dur, names=C.names, dbs=C.dbs),
                    open('/tmp/af-proto/grid_r3.pkl', 'wb'))
