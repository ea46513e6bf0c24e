"""Evaluate a grid of settings on every record; saves per-record stats for CV selection."""
import numpy as np, pickle, itertools, sys, time
import engine as E


def per_beat(W, conctype, lagset):
    F = E.feats(W)
    out = {}
    for r in E.recs():
        f = F[r.name]
        irr = np.min(f[:, lagset], axis=1)
        conc = f[:, 3] if conctype == 'raw' else f[:, 4]
        out[r.name] = (np.ascontiguousarray(irr), np.ascontiguousarray(conc))
    return out


class Cat:
    def __init__(self):
        R_ = E.recs()
        self.names = [r.name for r in R_]; self.dbs = [r.db for r in R_]
        lens = [len(r.rr) for r in R_]
        self.bounds = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        self.rid = np.concatenate([np.full(n, i) for i, n in enumerate(lens)])
        self.w = np.concatenate([r.w for r in R_]); self.truth = np.concatenate([r.truth for r in R_])
        self.ep_i = np.array([self.bounds[ri] + i for ri, r in enumerate(R_) for (i, k, d) in r.ep])
        self.ep_k = np.array([self.bounds[ri] + k for ri, r in enumerate(R_) for (i, k, d) in r.ep])
        self.eps_rec = np.array([ri for ri, r in enumerate(R_) for _ in r.ep])
        self.eps_dur = np.array([d for r in R_ for (_, _, d) in r.ep])
        self.nrec = len(R_)

    def stats(self, af, valid):
        tr = self.truth; out = np.zeros((self.nrec, 4))
        for j, m in enumerate([valid & tr & af, valid & tr & ~af, valid & ~tr & ~af, valid & ~tr & af]):
            out[:, j] = np.bincount(self.rid[m], weights=self.w[m], minlength=self.nrec)
        cs = np.concatenate([[0], np.cumsum(af)])
        return out, cs[self.ep_k] > cs[self.ep_i]


def per_beat_cat(C, W, conctype, lagset):
    pb = per_beat(W, conctype, lagset)
    irr = np.concatenate([pb[n][0] for n in C.names]); conc = np.concatenate([pb[n][1] for n in C.names])
    return irr, conc


def run_grid(configs, tag):
    C = Cat()
    ST = np.zeros((len(configs), C.nrec, 4)); EP = np.zeros((len(configs), len(C.eps_dur)), bool)
    cache = {}
    t0 = time.time()
    for ci, cfg in enumerate(configs):
        key = (cfg['W'], cfg['conc'], cfg['lags'])
        if key not in cache:
            cache.clear(); cache[key] = per_beat_cat(C, cfg['W'], cfg['conc'], list(range(cfg['lags'])))
        irr, conc = cache[key]
        af = E.decide_all(irr, conc, C.bounds, cfg['on'], cfg['off'], cfg['mc'], cfg['nz'], cfg['R'], cfg['bd'])
        ST[ci], EP[ci] = C.stats(af, ~np.isnan(irr))
        if ci % 1000 == 0:
            print(ci, len(configs), f'{time.time()-t0:.0f}s', flush=True)
    pickle.dump(dict(configs=configs, ST=ST, EP=EP, eps_rec=C.eps_rec, eps_dur=C.eps_dur,
                     names=C.names, dbs=C.dbs), open(f'/tmp/af-proto/grid_{tag}.pkl', 'wb'))


def single_grid(Ws):
    cfgs = []
    for W, conc, on, off, mc, R, bd in itertools.product(Ws, ['raw', 'filt'], [0.05, 0.06, 0.07, 0.08, 0.09, 0.10],
                                                       [0.04, 0.05, 0.06, 0.07], [0.25, 0.30, 0.35, 0.40, 0.45],
                                                       [4, 6, 8, 12, 16], [0, 1]):
        if off > on:
            continue
        cfgs.append(dict(W=W, conc=conc, lags=3, on=on, off=off, mc=mc, nz=0.35, R=R, bd=bd))
    return cfgs

if __name__ == '__main__':
    Ws = [int(x) for x in sys.argv[2:]]
    run_grid(single_grid(Ws), sys.argv[1])
