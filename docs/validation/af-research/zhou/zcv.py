"""13-fold CV (cv.folds) over grid_z.pkl, per family, shipped detector always a candidate (configs[0]).
mode 'J'     : max J (cv.objective) among ship + family, no screen.
mode 'screen': keep settings no worse than ship on every training figure in KEYS (Sp included unless fam == 'or'), then max J; else ship."""
import numpy as np, pickle, sys
sys.path.insert(0, '/tmp/af-zhou')
import cv
G0 = pickle.load(open('/tmp/af-zhou/grid_z.pkl', 'rb'))
def val(s, k): v = s[k]; return v[0] if isinstance(v, tuple) else v
KEYS = [('Se', 1), ('Sp', 1), ('e<10', 1), ('e10-30', 1), ('e30-60', 1), ('e1-5m', 1), ('e>=5m', 1), ('mit_fp_min', -1), ('mit_af_Se', 1), ('nsr_fp_min', -1)]
def sub(fam):
    keep = [i for i, c in enumerate(G0['configs']) if c['fam'] in ('ship', fam)]
    return dict(G0, configs=[G0['configs'][i] for i in keep], ST=G0['ST'][keep], EP=G0['EP'][keep])
def select(G, mask, mode, fam):
    J = cv.objective(G, mask)
    if mode == 'J': return int(np.argmax(J))
    keys = [k for k in KEYS if not (fam == 'or' and k[0] == 'Sp')]
    bs = cv.summary(G, mask, G['ST'][0], G['EP'][0])
    for ci in np.argsort(-J, kind='stable'):
        s = cv.summary(G, mask, G['ST'][ci], G['EP'][ci])
        if all(sg * (val(s, k) - val(bs, k)) >= -1e-9 for k, sg in keys): return int(ci)
    return 0
def recfig(G, ST):
    n = G['names']; o = {r: round(ST[n.index(r), 3] / 60, 2) for r in ('106', '207', '208', '220')}
    for r in ('201', '203'):
        tp, fn = ST[n.index(r), :2]; o[r + 'Se'] = round(100 * tp / (tp + fn), 2)
    return o
res = {}
for fam, mode in [('z', 'J'), ('z', 'screen'), ('and', 'screen'), ('or', 'screen'), ('and', 'J'), ('or', 'J')]:
    G = sub(fam); F = cv.folds(G); nrec = len(G['names'])
    STcv = np.zeros((nrec, 4)); EPcv = np.zeros(G['EP'].shape[1], bool); ch = []
    for k in range(13):
        ci = select(G, F != k, mode, fam); ch.append(ci); te = F == k
        STcv[te] = G['ST'][ci, te]; EPcv[te[G['eps_rec']]] = G['EP'][ci, te[G['eps_rec']]]
    allm = np.ones(nrec, bool); cf = select(G, allm, mode, fam)
    s_cv = cv.summary(G, allm, STcv, EPcv); s_full = cv.summary(G, allm, G['ST'][cf], G['EP'][cf])
    print(f'== {fam} {mode}: folds chose', [G['configs'][c] if c else 'ship' for c in ch])
    print('  CV  :', cv.fmt(s_cv), recfig(G, STcv))
    print('  FULL:', G['configs'][cf], cv.fmt(s_full), recfig(G, G['ST'][cf]), flush=True)
    res[(fam, mode)] = dict(chosen=[G['configs'][c] for c in ch], full=G['configs'][cf], cv=s_cv, fullsum=s_full)
pickle.dump(res, open('/tmp/af-zhou/zcv.pkl', 'wb'))
