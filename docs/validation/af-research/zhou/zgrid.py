"""Grid: Zhou entropy detector alone ('z'), AND-ed with the shipped detector ('and'), OR-ed with it ('or'); shipped = configs[0].
Decision for rhythm beat c: E[c+D] > thr, then a centred majority (= binary median) filter of length M over valid beats."""
import numpy as np, pickle, sys, time, itertools
sys.path.insert(0, '/tmp/af-zhou')
from grid import Cat
import grid4

C = Cat()
Z = pickle.load(open('/tmp/af-zhou/cache_zhou.pkl', 'rb'))
SHIP = dict(fam='a', pw='perL32', pon=0.7, poff=0.85, cw='ce64', tc=None)
(_st, _ep), ship_af = grid4.evaluate(C, SHIP)
ship_valid = ~np.isnan(grid4.feats(C)['irr'])
lo_b = C.bounds[C.rid]; hi_b = C.bounds[C.rid + 1]

_E = {}
def Edec(v, Wn):
    if (v, Wn) not in _E:
        parts = []
        for n in C.names:
            e, D = Z[(n, v, Wn)]
            x = np.full(len(e), np.nan); x[:len(e) - D] = e[D:]
            parts.append(x)
        _E[(v, Wn)] = np.concatenate(parts)
    return _E[(v, Wn)]

def zdec(v, Wn, thr, M):
    e = Edec(v, Wn); valid = ~np.isnan(e); d = valid & (e > thr)
    if M > 1:
        h = M // 2; i = np.arange(len(e))
        a = np.maximum(i - h, lo_b); b = np.minimum(i + h, hi_b - 1)
        cp = np.concatenate([[0], np.cumsum(d)]); cv = np.concatenate([[0], np.cumsum(valid)])
        pos = cp[b + 1] - cp[a]; nv = cv[b + 1] - cv[a]
        d = valid & (2 * pos > nv)
    return d, valid

def evaluate(cfg):
    if cfg['fam'] == 'ship':
        return C.stats(ship_af, ship_valid), ship_af, ship_valid
    d, valid = zdec(cfg['v'], cfg['Wn'], cfg['thr'], cfg['M'])
    if cfg['fam'] == 'z':
        af, val = d, valid
    elif cfg['fam'] == 'and':
        af, val = ship_af & (d | ~valid), ship_valid
    else:
        af, val = ship_af | (d & valid), ship_valid
    return C.stats(af, val), af, val

def configs(thrs=None):
    out = [dict(fam='ship')]
    for fam, v, Wn, M in itertools.product(['z', 'and', 'or'], ['hr', 'd14'], [127, 63, 31], [1, 15, 31, 63]):
        ts = thrs if thrs is not None else [round(0.2 + 0.02 * k, 2) for k in range(31)]
        for t in ts:
            out.append(dict(fam=fam, v=v, Wn=Wn, thr=t, M=M))
    return out

if __name__ == '__main__':
    cf = configs(); print(len(cf), flush=True)
    ST = np.zeros((len(cf), C.nrec, 4)); EP = np.zeros((len(cf), len(C.eps_dur)), bool); ON = np.zeros((len(cf), C.nrec), int)
    t0 = time.time()
    for i, c in enumerate(cf):
        (ST[i], EP[i]), af, val = evaluate(c)
        if i % 200 == 0: print(i, f'{time.time()-t0:.0f}s', flush=True)
    pickle.dump(dict(configs=cf, ST=ST, EP=EP, eps_rec=C.eps_rec, eps_dur=C.eps_dur, names=C.names, dbs=C.dbs),
                open('/tmp/af-zhou/grid_z.pkl', 'wb'))
