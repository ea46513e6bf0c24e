import numpy as np, grid5, grid4
from grid import Cat
C = Cat(); la, valid = grid5.long_af(C); d = grid4.feats(C)
cfg = dict(fam='s', Ws=16, on=0.1, R=6, mc=0.35, ps=0.5)
sa = grid5.short_af(C, cfg) & valid & ~la
tr = C.truth
# distance (beats) to nearest truth-AF beat, per record
dist = np.full(len(tr), 10**9)
for b in range(C.nrec):
    lo, hi = C.bounds[b], C.bounds[b+1]; t = np.flatnonzero(tr[lo:hi])
    if len(t) == 0: continue
    idx = np.arange(hi - lo); p = np.searchsorted(t, idx)
    d1 = np.abs(idx - t[np.clip(p, 0, len(t)-1)]); d2 = np.abs(idx - t[np.clip(p-1, 0, len(t)-1)])
    dist[lo:hi] = np.minimum(d1, d2)
fp = sa & ~tr; tp = sa & tr
print('added FP beats', fp.sum(), 'TP beats', tp.sum())
for lim in [4, 8, 16, 32, 64]:
    print(f' FP within {lim} beats of truth AF: {(fp & (dist <= lim)).sum()}  min {C.w[fp & (dist <= lim)].sum()/60:.1f}')
print('FP min total', C.w[fp].sum()/60)
irrL = d['irr']; concL = d['conc']
for nm, m in [('TP', tp), ('FP', fp), ('FP far', fp & (dist > 32))]:
    print(nm, 'long irr pct 10/50/90', np.nanpercentile(irrL[m], [10, 50, 90]).round(3), 'long conc', np.nanpercentile(concL[m], [10, 50, 90]).round(2))
irr, conc, per = grid5.sfeats(C, 16)
for nm, m in [('TP', tp), ('FP', fp), ('FP far', fp & (dist > 32))]:
    print(nm, 'short irr', np.nanpercentile(irr[m], [10, 50, 90]).round(3), 'short conc', np.nanpercentile(conc[m], [10, 50, 90]).round(2), 'per', np.nanpercentile(per[m], [10, 50, 90]).round(2))
