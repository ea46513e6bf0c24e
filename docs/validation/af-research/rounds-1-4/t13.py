import numpy as np, cv, pickle
from cv4 import G0, KEYS, val, recfig
G = G0; allm = np.ones(len(G['names']), bool)
bs = cv.summary(G, allm, G['ST'][0], G['EP'][0])
rows = []
for ci, c in enumerate(G['configs']):
    s = cv.summary(G, allm, G['ST'][ci], G['EP'][ci])
    fails = [k for k, sg in KEYS if sg * (val(s, k) - val(bs, k)) < -1e-9]
    rows.append((ci, c, s, fails, recfig(G, G['ST'][ci])))
for fam in 'abc':
    ok = [r for r in rows if r[1]['fam'] == fam and not r[3]]
    ok.sort(key=lambda r: r[2]['mit_fp_min'])
    print(fam, 'pass screen on all data:', len(ok), 'of', sum(r[1]['fam'] == fam for r in rows))
    for r in ok[:8]:
        s = r[2]; print('  ', {k: v for k, v in r[1].items() if k != 'fam'}, f"Se {s['Se']:.2f} Sp {s['Sp']:.2f} mit {s['mit_fp_min']:.2f} 106 {r[4]['106']:.2f} 208 {r[4]['208']:.2f} nsr {s['nsr_fp_min']:.2f}")
    # best mitdb overall and what fails
    al = [r for r in rows if r[1]['fam'] == fam]; al.sort(key=lambda r: r[2]['mit_fp_min'])
    print('  lowest mitdb regardless:')
    for r in al[:6]:
        s = r[2]; print('  ', {k: v for k, v in r[1].items() if k != 'fam'}, f"Se {s['Se']:.2f} Sp {s['Sp']:.2f} e10-30 {s['e10-30']} e<10 {s['e<10']} mit {s['mit_fp_min']:.2f} 106 {r[4]['106']:.2f} 208 {r[4]['208']:.2f} nsr {s['nsr_fp_min']:.2f} fails {r[3]}")
