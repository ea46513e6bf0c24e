"""Round 4: stream detector4 on every record, compare with grid5 decision for decision, score (centre-beat and validate.rs weighting)."""
import sys, pickle, numpy as np, time
from data import load_all
from af_proto import score_new, report
import score as S
from detector4 import StreamingAf4
from grid import Cat
import grid5
ci = int(sys.argv[1]); G = pickle.load(open('grid_r4.pkl', 'rb')); cfg = G['configs'][ci]; print(cfg)
C = Cat(); _, af = grid5.evaluate(C, cfg); _, valid = grid5.long_af(C)
kw = {k: cfg[k] for k in ('Ws', 'on', 'R', 'mc', 'ps', 'lc')} if cfg['fam'] == 's' else dict(short=False)
rs, rv = [], []; bad = 0; t0 = time.time()
for i, r in enumerate(load_all()):
    s = StreamingAf4(**kw); dj, dec = [], []
    for j, (a, t) in enumerate(zip(r['rr'], r['t'])):
        x = s.push(float(a), float(t))
        if x is not None: dj.append(j); dec.append(x)
    dt = np.array([x[0] for x in dec]); drr = np.array([x[1] for x in dec]); daf = np.array([x[2] for x in dec], bool)
    sl = slice(C.bounds[i], C.bounds[i + 1]); g = af[sl][valid[sl]]
    if not np.array_equal(g, daf): bad += 1; print('MISMATCH', r['name'], len(g), len(daf), (g != daf).sum() if len(g) == len(daf) else '')
    rs.append(score_new(r, dt, drr, daf)); rv.append(S.score(r, np.array(dj), dt, daf))
print('records where streaming != grid:', bad, f'{time.time()-t0:.0f}s')
report(f'ROUND 4 streaming, centre-beat weighting: {cfg}', rs)
report(f'ROUND 4 streaming, validate.rs weighting (rr of the pushed interval): {cfg}', rv)
pickle.dump(dict(cfg=cfg, centre=rs, validate=rv), open(f'/tmp/af-proto/final4_{ci}.pkl', 'wb'))
