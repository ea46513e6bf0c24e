import sys, pickle, numpy as np, time, os
sys.path.insert(0, '/tmp/af-couplet'); sys.path.insert(0, '/tmp/af-clean')
import beng2, score as S
from multiprocessing import Pool
recs = pickle.load(open('/tmp/af-proto/cache_data.pkl', 'rb'))
cfgs = [(0, 0.0, 0.0, 2)]
for mode in (1, 2):
    for kmax in (2, 3):
        for tol in (0.05, 0.10):
            for s in (0.8, 0.9):
                cfgs.append((mode, tol, s, kmax))
def one(c):
    mode, tol, s, kmax = c
    ST = np.zeros((len(recs), 4)); EP = []
    for i, r in enumerate(recs):
        oj, ot, E, P, N = beng2.feats(r['rr'].astype(float), r['t'].astype(float), mode, tol, s, kmax)
        daf, o = beng2.machine(E, P, N, 0.07, 0.05, 16, 16, True)
        sc = S.score(r, oj, ot, daf)
        ST[i] = [sc['tp'], sc['fn'], sc['tn'], sc['fp']]; EP += [e[2] for e in sc['episodes']]
    return ST, EP
if __name__ == '__main__':
    t0 = time.time(); r0 = one(cfgs[0]); print('base', time.time() - t0, flush=True)
    with Pool(2) as p: res = p.map(one, cfgs[1:])
    res = [r0] + res
    er, ed = [], []
    for i, r in enumerate(recs):
        for a, b in r['spans']:
            bb = min(b, r['t'][-1]) if np.isinf(b) else b
            er.append(i); ed.append(bb - a)
    G = dict(configs=cfgs, ST=np.array([x[0] for x in res]), EP=np.array([x[1] for x in res], bool), onsets=[0]*len(cfgs),
             names=[r['name'] for r in recs], dbs=[r['db'] for r in recs], eps_rec=np.array(er), eps_dur=np.array(ed))
    pickle.dump(G, open('grid.pkl', 'wb')); print('done', time.time() - t0)
