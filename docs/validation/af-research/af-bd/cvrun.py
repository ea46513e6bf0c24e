import sys, pickle, numpy as np
sys.path.insert(0, '/tmp/af-clean')
import cv
G0 = pickle.load(open('/tmp/af-bd/grid.pkl', 'rb'))
KEYS = [('Se', 1), ('Sp', 1), ('e<10', 1), ('e10-30', 1), ('e30-60', 1), ('e1-5m', 1), ('e>=5m', 1), ('mit_fp_min', -1), ('nsr_fp_min', -1)]
val = lambda s, k: s[k][0] if isinstance(s[k], tuple) else s[k]
def sub(G, keep):
    keep = np.array(keep); H = dict(G); H['configs'] = [G['configs'][i] for i in keep]
    H['ST'] = G['ST'][keep]; H['EP'] = G['EP'][keep]; H['onsets'] = [G['onsets'][i] for i in keep]; return H
def select(G, mask, strict=True):
    bs = cv.summary(G, mask, G['ST'][0], G['EP'][0]); J = cv.objective(G, mask)
    for ci in np.argsort(-J, kind='stable'):
        s = cv.summary(G, mask, G['ST'][ci], G['EP'][ci])
        if not strict or all(sg * (val(s, k) - val(bs, k)) >= -1e-9 for k, sg in KEYS):
            return int(ci)
    return 0
def fmt(s):
    return ' '.join(f'{k} {v[0]}/{v[1]}' if isinstance(v, tuple) else f'{k} {v:.2f}' for k, v in s.items() if k not in ('mit_n', 'mit_af_fp_min'))
c2s = lambda c: f"{c['on']:.2f}/{c['off']:.2f} R{c['ron']}/{c['roff']}" + ('' if c['bd'] else ' noBD')
for label, keep in [('symmetric R', [i for i, c in enumerate(G0['configs']) if c['ron'] == c['roff'] and c['bd']]),
                    ('asymmetric R', [i for i, c in enumerate(G0['configs']) if c['bd']])]:
    G = sub(G0, keep); assert G['configs'][0] == G0['configs'][0]
    print('######', label, len(keep), 'settings')
    for strict in (True, False):
        F = cv.folds(G); nrec = len(G['names']); STcv = np.zeros((nrec, 4)); EPcv = np.zeros(G['EP'].shape[1], bool); ch = []
        for k in range(13):
            ci = select(G, F != k, strict); te = F == k; ch.append(c2s(G['configs'][ci]))
            STcv[te] = G['ST'][ci, te]; EPcv[te[G['eps_rec']]] = G['EP'][ci, te[G['eps_rec']]]
        allm = np.ones(nrec, bool); cf = select(G, allm, strict)
        print('== strict' if strict else '== plain J')
        print(' folds:', ' | '.join(f'{k}:{c}' for k, c in enumerate(ch)))
        print(' CV  :', fmt(cv.summary(G, allm, STcv, EPcv)))
        print(' FULL:', c2s(G['configs'][cf]), fmt(cv.summary(G, allm, G['ST'][cf], G['EP'][cf])), 'ons', G['onsets'][cf])
allm = np.ones(len(G0['names']), bool)
for ci in (0, 1):
    print('REF', c2s(G0['configs'][ci]), fmt(cv.summary(G0, allm, G0['ST'][ci], G0['EP'][ci])), 'ons', G0['onsets'][ci])
# targets on full data
print('\nfull-data settings meeting Se>=97 & Sp>=98:')
for ci, c in enumerate(G0['configs']):
    s = cv.summary(G0, allm, G0['ST'][ci], G0['EP'][ci])
    if s['Se'] >= 97 and s['Sp'] >= 98: print(' ', c2s(c), fmt(s))
print('\ntop 15 full-data by J:')
J = cv.objective(G0, allm)
for ci in np.argsort(-J)[:15]:
    print(' ', c2s(G0['configs'][ci]), f'J {J[ci]:.2f}', fmt(cv.summary(G0, allm, G0['ST'][ci], G0['EP'][ci])))
