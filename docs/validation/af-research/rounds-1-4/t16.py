"""Round 3: stream detector3.StreamingAf3 with the family-(a) full-fit setting on every record; compare with the grid engine; print figures."""
import pickle, numpy as np, time
from data import load_all
from af_proto import score_new, report
from detector3 import StreamingAf3
from grid import Cat
import grid4
CFG = dict(pw='perL32', pon=0.7, poff=0.85)
C = Cat(); (_, _), af = grid4.evaluate(C, dict(fam='a', cw='ce64', tc=None, **CFG)); d = grid4.feats(C)
rs = []; bad = 0; t0 = time.time()
for i, r in enumerate(load_all()):
    s = StreamingAf3(**CFG); dec = [x for x in (s.push(float(a), float(t)) for a, t in zip(r['rr'], r['t'])) if x is not None]
    dt = np.array([x[0] for x in dec]); drr = np.array([x[1] for x in dec]); daf = np.array([x[2] for x in dec], bool)
    sl = slice(C.bounds[i], C.bounds[i + 1]); g = af[sl][~np.isnan(d['irr'][sl])]
    if not np.array_equal(g, daf): bad += 1; print('MISMATCH', r['name'])
    rs.append(score_new(r, dt, drr, daf))
print('records where streaming != grid:', bad, f'{time.time()-t0:.0f}s')
report('ROUND 3 family (a) full fit, streaming f64: ' + str(CFG), rs)
pickle.dump(rs, open('/tmp/af-proto/final3a_results.pkl', 'wb'))
