"""Round 2 CV: same protocol as cv2.py (13 folds; keep settings no worse than the current detector on every training
figure, then maximise cv.objective J), over grid_r2.pkl (grid3.py). Settings with back-dated latency > 50 beats
(Roff = 48) are excluded (streaming constraint)."""
import numpy as np, cv, pickle, sys
from collections import Counter
G = cv.load(['r2'])
keep = [i for i, c in enumerate(G['configs']) if c.get('Roff', c['R']) <= 32]
G['configs'] = [G['configs'][i] for i in keep]; G['ST'] = G['ST'][keep]; G['EP'] = G['EP'][keep]
base = 0  # BASE (current af.rs) is configs[0]
assert G['configs'][0]['W'] == 64 and G['configs'][0]['bd'] == 0
F = cv.folds(G); nrec = len(G['names'])
keys = [('Se', 1), ('Sp', 1), ('e<10', 1), ('e10-30', 1), ('e>=30', 1), ('mit_fp_min', -1), ('mit_af_Se', 1), ('nsr_fp_min', -1)]
def val(s, k): v = s[k]; return v[0] if isinstance(v, tuple) else v
def select(mask, subset=None):
    bs = cv.summary(G, mask, G['ST'][base], G['EP'][base])
    J = cv.objective(G, mask)
    for ci in np.argsort(-J):
        if subset is not None and not subset[ci]:
            continue
        s = cv.summary(G, mask, G['ST'][ci], G['EP'][ci])
        if all(sg * (val(s, k) - val(bs, k)) >= -1e-9 for k, sg in keys):
            return ci
    return base
def run(subset=None, tag=''):
    STcv = np.zeros((nrec, 4)); EPcv = np.zeros(G['EP'].shape[1], bool); chosen = []
    for k in range(13):
        ci = select(F != k, subset); chosen.append(ci); te = F == k
        STcv[te] = G['ST'][ci, te]; EPcv[te[G['eps_rec']]] = G['EP'][ci, te[G['eps_rec']]]
        print(tag, 'fold', k, [G['names'][i] for i in np.flatnonzero(te)], G['configs'][ci], flush=True)
    allm = np.ones(nrec, bool)
    cf = select(allm, subset)
    print(tag, 'CV  :', cv.fmt(cv.summary(G, allm, STcv, EPcv)))
    print(tag, 'BASE:', cv.fmt(cv.summary(G, allm, G['ST'][base], G['EP'][base])))
    print(tag, 'FULL:', G['configs'][cf]); print(tag, 'FULL:', cv.fmt(cv.summary(G, allm, G['ST'][cf], G['EP'][cf])))
    return dict(STcv=STcv, EPcv=EPcv, chosen=chosen, cf=cf, names=G['names'], dbs=G['dbs'],
                configs=[G['configs'][c] for c in chosen], full=G['configs'][cf])
if __name__ == '__main__':
    out = {}
    out['all'] = run(None, '[all]')
    # paper-threshold-only variant: COSEn threshold fixed at -1.4 (Lake & Moorman), everything else fitted
    sub = np.array([c['cv'] != 'none' and c['tc'] == -1.4 for c in G['configs']])
    out['paper'] = run(sub, '[tc=-1.4]')
    pickle.dump(out, open('cv3.pkl', 'wb'))
