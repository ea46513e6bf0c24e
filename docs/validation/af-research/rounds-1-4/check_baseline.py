import time, pickle, numpy as np
from data import load_all
import baseline, score as S
recs = load_all()
res = {}
t0 = time.time()
for r in recs:
    dj, dt, daf = baseline.run(r['t'], r['rr'])
    res[r['name']] = (dj, dt, daf)
    s = S.score(r, dj, dt, daf)
    print(r['db'], r['name'], f"Se {S.se(s):.2f} Sp {S.sp(s):.2f} fpmin {s['fp']/60:.1f} onsets {s['onsets']} unj {s['unjudged']:.0f}", f"{time.time()-t0:.0f}s", flush=True)
pickle.dump(res, open('/tmp/af-proto/cache_baseline.pkl', 'wb'))
