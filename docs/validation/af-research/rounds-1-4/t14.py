import numpy as np, cv, pickle
from cv4 import G0, KEYS, val, recfig
G = G0; allm = np.ones(len(G['names']), bool)
bs = cv.summary(G, allm, G['ST'][0], G['EP'][0])
n = G['names']
def afse(ST, r): i = n.index(r); return 100*ST[i,0]/(ST[i,0]+ST[i,1])
for ci, c in enumerate(G['configs']):
    sel = (c['fam']=='a' and c['pon'] in (0.4,0.5,0.6) and c['poff'] in (None,0.8)) or (c['fam']=='b' and c['tc'] >= -2.0 and c['tc'] <= -1.3)
    if not sel: continue
    s = cv.summary(G, allm, G['ST'][ci], G['EP'][ci]); r = recfig(G, G['ST'][ci])
    fails = [k for k, sg in KEYS if sg * (val(s, k) - val(bs, k)) < -1e-9]
    print({k: v for k, v in c.items() if k not in ('fam',) and v is not None}, f"Se {s['Se']:.2f} Sp {s['Sp']:.2f} e10-30 {s['e10-30'][0]} e<10 {s['e<10'][0]} mit {s['mit_fp_min']:.2f} (106 {r['106']:.2f} 208 {r['208']:.2f}) 201/203 {r['201Se']:.2f}/{r['203Se']:.2f} nsr {s['nsr_fp_min']:.2f} 04936 {afse(G['ST'][ci],'04936'):.2f} 04048 {afse(G['ST'][ci],'04048'):.2f} fails {fails}")
