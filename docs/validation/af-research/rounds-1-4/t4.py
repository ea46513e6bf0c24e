import cv, numpy as np, sys
G = cv.load(sys.argv[1:])
ch, cf, cvs, full, _, _ = cv.run_cv(G)
J = cv.objective(G, np.ones(len(G['names']), bool))
for ci in np.argsort(-J)[:6]:
    print(round(J[ci],2), G['configs'][ci]); print('   ', cv.fmt(cv.summary(G, np.ones(len(G['names']),bool), G['ST'][ci], G['EP'][ci])))
