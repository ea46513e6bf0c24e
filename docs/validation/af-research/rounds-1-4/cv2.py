"""CV of the final selection protocol: on the training folds keep the settings that are no worse than the
current detector on every training figure (afdb Se, Sp, episodes <10, 10-30, >=30 s found, mitdb non-AF false
min, 201/203 Se, nsr/chf false min), then take the highest objective J (cv.objective)."""
import numpy as np, cv, pickle
G = cv.load(['single', 'q'])
base = next(i for i, c in enumerate(G['configs']) if c.get('W') == 64 and c.get('conc') == 'raw' and c.get('on') == 0.07 and c.get('off') == 0.05 and c.get('mc') == 0.35 and c.get('R') == 16 and c.get('bd') == 0 and 'qi' not in c)
F = cv.folds(G); nrec = len(G['names'])
keys = [('Se', 1), ('Sp', 1), ('e<10', 1), ('e10-30', 1), ('e>=30', 1), ('mit_fp_min', -1), ('mit_af_Se', 1), ('nsr_fp_min', -1)]
def val(s, k): v = s[k]; return v[0] if isinstance(v, tuple) else v
def select(mask):
    bs = cv.summary(G, mask, G['ST'][base], G['EP'][base])
    J = cv.objective(G, mask)
    ok = []
    for ci in np.argsort(-J):
        s = cv.summary(G, mask, G['ST'][ci], G['EP'][ci])
        if all(sg * (val(s, k) - val(bs, k)) >= -1e-9 for k, sg in keys):
            return ci
    return base
STcv = np.zeros((nrec, 4)); EPcv = np.zeros(G['EP'].shape[1], bool); chosen = []
for k in range(13):
    ci = select(F != k); chosen.append(ci); te = F == k
    STcv[te] = G['ST'][ci, te]; EPcv[te[G['eps_rec']]] = G['EP'][ci, te[G['eps_rec']]]
    print('fold', k, [G['names'][i] for i in np.flatnonzero(te)], G['configs'][ci], flush=True)
allm = np.ones(nrec, bool)
cf = select(allm)
print('CV  :', cv.fmt(cv.summary(G, allm, STcv, EPcv)))
print('BASE:', cv.fmt(cv.summary(G, allm, G['ST'][base], G['EP'][base])))
print('FULL:', G['configs'][cf]); print('FULL:', cv.fmt(cv.summary(G, allm, G['ST'][cf], G['EP'][cf])))
pickle.dump(dict(STcv=STcv, EPcv=EPcv, chosen=chosen, cf=cf, names=G['names'], dbs=G['dbs'], configs=[G['configs'][c] for c in chosen]), open('cv2.pkl', 'wb'))
