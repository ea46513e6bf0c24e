import numpy as np, pickle, itertools, sys, time
import engine as E
from grid import Cat

def feats2(C, W):
    F = pickle.load(open(f'/tmp/af-proto/cache_feat2_W{W}.pkl', 'rb'))
    return np.concatenate([F[n] for n in C.names]).astype(np.float64)

def run(configs, tag, Ws):
    C = Cat()
    ST = np.zeros((len(configs), C.nrec, 4)); EP = np.zeros((len(configs), len(C.eps_dur)), bool)
    t0 = time.time(); curW = None
    for ci, cfg in enumerate(configs):
        if cfg['W'] != curW:
            F = feats2(C, cfg['W']); curW = cfg['W']
            nirr = np.ascontiguousarray(np.min(F[:, [3, 7, 11]], axis=1))
            irrq = {qi: np.ascontiguousarray(np.min(F[:, [qi, 4 + qi, 8 + qi]], axis=1)) for qi in range(4)}
            concs = {'raw': np.ascontiguousarray(F[:, 12]), 'filt': np.ascontiguousarray(F[:, 13])}
        af = E.decide_all2(irrq[cfg['qi']], nirr, concs[cfg['conc']], C.bounds, cfg['on'], cfg['off'], cfg['mc'], cfg['nz'], cfg['R'], cfg['bd'])
        ST[ci], EP[ci] = C.stats(af, ~np.isnan(nirr))
        if ci % 1000 == 0:
            print(ci, len(configs), f'{time.time()-t0:.0f}s', flush=True)
    pickle.dump(dict(configs=configs, ST=ST, EP=EP, eps_rec=C.eps_rec, eps_dur=C.eps_dur,
                     names=C.names, dbs=C.dbs), open(f'/tmp/af-proto/grid_{tag}.pkl', 'wb'))

if __name__ == '__main__':
    Ws = [int(x) for x in sys.argv[2:]]
    cfgs = []
    for W, qi, on, offr, mc, R in itertools.product(Ws, range(4), [0.02, 0.025, 0.03, 0.035, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10],
                                                   [0.6, 0.8], [0.35, 0.4, 0.45, 1.01], [12, 16, 24, 32]):
        cfgs.append(dict(W=W, qi=qi, conc='raw', on=on, off=round(on * offr, 4), mc=mc, nz=0.35, R=R, bd=1))
    run(cfgs, sys.argv[1], Ws)
