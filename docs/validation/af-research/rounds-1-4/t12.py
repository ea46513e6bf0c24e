import pickle, numpy as np
from data import load_all
from detector2 import StreamingAf2
from grid3 import base_feats
from grid import Cat
C = Cat(); d = base_feats(C, 32); i = C.names.index('106'); lo = C.bounds[i]
r = [x for x in load_all() if x['name']=='106'][0]
s = StreamingAf2(**pickle.load(open('final2.pkl','rb')))
ok = (r['rr']>=200)&(r['rr']<=3000); rr = r['rr'][ok]
n = 0
for j in range(len(rr)):
    s.rr.append(rr[j]); s.t.append(0.0)
    if len(s.rr) < 35: continue
    irr, conc, ce, per = s.features(); c = lo + j - 15
    g = (d['irr'][c], d['conc'][c], d['cosen32'][c], d['per'][c])
    if any(abs(a-b) > 1e-4 for a, b in zip((irr, conc, ce, per), g)):
        n += 1
        if n < 6: print(j, (irr, conc, ce, per), g)
print('mismatches', n, 'oor', (~ok).sum())
from grid3 import decide3, gates
cfg = pickle.load(open('cv3.pkl','rb'))['all']['full']
gon, gex = gates(d, cfg)
sl = slice(lo, C.bounds[i+1])
af = decide3(d['irr'][sl].copy(), d['irr'][sl].copy(), d['conc'][sl].copy(), gon[sl].copy(), gex[sl].copy(), np.array([0, len(rr)]), cfg['on'], cfg['off'], cfg['mc'], 0.35, cfg['R'], cfg['Roff'], 1)
s = StreamingAf2(**pickle.load(open('final2.pkl','rb'))); dec = []
for x, t in zip(r['rr'], r['t']): dec += s.push(float(x), float(t))
dec += s.flush(); saf = np.array([x[2] for x in dec])
gaf = af[~np.isnan(d['irr'][sl])]
print(len(saf), len(gaf)); k = np.flatnonzero(saf != gaf); print(k[:5], len(k))
if len(k):
    c0 = k[0] + 15
    for c in range(c0-30, c0+3):
        x = dec[c-15]; print(c, 'stream', x[2], 'irr %.4f conc %.3f ce %.3f per %.3f noise %s' % tuple(x[3:8]), '| grid', af[c], gon[lo+c], gex[lo+c], '%.4f %.4f %.4f' % (d['irr'][lo+c], d['cosen32'][lo+c], d['per'][lo+c]))
print('---')
for k in range(1921, 1992):
    c = k + 19; x = dec[k]
    sw = (x[3] > 0.08 if x[4] < 0.4 else False) and x[5] > -1.6 and x[6] <= 0.5
    print(k, 'S', x[2], int(sw), '%.4f %.3f %.3f' % (x[3], x[5], x[6]), '| G', af[c], int(gon[lo+c] and d['irr'][lo+c] > 0.08 and d['conc'][lo+c] < 0.4), '%.4f %.3f %.3f' % (d['irr'][lo+c], d['cosen32'][lo+c], d['per'][lo+c]))
