import numpy as np, pickle, sys, time
sys.path.insert(0, '/tmp/af-zhou')
import engine as E, zfeat
out = {}
t0 = time.time()
for r in E.recs():
    for v in ('hr', 'd14'):
        for Wn in (127, 63, 31):
            e, D = zfeat.feature(r.rr, v, Wn)
            out[(r.name, v, Wn)] = (e.astype(np.float64), D)
print('done', time.time() - t0)
pickle.dump(out, open('/tmp/af-zhou/cache_zhou.pkl', 'wb'))
