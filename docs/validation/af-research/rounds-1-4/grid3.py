"""Round 2 grid: current irregularity rule + COSEn gate + dRR-periodicity (ectopy) gate + ac1 gate."""
import numpy as np, pickle, itertools, sys, time
from numba import njit
from grid import Cat

@njit(cache=True)
def decide3(irr, nirr, conc, gon, gexit, bounds, on, off, mc, nz, R, Roff, backdate):
    af = np.zeros(len(irr), np.bool_)
    for b in range(len(bounds) - 1):
        lo, hi = bounds[b], bounds[b + 1]
        s = False; run = 0; start = lo
        for c in range(lo, hi):
            x = irr[c]
            if np.isnan(x) or np.isnan(nirr[c]):
                continue
            noise = nirr[c] > nz
            eff = 0.0 if conc[c] >= mc else x
            if noise:
                wants = False
            elif s:
                wants = (eff < off) or gexit[c]
            else:
                wants = (eff > on) and gon[c]
            if wants:
                if run == 0:
                    start = c
                run += 1
            else:
                run = 0
            if run >= (Roff if s else R):
                s = not s
                run = 0
                if backdate:
                    for k in range(start, c):
                        if not np.isnan(irr[k]):
                            af[k] = s
            af[c] = s
    return af

_cache = {}
def base_feats(C, W):
    if W not in _cache:
        F2 = pickle.load(open(f'/tmp/af-proto/cache_feat2_W{W}.pkl', 'rb'))
        F3 = pickle.load(open(f'/tmp/af-proto/cache_feat3_W{W}.pkl', 'rb'))
        F2c = np.concatenate([F2[n] for n in C.names]).astype(np.float64)
        X = np.concatenate([F3['F'][n] for n in C.names]).astype(np.float64)
        cols = F3['cols']; g = lambda k: X[:, cols.index(k)]
        irr = np.ascontiguousarray(np.min(F2c[:, [3, 7, 11]], 1))
        d = dict(irr=irr, conc=np.ascontiguousarray(F2c[:, 12]), cosen16=g('cosen16'), cosen32=g('cosen32'), cosen12=g('cosen12'),
                 per=np.maximum(g('ac2'), g('ac3')), ac1=g('ac1'))
        _cache.clear(); _cache[W] = d
    return _cache[W]

def gates(d, cfg):
    gon = np.ones(len(d['irr']), bool)
    if cfg['cv'] != 'none':
        x = d[cfg['cv']]; gon &= ~(x <= cfg['tc'])      # NaN cosen (record ends) -> gate open
    if cfg['tp'] < 9:
        gon &= ~(d['per'] > cfg['tp'])
    if cfg['t1'] < 9:
        gon &= ~(d['ac1'] > cfg['t1'])
    gexit = np.zeros(len(gon), bool)
    if cfg['mode'] == 'both':
        gexit = ~gon
    if cfg.get('tce', -9) > -9:
        gexit |= d[cfg['cv']] <= cfg['tce']
    if cfg.get('tpe', 9) < 9:
        gexit |= d['per'] > cfg['tpe']
    return gon, gexit

def evaluate(C, cfg):
    d = base_feats(C, cfg['W'])
    gon, gexit = gates(d, cfg)
    af = decide3(d['irr'], d['irr'], d['conc'], gon, gexit, C.bounds, cfg['on'], cfg['off'], cfg['mc'], 0.35, cfg['R'], cfg.get('Roff', cfg['R']), cfg['bd'])
    return C.stats(af, ~np.isnan(d['irr']))

BASE = dict(W=64, cv='none', tc=0, tp=9, t1=9, mode='onset', on=0.07, off=0.05, mc=0.35, R=16, bd=0)
PREV = dict(W=32, cv='none', tc=0, tp=9, t1=9, mode='onset', on=0.07, off=0.056, mc=0.4, R=32, bd=1)

def configs():
    out = [BASE, PREV]
    cvs = [('none', 0, -9)] + [(c, t, te) for c in ['cosen16', 'cosen32'] for t in [-1.6, -1.4, -1.2] for te in [-9, -1.8]]
    for (cv_, tc, tce), tp, tpe, (on, off), mc, R, Roff in itertools.product(
            cvs, [9, 0.35, 0.5], [9, 0.6], [(0.07, 0.05), (0.07, 0.056), (0.06, 0.045), (0.08, 0.048)],
            [0.35, 0.4], [12, 16, 24, 32], [24, 32, 48]):
        out.append(dict(W=32, cv=cv_, tc=tc, tce=tce, tp=tp, tpe=tpe, t1=9, mode='onset', on=on, off=off, mc=mc, R=R, Roff=Roff, bd=1))
    return out

def run(cfgs, tag):
    C = Cat()
    ST = np.zeros((len(cfgs), C.nrec, 4)); EP = np.zeros((len(cfgs), len(C.eps_dur)), bool)
    t0 = time.time()
    order = sorted(range(len(cfgs)), key=lambda i: cfgs[i]['W'])
    for n, ci in enumerate(order):
        ST[ci], EP[ci] = evaluate(C, cfgs[ci])
        if n % 1000 == 0:
            print(n, len(cfgs), f'{time.time()-t0:.0f}s', flush=True)
    pickle.dump(dict(configs=cfgs, ST=ST, EP=EP, eps_rec=C.eps_rec, eps_dur=C.eps_dur, names=C.names, dbs=C.dbs),
                open(f'/tmp/af-proto/grid_{tag}.pkl', 'wb'))

if __name__ == '__main__':
    if sys.argv[1] == 'test':
        import cv
        C = Cat(); G = dict(names=C.names, dbs=C.dbs, eps_rec=C.eps_rec, eps_dur=C.eps_dur)
        allm = np.ones(C.nrec, bool)
        tests = [BASE, PREV,
                 dict(PREV, cv='cosen32', tc=-1.4), dict(PREV, cv='cosen32', tc=-1.1), dict(PREV, cv='cosen32', tc=-0.9),
                 dict(PREV, cv='cosen16', tc=-1.4), dict(PREV, cv='cosen16', tc=-1.1),
                 dict(PREV, tp=0.35), dict(PREV, tp=0.25), dict(PREV, t1=-0.2),
                 dict(PREV, cv='cosen32', tc=-1.1, tp=0.35), dict(PREV, cv='cosen32', tc=-1.1, tp=0.35, mode='both'),
                 dict(PREV, cv='cosen32', tc=-1.1, tp=0.35, on=0.06, off=0.045)]
        t0 = time.time()
        for cfg in tests:
            st, ep = evaluate(C, cfg)
            print({k: v for k, v in cfg.items() if BASE.get(k) != v or k in ('W',)}); print('   ', cv.fmt(cv.summary(G, allm, st, ep)))
        print(time.time() - t0)
    else:
        cf = configs(); print(len(cf)); run(cf, sys.argv[1])
