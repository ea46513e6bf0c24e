import sys, pickle, numpy as np
sys.path.insert(0, '/tmp/af-clean')
import cv
G = pickle.load(open(sys.argv[1], 'rb'))
KEYS = [('Se', 1), ('Sp', 1), ('e<10', 1), ('e10-30', 1), ('e30-60', 1), ('e1-5m', 1), ('e>=5m', 1), ('mit_fp_min', -1), ('nsr_fp_min', -1)]
val = lambda s, k: s[k][0] if isinstance(s[k], tuple) else s[k]
def select(G, mask, strict):
    # strict: True = every figure no worse; 'semi' = every figure no worse except Sp, which only needs >= 98.0 (the goal floor)
    bs = cv.summary(G, mask, G['ST'][0], G['EP'][0]); J = cv.objective(G, mask)
    for ci in np.argsort(-J, kind='stable'):
        s = cv.summary(G, mask, G['ST'][ci], G['EP'][ci])
        if not strict or all(sg * (val(s, k) - val(bs, k)) >= -1e-9 for k, sg in KEYS if not (strict == 'semi' and k == 'Sp')) and (strict != 'semi' or s['Sp'] >= 98.0):
            return int(ci)
    return 0
fmt=lambda s:' '.join(f'{k} {v[0]}/{v[1]}' if isinstance(v,tuple) else f'{k} {v:.2f}' for k,v in s.items() if k not in ('mit_n',))
c2s=lambda c:' '.join(f'{k}={v}' for k,v in c.items())
for strict in (True, 'semi', False):
    F = cv.folds(G); nrec = len(G['names']); STcv = np.zeros((nrec, 4)); EPcv = np.zeros(G['EP'].shape[1], bool); ch = []
    for k in range(13):
        ci = select(G, F != k, strict); te = F == k; ch.append(c2s(G['configs'][ci]))
        STcv[te] = G['ST'][ci, te]; EPcv[te[G['eps_rec']]] = G['EP'][ci, te[G['eps_rec']]]
    allm = np.ones(nrec, bool); cf = select(G, allm, strict)
    print({True: '== strict', 'semi': '== semi-strict (Sp floor 98.0)', False: '== plain J'}[strict])
    for k,c in enumerate(ch): print('  fold',k,c)
    print(' CV  :', fmt(cv.summary(G, allm, STcv, EPcv)))
    print(' FULL:', c2s(G['configs'][cf]), fmt(cv.summary(G, allm, G['ST'][cf], G['EP'][cf])), 'ons', G['onsets'][cf])
print(' BASE:', fmt(cv.summary(G, np.ones(len(G['names']),bool), G['ST'][0], G['EP'][0])))
