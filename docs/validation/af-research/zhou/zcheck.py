import numpy as np, sys
sys.path.insert(0, '/tmp/af-zhou')
import zgrid as Zg, cv
C = Zg.C
G = dict(names=C.names, dbs=C.dbs, eps_rec=C.eps_rec, eps_dur=C.eps_dur)
allm = np.ones(C.nrec, bool)
def show(tag, cfg):
    (st, ep), af, val = Zg.evaluate(cfg)
    s = cv.summary(G, allm, st, ep)
    a = np.array(C.dbs) == 'afdb'
    # onsets on afdb (per record, valid beats only)
    on = 0
    for i in np.flatnonzero(a):
        sl = slice(C.bounds[i], C.bounds[i+1]); x = af[sl][val[sl]]; on += int(np.count_nonzero(x[1:] & ~x[:-1]) + (1 if len(x) and x[0] else 0))
    print(tag, cfg, cv.fmt(s), 'afdb_onsets', on, flush=True)
    return af, val
af, val = show('SHIP centre', dict(fam='ship'))
# validate.rs weighting for the shipped detector: weight of the pushed interval = rr[c+31] on the rhythm axis
w2 = np.zeros_like(C.w); ok = np.zeros(len(C.w), bool)
for i in range(C.nrec):
    lo, hi = C.bounds[i], C.bounds[i+1]; w2[lo:hi-31] = C.w[lo+31:hi]
a = (np.array(C.dbs)[C.rid] == 'afdb') & val
tr = C.truth
print('SHIP validate.rs weighting: Se %.2f Sp %.2f' % (100*w2[a&tr&af].sum()/w2[a&tr].sum(), 100*w2[a&~tr&~af].sum()/w2[a&~tr].sum()))
for v, thr in (('d14', 0.353), ('hr', 0.639)):
    for M in (1, 15, 31, 63):
        show('PAPER', dict(fam='z', v=v, Wn=127, thr=thr, M=M))
