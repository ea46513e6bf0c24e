"""13-fold leave-records-out CV (folds as /tmp/af-proto/cv.folds). Families: pet (Petrenas alone), and, or (combined
with the shipped detector). Protocol S (strict, as cv4.py): keep settings no worse than shipped on every training
figure (Se, Sp, 5 buckets, mitdb non-AF false min, 201/203 Se, nsr/chf false min), then max J; fallback shipped.
Protocol J: plain max J (cv.objective), no screen."""
import sys, numpy as np, pickle
sys.path.insert(0, '/tmp/af-proto')
import cv
from cv4 import val
G0 = pickle.load(open('grid_0.pkl', 'rb')); G0['configs'] = G0['cfgs']
assert G0['cfgs'][0]['fam'] == 'ship'
KEYS = [('Se', 1), ('Sp', 1), ('e<10', 1), ('e10-30', 1), ('e30-60', 1), ('e1-5m', 1), ('e>=5m', 1),
        ('mit_fp_min', -1), ('mit_af_Se', 1), ('nsr_fp_min', -1)]
def sub(fam):
    keep = [i for i, c in enumerate(G0['cfgs']) if c['fam'] in ('ship', fam)]
    return dict(G0, configs=[G0['cfgs'][i] for i in keep], ST=G0['ST'][keep], EP=G0['EP'][keep], ON=G0['ON'][keep])
def select(G, mask, strict):
    J = cv.objective(G, mask)
    if not strict: return int(np.argmax(J))
    bs = cv.summary(G, mask, G['ST'][0], G['EP'][0])
    for ci in np.argsort(-J, kind='stable'):
        s = cv.summary(G, mask, G['ST'][ci], G['EP'][ci])
        if all(sg * (val(s, k) - val(bs, k)) >= -1e-9 for k, sg in KEYS): return int(ci)
    return 0
def extra(G, ST, ON=None):
    n = G['names']; o = {}
    for r in ('201', '203'): tp, fn = ST[n.index(r), :2]; o[r+'Se'] = round(100*tp/(tp+fn), 2)
    for r in ('106', '208'): o[r] = round(ST[n.index(r), 3]/60, 2)
    if ON is not None: o['onsets'] = int(sum(ON[i] for i, d in enumerate(G['dbs']) if d == 'afdb'))
    return o
res = {}
for fam in ('pet', 'and', 'or'):
    G = sub(fam); F = cv.folds(G); nrec = len(G['names'])
    for strict in (True, False):
        STcv = np.zeros((nrec, 4)); EPcv = np.zeros(G['EP'].shape[1], bool); ONcv = np.zeros(nrec, int); ch = []
        for k in range(13):
            ci = select(G, F != k, strict); ch.append(ci); te = F == k
            STcv[te] = G['ST'][ci, te]; EPcv[te[G['eps_rec']]] = G['EP'][ci, te[G['eps_rec']]]; ONcv[te] = G['ON'][ci, te]
        allm = np.ones(nrec, bool); cf = select(G, allm, strict)
        tag = f"{fam}-{'S' if strict else 'J'}"
        res[tag] = dict(chosen=[G['configs'][c] for c in ch], full=G['configs'][cf],
                        cv=cv.summary(G, allm, STcv, EPcv), cvx=extra(G, STcv, ONcv),
                        fullsum=cv.summary(G, allm, G['ST'][cf], G['EP'][cf]), fullx=extra(G, G['ST'][cf], G['ON'][cf]))
        print('==', tag, 'folds chose:', [G['configs'][c] if c else 'ship' for c in ch])
        print('  CV  :', cv.fmt(res[tag]['cv']), res[tag]['cvx'])
        print('  FULL:', G['configs'][cf]); print('  FULL:', cv.fmt(res[tag]['fullsum']), res[tag]['fullx'])
pickle.dump(res, open('cvp.pkl', 'wb'))
