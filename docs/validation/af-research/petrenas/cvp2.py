"""Petrenas alone, shipped NOT a candidate: plain max-J CV and full fit; plus the best full-data setting under
'mitdb <= shipped and nsr <= shipped' for reference."""
import sys, numpy as np, pickle
sys.path.insert(0, '/tmp/af-proto')
import cv
from cvp import G0, extra
keep = [i for i, c in enumerate(G0['cfgs']) if c['fam'] == 'pet']
G = dict(G0, configs=[G0['cfgs'][i] for i in keep], ST=G0['ST'][keep], EP=G0['EP'][keep], ON=G0['ON'][keep])
F = cv.folds(G); nrec = len(G['names'])
STcv = np.zeros((nrec, 4)); EPcv = np.zeros(G['EP'].shape[1], bool); ONcv = np.zeros(nrec, int); ch = []
for k in range(13):
    ci = int(np.argmax(cv.objective(G, F != k))); ch.append(G['configs'][ci]); te = F == k
    STcv[te] = G['ST'][ci, te]; EPcv[te[G['eps_rec']]] = G['EP'][ci, te[G['eps_rec']]]; ONcv[te] = G['ON'][ci, te]
allm = np.ones(nrec, bool); cf = int(np.argmax(cv.objective(G, allm)))
print('pet-only folds chose:', ch)
print('  CV  :', cv.fmt(cv.summary(G, allm, STcv, EPcv)), extra(G, STcv, ONcv))
print('  FULL:', G['configs'][cf]); print('  FULL:', cv.fmt(cv.summary(G, allm, G['ST'][cf], G['EP'][cf])), extra(G, G['ST'][cf], G['ON'][cf]))
# landscape: settings with mitdb <= 16.25 and nsr <= 0.76 (full data): best Se+Sp
best = None
for ci in range(len(G['configs'])):
    s = cv.summary(G, allm, G['ST'][ci], G['EP'][ci])
    if s['mit_fp_min'] <= 16.26 and s['nsr_fp_min'] <= 0.77:
        if best is None or s['Se'] + s['Sp'] > best[0]: best = (s['Se'] + s['Sp'], ci, s)
print('best pet with mitdb<=16.25 & nsr<=0.76:', None if best is None else (G['configs'][best[1]], cv.fmt(best[2])))
best = None
for ci in range(len(G['configs'])):
    s = cv.summary(G, allm, G['ST'][ci], G['EP'][ci])
    if best is None or s['mit_fp_min'] < best[2]['mit_fp_min']: best = (0, ci, s)
print('min mitdb pet setting:', G['configs'][best[1]], cv.fmt(best[2]))
