import cv, numpy as np, copy
G0 = cv.load(['q'])
def sub(G, pred):
    idx = [i for i, c in enumerate(G['configs']) if pred(c)]
    H = dict(G); H['configs'] = [G['configs'][i] for i in idx]; H['ST'] = G['ST'][idx]; H['EP'] = G['EP'][idx]
    return H
for nm, p in [('W32 med', lambda c: c['W'] == 32 and c['qi'] == 3),
              ('W32 med R>=16 mc<=.4', lambda c: c['W'] == 32 and c['qi'] == 3 and c['mc'] <= 0.4),
              ('med any W', lambda c: c['qi'] == 3)]:
    print('##', nm); ch, cf, cvs, full, _, _ = cv.run_cv(sub(G0, p), verbose=False)
    print(' CV  ', cv.fmt(cvs)); print(' FULL', G0['configs'][0] if False else '', cv.fmt(full))
    from collections import Counter
    H = sub(G0, p); print(' chosen', Counter(str(H['configs'][c]) for c in ch).most_common(3)); print(' full cfg', H['configs'][cf])
