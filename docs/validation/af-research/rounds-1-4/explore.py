import numpy as np, pickle
import engine as E
from grid import Cat
C = Cat()
F3 = pickle.load(open('cache_feat3_W32.pkl','rb')); cols = F3['cols']
F2 = pickle.load(open('cache_feat2_W32.pkl','rb'))
X = np.concatenate([F3['F'][n] for n in C.names]).astype(float)
F2c = np.concatenate([F2[n] for n in C.names]).astype(float)
irr = np.min(F2c[:, [3,7,11]], 1); conc = F2c[:, 12]
dbs = np.array(C.dbs)[C.rid]; nm = np.array(C.names)[C.rid]
groups = {'afdb AF': (dbs=='afdb') & C.truth, 'afdb nonAF': (dbs=='afdb') & ~C.truth,
  'afdb nonAF irr>.07': (dbs=='afdb') & ~C.truth & (irr>0.07) & (conc<0.4),
  'afdb AF irr>.07': (dbs=='afdb') & C.truth & (irr>0.07) & (conc<0.4),
  '106 irr>.07': (nm=='106') & (irr>0.07)& (conc<0.4), '208 irr>.07': (nm=='208') & (irr>0.07)& (conc<0.4),
  'mit other nonAF irr>.07': (dbs=='mitdb') & ~np.isin(nm,['106','208','201','203']) & (irr>0.07)& (conc<0.4),
  '201/203 AF': np.isin(nm,['201','203']) & C.truth,
  'nsr/chf irr>.07': np.isin(dbs,['nsr2db','chf2db']) & (irr>0.07)& (conc<0.4)}
allc = cols + ['irr', 'conc']
X = np.column_stack([X, irr, conc])
for g, m in groups.items():
    print(f'== {g}  n={m.sum()}')
    for i, cn in enumerate(allc):
        v = X[m, i]; v = v[~np.isnan(v)]
        if len(v): print(f'   {cn:10s} ' + ' '.join(f'{x:7.3f}' for x in np.percentile(v, [5, 10, 25, 50, 75, 90, 95])))
