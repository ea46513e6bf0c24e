"""Round 4 grid: CURRENT (shipped) detector = Round 3 (a) full fit (W64, .07/.05, conc .35, R16, perL32 0.70/0.85)
OR a short-window companion.  Short vote at beat c (features5, window centred on c):
    v[c] = irr_s <= 0.35 (not noise) && irr_s > on_s && conc_s < mc_s && !(per_s > p_s) 
Short AF at c = c lies in a run of >= R_s consecutive true votes (run-length opening: switches off at the first
non-vote) && [long-window conc(c) < lc] (the current detector's own concentration for the decided beat).  Decision = long_af[c] OR short_af[c], on the beats the long detector decides.
`python grid5.py run` -> grid_r4.pkl"""
import numpy as np, pickle, itertools, sys, time
from numba import njit
from grid import Cat
import grid4

LONG = dict(fam='a', pw='perL32', pon=0.7, poff=0.85, cw='ce64', tc=None)
_S = {}
def sfeats(C, Ws):
    if Ws not in _S:
        F = pickle.load(open(f'/tmp/af-proto/cache_feat5_S{Ws}.pkl', 'rb'))
        X = np.concatenate([F[n] for n in C.names])
        _S[Ws] = [np.ascontiguousarray(X[:, i]) for i in range(3)]
    return _S[Ws]

_L = {}
def long_af(C):
    if not _L:
        _, af = grid4.evaluate(C, LONG); d = grid4.feats(C)
        _L['af'] = af; _L['valid'] = ~np.isnan(d['irr'])
    return _L['af'], _L['valid']

@njit(cache=True)
def opening(v, bounds, R):
    out = np.zeros(len(v), np.bool_)
    for b in range(len(bounds) - 1):
        lo, hi = bounds[b], bounds[b + 1]
        run = 0
        for c in range(lo, hi):
            if v[c]:
                run += 1
                if run == R:
                    for k in range(c - R + 1, c + 1):
                        out[k] = True
                elif run > R:
                    out[c] = True
            else:
                run = 0
    return out

def long_conc(C):
    return grid4.feats(C)['conc']

def short_af(C, cfg):
    irr, conc, per = sfeats(C, cfg['Ws'])
    with np.errstate(invalid='ignore'):
        v = (irr <= 0.35) & (irr > cfg['on']) & (conc < cfg['mc'])
        if cfg['ps'] is not None:
            v &= ~(per > cfg['ps'])
    o = opening(v, C.bounds, cfg['R'])
    if cfg.get('lc') is not None:
        with np.errstate(invalid='ignore'):
            o &= long_conc(C) < cfg['lc']      # gate on the decided beat's own (long) window: no extra look-ahead
    return o

def evaluate(C, cfg):
    la, valid = long_af(C)
    af = la.copy() if cfg['fam'] == 'base' else (la | short_af(C, cfg))
    af &= valid
    return C.stats(af, valid), af

BASE = dict(fam='base')
def configs():
    out = [BASE]
    for Ws, on, R, mc, ps, lc in itertools.product([12, 16, 24], [0.08, 0.10, 0.12, 0.15], [4, 6, 8, 10], [0.25, 0.35, 9.0],
                                                  [None, 0.5, 0.7], [None, 0.30, 0.20]):
        out.append(dict(fam='s', Ws=Ws, on=on, R=R, mc=mc, ps=ps, lc=lc))
    return out

if __name__ == '__main__':
    C = Cat(); cf = configs(); print(len(cf), flush=True)
    ST = np.zeros((len(cf), C.nrec, 4)); EP = np.zeros((len(cf), len(C.eps_dur)), bool); t0 = time.time()
    for i, cfg in enumerate(cf):
        (ST[i], EP[i]), _ = evaluate(C, cfg)
    print(f'{time.time()-t0:.0f}s')
    pickle.dump(dict(configs=cf, ST=ST, EP=EP, eps_rec=C.eps_rec, eps_dur=C.eps_dur, names=C.names, dbs=C.dbs),
                open('/tmp/af-proto/grid_r4.pkl', 'wb'))
