import numpy as np, pickle, sys
sys.path.insert(0, '/tmp/af-zhou')
import zgrid as Zg, cv
C = Zg.C; res = pickle.load(open('zcv.pkl', 'rb'))
F = cv.folds(dict(names=C.names, dbs=C.dbs))
afi = [i for i, d in enumerate(C.dbs) if d == 'afdb']
def ons(cfg, recs):
    _, af, val = Zg.evaluate(cfg); on = 0; unj = 0
    for i in recs:
        sl = slice(C.bounds[i], C.bounds[i + 1]); x = af[sl][val[sl]]
        on += int(np.count_nonzero(x[1:] & ~x[:-1]) + (1 if len(x) and x[0] else 0)); unj += C.w[sl][~val[sl]].sum()
    return on, unj
for key, r in res.items():
    cvon = 0
    for i in afi:
        c = r['chosen'][F[i]]; cvon += ons(c, [i])[0]
    print(key, 'CV afdb onsets', cvon, '| FULL', r['full'], 'onsets/unjudged s', ons(r['full'], afi))
for c in [dict(fam='z', v='d14', Wn=127, thr=0.353, M=1), dict(fam='z', v='hr', Wn=127, thr=0.639, M=1)]:
    print('PAPER', c, 'onsets/unjudged s', ons(c, afi))
