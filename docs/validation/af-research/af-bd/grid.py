import sys, pickle, numpy as np, time, itertools
sys.path.insert(0, '/tmp/af-bd'); sys.path.insert(0, '/tmp/af-clean')
import beng, score as S
recs = pickle.load(open('/tmp/af-proto/cache_data.pkl', 'rb'))
F = pickle.load(open('/tmp/af-bd/feats.pkl', 'rb'))
names = [r['name'] for r in recs]; dbs = [r['db'] for r in recs]
er, ed = [], []
for i, r in enumerate(recs):
    for a, b in r['spans']:
        bb = min(b, r['t'][-1]) if np.isinf(b) else b
        er.append(i); ed.append(bb - a)
cfgs = [dict(on=.07, off=.05, ron=16, roff=16, bd=True), dict(on=.07, off=.05, ron=16, roff=16, bd=False)]
for on, off, ron, roff in itertools.product((.06, .07, .08), (.04, .05, .06), (8, 12, 16, 24, 32), (8, 12, 16, 24, 32)):
    c = dict(on=on, off=off, ron=ron, roff=roff, bd=True)
    if c not in cfgs: cfgs.append(c)
STs, EPs, ONs = [], [], []
for c in cfgs:
    ST = np.zeros((len(recs), 4)); EP = []; ons = 0
    for i, r in enumerate(recs):
        oj, ot, E, P, N = F[i]
        daf, o = beng.machine(E, P, N, c['on'], c['off'], c['ron'], c['roff'], c['bd'])
        s = S.score(r, oj, ot, daf)
        ST[i] = [s['tp'], s['fn'], s['tn'], s['fp']]; EP += [e[2] for e in s['episodes']]
        if r['db'] == 'afdb': ons += o
    STs.append(ST); EPs.append(EP); ONs.append(ons)
G = dict(configs=cfgs, ST=np.array(STs), EP=np.array(EPs, bool), onsets=ONs, nfix=[0]*len(cfgs), names=names, dbs=dbs,
         eps_rec=np.array(er), eps_dur=np.array(ed))
pickle.dump(G, open('/tmp/af-bd/grid.pkl', 'wb'))
import cv
allm = np.ones(len(names), bool)
for ci in (0, 1):
    print(cfgs[ci], cv.summary(G, allm, G['ST'][ci], G['EP'][ci]), 'ons', ONs[ci])
