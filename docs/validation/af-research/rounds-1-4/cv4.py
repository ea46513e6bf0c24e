"""Round 3 CV over grid_r3.pkl (grid4.py), each family separately (a: PER gate, b: COSEn gate, c: both), always with
BASE (= current detector, configs[0]) as a candidate. 13 folds as cv.folds. On the 12 training folds: keep settings no worse
than BASE on EVERY training figure (afdb Se, Sp, each of the 5 episode buckets, mitdb non-AF false min, 201/203 Se,
nsr/chf false min), then maximise cv.objective J; if none passes, BASE. Full fit = the same selection on all records."""
import numpy as np, cv, pickle, sys

G0 = cv.load(['r3'])
assert G0['configs'][0]['fam'] == 'base'
KEYS = [('Se', 1), ('Sp', 1), ('e<10', 1), ('e10-30', 1), ('e30-60', 1), ('e1-5m', 1), ('e>=5m', 1),
        ('mit_fp_min', -1), ('mit_af_Se', 1), ('nsr_fp_min', -1)]
def val(s, k): v = s[k]; return v[0] if isinstance(v, tuple) else v

def sub(fam):
    keep = [i for i, c in enumerate(G0['configs']) if c['fam'] in ('base', fam)]
    return dict(G0, configs=[G0['configs'][i] for i in keep], ST=G0['ST'][keep], EP=G0['EP'][keep])

def select(G, mask):
    bs = cv.summary(G, mask, G['ST'][0], G['EP'][0]); J = cv.objective(G, mask)
    for ci in np.argsort(-J, kind='stable'):
        s = cv.summary(G, mask, G['ST'][ci], G['EP'][ci])
        if all(sg * (val(s, k) - val(bs, k)) >= -1e-9 for k, sg in KEYS):
            return int(ci)
    return 0

def recfig(G, ST):
    n = G['names']; o = {}
    for r in ('106', '207', '208', '220'):
        o[r] = ST[n.index(r), 3] / 60
    for r in ('201', '203'):
        tp, fn = ST[n.index(r), :2]; o[r + 'Se'] = 100 * tp / (tp + fn)
    return o

def run(fam):
    G = sub(fam); F = cv.folds(G); nrec = len(G['names'])
    STcv = np.zeros((nrec, 4)); EPcv = np.zeros(G['EP'].shape[1], bool); chosen = []
    for k in range(13):
        ci = select(G, F != k); chosen.append(G['configs'][ci]); te = F == k
        STcv[te] = G['ST'][ci, te]; EPcv[te[G['eps_rec']]] = G['EP'][ci, te[G['eps_rec']]]
        print(fam, 'fold', k, [G['names'][i] for i in np.flatnonzero(te)], G['configs'][ci], flush=True)
    allm = np.ones(nrec, bool); cf = select(G, allm)
    out = dict(fam=fam, chosen=chosen, full=G['configs'][cf],
               cv=cv.summary(G, allm, STcv, EPcv), cvrec=recfig(G, STcv), STcv=STcv,
               fullsum=cv.summary(G, allm, G['ST'][cf], G['EP'][cf]), fullrec=recfig(G, G['ST'][cf]), STfull=G['ST'][cf],
               base=cv.summary(G, allm, G['ST'][0], G['EP'][0]), baserec=recfig(G, G['ST'][0]), names=G['names'], dbs=G['dbs'])
    print(fam, 'CV  :', cv.fmt(out['cv']), out['cvrec'])
    print(fam, 'FULL:', out['full']); print(fam, 'FULL:', cv.fmt(out['fullsum']), out['fullrec'])
    return out

if __name__ == '__main__':
    res = {f: run(f) for f in ('a', 'b', 'c')}
    b = res['a']
    print('BASE:', cv.fmt(b['base']), b['baserec'])
    pickle.dump(res, open('/tmp/af-proto/cv4.pkl', 'wb'))
