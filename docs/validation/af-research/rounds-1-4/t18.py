import numpy as np, cv, pickle
G = cv.load(['r4']); allm = np.ones(len(G['names']), bool)
bs = cv.summary(G, allm, G['ST'][0], G['EP'][0]); print('BASE', cv.fmt(bs))
rows = []
for ci, c in enumerate(G['configs']):
    s = cv.summary(G, allm, G['ST'][ci], G['EP'][ci]); rows.append((ci, c, s))
rows.sort(key=lambda r: (-r[2]['e10-30'][0], r[2]['mit_fp_min']))
for ci, c, s in rows[:60]:
    print(ci, {k: v for k, v in c.items() if k != 'fam'}, f"Se {s['Se']:.2f} Sp {s['Sp']:.2f} e<10 {s['e<10'][0]} e10-30 {s['e10-30'][0]} e30-60 {s['e30-60'][0]} mit {s['mit_fp_min']:.2f} nsr {s['nsr_fp_min']:.2f} afSe {s['mit_af_Se']:.2f}")
