import numpy as np, grid5, grid4
from grid import Cat
C = Cat(); la, valid = grid5.long_af(C)
rr = C.w * 1000
cfg = dict(fam='s', Ws=16, on=0.1, R=6, mc=0.35, ps=0.5, lc=None)
sa = grid5.short_af(C, cfg) & valid & ~la
tr = C.truth; db = np.array(C.dbs)[C.rid]
for nm, m in [('TP', sa & tr), ('FP afdb', sa & ~tr & (db == 'afdb')), ('FP mitdb', sa & ~tr & (db == 'mitdb')), ('FP nsr/chf', sa & ~tr & np.isin(db, ['nsr2db', 'chf2db'])), ('true AF all', tr & valid), ('nonAF afdb all', ~tr & valid & (db=='afdb'))]:
    print(nm, m.sum(), 'RR pct 10/50/90', np.percentile(rr[m], [10, 50, 90]).round(0))
