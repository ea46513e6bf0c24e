import numpy as np, cv
G = cv.load(['r4']); allm = np.ones(len(G['names']), bool); n = G['names']
bs = cv.summary(G, allm, G['ST'][0], G['EP'][0]); print('BASE', cv.fmt(bs))
J = cv.objective(G, allm)
rows = []
for ci, c in enumerate(G['configs']):
    s = cv.summary(G, allm, G['ST'][ci], G['EP'][ci]); rows.append((ci, c, s, J[ci]))
def pr(r):
    ci, c, s, j = r
    print(ci, {k: v for k, v in c.items() if k != 'fam'}, f"J {j:.2f} Se {s['Se']:.2f} Sp {s['Sp']:.2f} e<10 {s['e<10'][0]} e10-30 {s['e10-30'][0]} e30-60 {s['e30-60'][0]} mit {s['mit_fp_min']:.2f} nsr {s['nsr_fp_min']:.2f}")
for tol in [0, 0.25, 0.5, 1.0]:
    ok = [r for r in rows if r[2]['mit_fp_min'] <= bs['mit_fp_min'] + tol + 1e-9 and r[2]['nsr_fp_min'] <= bs['nsr_fp_min'] + tol + 1e-9]
    ok.sort(key=lambda r: -r[3])
    print(f'--- tol {tol} min: {len(ok)} pass; top by J')
    for r in ok[:8]: pr(r)
