import numpy as np, time, cv
from grid3 import *
C = Cat(); G = dict(names=C.names, dbs=C.dbs, eps_rec=C.eps_rec, eps_dur=C.eps_dur); allm = np.ones(C.nrec, bool)
P = PREV
tests = []
for R, Roff in [(12, 32), (16, 32), (16, 48), (24,32)]:
    for cvn in ['cosen16', 'cosen32']:
      for tce in [-9, -1.8, -1.6]:
        for tp, tpe in [(0.35, 9), (0.35, 0.5), (0.35, 0.6), (0.5, 0.6), (9, 0.6)]:
          tests.append(dict(P, R=R, Roff=Roff, cv=cvn, tc=-1.4, tce=tce, tp=tp, tpe=tpe))
for cfg in tests:
    st, ep = evaluate(C, cfg); s = cv.summary(G, allm, st, ep)
    print({k: v for k, v in cfg.items() if P.get(k) != v}, f"Se {s['Se']:.2f} Sp {s['Sp']:.2f} e<10 {s['e<10'][0]} e10-30 {s['e10-30'][0]} e>=30 {s['e>=30'][0]} mit {s['mit_fp_min']:.1f} mitAF {s['mit_af_Se']:.1f} nsr {s['nsr_fp_min']:.2f}")
