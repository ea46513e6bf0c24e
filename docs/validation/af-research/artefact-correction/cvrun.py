"""13-fold CV as Round 3 (cv4.py): strict screen vs BASE on every training figure, then max J; BASE always a candidate."""
import sys, pickle, numpy as np
sys.path.insert(0, '/tmp/af-clean')
import cv

G = pickle.load(open('/tmp/af-clean/grid_clean.pkl', 'rb'))
KEYS = [('Se', 1), ('Sp', 1), ('e<10', 1), ('e10-30', 1), ('e30-60', 1), ('e1-5m', 1), ('e>=5m', 1),
        ('mit_fp_min', -1), ('mit_af_Se', 1), ('nsr_fp_min', -1)]
val = lambda s, k: s[k][0] if isinstance(s[k], tuple) else s[k]


def select(G, mask, strict=True):
    bs = cv.summary(G, mask, G['ST'][0], G['EP'][0]); J = cv.objective(G, mask)
    for ci in np.argsort(-J, kind='stable'):
        s = cv.summary(G, mask, G['ST'][ci], G['EP'][ci])
        if not strict or all(sg * (val(s, k) - val(bs, k)) >= -1e-9 for k, sg in KEYS):
            return int(ci)
    return 0


def rec(G, ST):
    n = G['names']; o = {}
    for r in ('201', '203'):
        tp, fn = ST[n.index(r), :2]; o[r] = round(100 * tp / (tp + fn), 2)
    return o


def fmt(s):
    return ' '.join(f'{k} {v[0]}/{v[1]}' if isinstance(v, tuple) else f'{k} {v:.2f}' for k, v in s.items() if k not in ('mit_n', 'e>=30', 'mit_af_fp_min'))


for strict in (True, False):
    F = cv.folds(G); nrec = len(G['names']); STcv = np.zeros((nrec, 4)); EPcv = np.zeros(G['EP'].shape[1], bool)
    print('=== strict screen' if strict else '=== J only (no screen)')
    for k in range(13):
        ci = select(G, F != k, strict); te = F == k
        STcv[te] = G['ST'][ci, te]; EPcv[te[G['eps_rec']]] = G['EP'][ci, te[G['eps_rec']]]
        print(' fold', k, [G['names'][i] for i in np.flatnonzero(te)][:2], ci, G['configs'][ci])
    allm = np.ones(nrec, bool); cf = select(G, allm, strict)
    print(' CV  :', fmt(cv.summary(G, allm, STcv, EPcv)), rec(G, STcv))
    print(' FULL:', cf, G['configs'][cf], fmt(cv.summary(G, allm, G['ST'][cf], G['EP'][cf])), rec(G, G['ST'][cf]), 'onsets', G['onsets'][cf])
print('BASE:', fmt(cv.summary(G, allm, G['ST'][0], G['EP'][0])), rec(G, G['ST'][0]), 'onsets', G['onsets'][0])
# every setting, full data
print('\nall settings (full data):')
for ci, c in enumerate(G['configs']):
    s = cv.summary(G, allm, G['ST'][ci], G['EP'][ci])
    print(ci, c, fmt(s), rec(G, G['ST'][ci]), 'ons', G['onsets'][ci], 'fixes', G['nfix'][ci])
