"""Grid over Petrenas settings (+ AND/OR combos with the shipped detector); per-record stats -> grid.pkl"""
import numpy as np, pickle, itertools, time, sys
from common import *
import pet
SH = pickle.load(open('shipped.pkl','rb'))
cfgs = [dict(fam='ship')]
for trend, alpha, delta, D in itertools.product(['rm','r'], [0.01,0.02,0.03,0.05,0.08], [0,1e-4,2e-4,5e-4], [0,8,16,24,32]):
    for eta in np.round(np.arange(0.40, 1.201, 0.05), 3):
        cfgs.append(dict(fam='pet', trend=trend, alpha=alpha, delta=delta, D=D, eta=float(eta)))
for comb in ['and','or']:
    for alpha, delta, D in itertools.product([0.02,0.03,0.05,0.08], [0,2e-4], [0,16,32]):
        for eta in np.round(np.arange(0.40, 1.201, 0.05), 3):
            cfgs.append(dict(fam=comb, trend='rm', alpha=alpha, delta=delta, D=D, eta=float(eta)))
part, nparts = int(sys.argv[1]), int(sys.argv[2])
meta = G_meta(); nrec = len(meta['names']); neps = len(meta['eps_dur'])
idx = list(range(part, len(cfgs), nparts))
ST = np.zeros((len(idx), nrec, 4)); EP = np.zeros((len(idx), neps), bool); ON = np.zeros((len(idx), nrec), int)
t0 = time.time()
for n, ci in enumerate(idx):
    c = cfgs[ci]
    if c['fam'] == 'ship':
        per = [stats_rec(R, *SH[R.name], 31) for R in recs()]
    else:
        per = pet.run(c, None if c['fam']=='pet' else c['fam'], SH)
    ST[n] = np.array([p['c'] for p in per]); EP[n] = np.concatenate([p['eps'] for p in per]); ON[n] = [p['onsets'] for p in per]
    if n % 200 == 0: print(n, len(idx), f'{time.time()-t0:.0f}s', flush=True)
pickle.dump(dict(idx=idx, cfgs=cfgs, ST=ST, EP=EP, ON=ON, **meta), open(f'grid_{part}.pkl','wb'))
print('done', time.time()-t0)
