import sys, pickle, numpy as np, time
sys.path.insert(0, '/tmp/af-bd'); sys.path.insert(0, '/tmp/af-clean')
import beng, score as S, eng
recs = pickle.load(open('/tmp/af-proto/cache_data.pkl', 'rb'))
t0 = time.time()
F = []
for r in recs:
    rr, t = r['rr'].astype(float), r['t'].astype(float)
    F.append(beng.feats(rr, t))
print('feats', time.time() - t0, len(recs), flush=True)
pickle.dump(F, open('/tmp/af-bd/feats.pkl', 'wb'))
# check non-backdated equals eng.detect
for i in [0, 5, 30]:
    r = recs[i]; rr, t = r['rr'].astype(float), r['t'].astype(float)
    dj, dt, daf = eng.detect(rr, t); oj, ot, E, P, N = F[i]
    a, _ = beng.machine(E, P, N, 0.07, 0.05, 16, 16, False)
    print(r['name'], (dj == oj).all(), (dt == ot).all(), (daf == a).all())
