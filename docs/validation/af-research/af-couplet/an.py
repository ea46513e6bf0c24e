import sys, pickle, numpy as np
sys.path.insert(0, '/tmp/af-clean'); import cv
G = pickle.load(open('grid.pkl', 'rb')); names = np.array(G['names']); dbs = np.array(G['dbs'])
Gb = pickle.load(open('/tmp/af-bd/grid.pkl', 'rb'))
print('base matches af-bd shipped:', np.allclose(G['ST'][0], Gb['ST'][0]), (G['EP'][0] == Gb['EP'][0]).all())
KEYS = [('Se', 1), ('Sp', 1), ('e<10', 1), ('e10-30', 1), ('e30-60', 1), ('e1-5m', 1), ('e>=5m', 1), ('mit_fp_min', -1), ('nsr_fp_min', -1)]
val = lambda s, k: s[k][0] if isinstance(s[k], tuple) else s[k]
def select(mask):
    bs = cv.summary(G, mask, G['ST'][0], G['EP'][0]); J = cv.objective(G, mask)
    for ci in np.argsort(-J, kind='stable'):
        s = cv.summary(G, mask, G['ST'][ci], G['EP'][ci])
        if all(sg * (val(s, k) - val(bs, k)) >= -1e-9 for k, sg in KEYS): return int(ci)
    return 0
def c2s(c): return 'shipped' if c[0] == 0 else f"{'along' if c[0]==1 else 'after'} tol{c[1]:.2f} s{c[2]} k{c[3]}"
def row(ST, EP, lab):
    s = cv.summary(G, np.ones(len(names), bool), ST, EP); fm = lambda n: ST[names == n, 3].sum() / 60
    se = lambda n: 100 * ST[names == n, 0].sum() / max(ST[names == n, 0].sum() + ST[names == n, 1].sum(), 1e-9)
    b = ' '.join(f"{s[k][0]}/{s[k][1]}" for k in ('e<10', 'e10-30', 'e30-60', 'e1-5m', 'e>=5m'))
    print(f"{lab:26s} Se {s['Se']:.2f} Sp {s['Sp']:.2f} | {b} | mit {s['mit_fp_min']:.2f} (106 {fm('106'):.2f} 208 {fm('208'):.2f}) nsr {s['nsr_fp_min']:.2f} | 201 {se('201'):.1f} 203 {se('203'):.1f}")
J = cv.objective(G, np.ones(len(names), bool))
for ci, c in enumerate(G['configs']):
    row(G['ST'][ci], G['EP'][ci], c2s(c) + f' J{J[ci]:.2f}')
F = cv.folds(G); STcv = np.zeros((len(names), 4)); EPcv = np.zeros(G['EP'].shape[1], bool); ch = []
for k in range(13):
    ci = select(F != k); te = F == k; ch.append(c2s(G['configs'][ci]))
    STcv[te] = G['ST'][ci, te]; EPcv[te[G['eps_rec']]] = G['EP'][ci, te[G['eps_rec']]]
print('folds:', ' | '.join(ch))
row(STcv, EPcv, 'CV strict')
print('full strict pick:', c2s(G['configs'][select(np.ones(len(names), bool))]))
