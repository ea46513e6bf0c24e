import sys, pickle, numpy as np, itertools
from numba import njit
sys.path.insert(0,'/tmp/af-bd'); sys.path.insert(0,'/tmp/af-clean')
import beng, score as S, cv
recs = pickle.load(open('/tmp/af-proto/cache_data.pkl','rb'))
F = pickle.load(open('/tmp/af-bd/feats.pkl','rb'))
@njit(cache=True)
def machine(EFF, PER, NZ, REP, r_on, r_off):
    nd=len(EFF); oaf=np.zeros(nd,np.bool_); in_af=False; run=0; frm=0; ons=0
    for q in range(nd):
        if NZ[q]: wants=False
        elif in_af: wants = EFF[q]<0.05 or PER[q]>0.85 or REP[q]>r_off
        else: wants = EFF[q]>0.07 and PER[q]<=0.70 and REP[q]<=r_on
        if wants:
            if run==0: frm=q
            run+=1
        else: run=0
        if run>=16:
            run=0; in_af=not in_af
            if in_af: ons+=1
            for p in range(frm,q): oaf[p]=in_af
        oaf[q]=in_af
    return oaf, ons
names=[r['name'] for r in recs]; dbs=[r['db'] for r in recs]
er,ed=[],[]
for i,r in enumerate(recs):
    for a,b in r['spans']:
        bb=min(b,r['t'][-1]) if np.isinf(b) else b
        er.append(i); ed.append(bb-a)
cfgs=[dict(d=0.03,on=9.0,off=9.0)]
for d in (0.03,0.04):
    R=pickle.load(open(f'rep_3_{d}.pkl','rb'))
for d,on,off in itertools.product((0.03,0.04),(0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.7,9.0),(0.5,0.6,0.7,0.8,0.9,9.0)):
    c=dict(d=d,on=on,off=off)
    if c not in cfgs and not (on==9.0 and off==9.0): cfgs.append(c)
REPS={d:pickle.load(open(f'rep_3_{d}.pkl','rb')) for d in (0.03,0.04)}
STs,EPs,ONs=[],[],[]
for c in cfgs:
    ST=np.zeros((len(recs),4)); EP=[]; ons=0
    for i,r in enumerate(recs):
        oj,ot,E,P,N=F[i]
        daf,o=machine(E,P,N,REPS[c['d']][r['name']],c['on'],c['off'])
        s=S.score(r,oj,ot,daf)
        ST[i]=[s['tp'],s['fn'],s['tn'],s['fp']]; EP+=[e[2] for e in s['episodes']]
        if r['db']=='afdb': ons+=o
    STs.append(ST); EPs.append(EP); ONs.append(ons)
G=dict(configs=cfgs,ST=np.array(STs),EP=np.array(EPs,bool),onsets=ONs,names=names,dbs=dbs,eps_rec=np.array(er),eps_dur=np.array(ed))
pickle.dump(G,open('grid.pkl','wb'))
allm=np.ones(len(names),bool)
fmt=lambda s:' '.join(f'{k} {v[0]}/{v[1]}' if isinstance(v,tuple) else f'{k} {v:.2f}' for k,v in s.items() if k not in ('mit_n',))
for ci,c in enumerate(cfgs):
    s=cv.summary(G,allm,G['ST'][ci],G['EP'][ci])
    print(c, fmt(s), 'ons', ONs[ci])
