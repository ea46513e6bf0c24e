import cv, numpy as np
for tag in ['single', 'q']:
    G = cv.load([tag]); allm = np.ones(len(G['names']), bool)
    J = cv.objective(G, allm)
    rows = []
    for ci in range(len(G['configs'])):
        s = cv.summary(G, allm, G['ST'][ci], G['EP'][ci])
        if s['Se'] >= 96.66 and s['Sp'] >= 97.20 and s['e10-30'][0] >= 9 and s['e>=30'][0] >= 125 and s['mit_fp_min'] <= 22.97 and s['mit_af_Se'] >= 98.97 and s['nsr_fp_min'] <= 0.76 and s['e<10'][0] >= 4:
            rows.append((J[ci], ci, s))
    rows.sort(key=lambda x: -x[0])
    print(tag, len(rows))
    for j, ci, s in rows[:6]:
        print(round(j, 2), G['configs'][ci]); print('   ', cv.fmt(s))
