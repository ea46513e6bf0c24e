import numpy as np, time, cv
from grid3 import *
C = Cat(); G = dict(names=C.names, dbs=C.dbs, eps_rec=C.eps_rec, eps_dur=C.eps_dur); allm = np.ones(C.nrec, bool)
P = PREV
tests = []
for R in [8, 12, 16, 24]:
    for g in [dict(cv='cosen32', tc=-1.4), dict(cv='cosen16', tc=-1.4), dict(cv='cosen12', tc=-1.4), dict(tp=0.35), dict(cv='cosen32', tc=-1.4, tp=0.35), dict(cv='cosen32', tc=-1.4, tp=0.5)]:
        tests.append(dict(P, R=R, **g))
for cfg in tests:
    st, ep = evaluate(C, cfg); s = cv.summary(G, allm, st, ep)
    print({k: v for k, v in cfg.items() if P.get(k) != v}, f"Se {s['Se']:.2f} Sp {s['Sp']:.2f} e<10 {s['e<10'][0]} e10-30 {s['e10-30'][0]} e>=30 {s['e>=30'][0]} mit {s['mit_fp_min']:.1f} mitAF {s['mit_af_Se']:.1f} nsr {s['nsr_fp_min']:.2f}")
