import sys, pickle, numpy as np
sys.path.insert(0,'/tmp/af-bd'); sys.path.insert(0,'/tmp/af-clean')
import beng, score as S
recs = pickle.load(open('/tmp/af-proto/cache_data.pkl','rb'))
F = pickle.load(open('/tmp/af-bd/feats.pkl','rb'))
def rhythms(name):
    out=[]
    for line in open(f'/work/shared/data/afdb/atr{name}.txt').readlines()[1:]:
        p=line.split()
        mm,ss=p[0].split(':') if p[0].count(':')==1 else (None,None)
        parts=[float(x) for x in p[0].split(':')]
        t=0
        for x in parts: t=t*60+x
        out.append((t,p[-1]))
    return out
TOT={}
for i,r in enumerate(recs):
    if r['db']!='afdb': continue
    oj,ot,E,P,N=F[i]
    daf,_=beng.machine(E,P,N,0.07,0.05,16,16,True)
    w=r['rr'][oj]/1000.0
    rh=rhythms(r['name']); rt=np.array([x[0] for x in rh]); lab=[x[1] for x in rh]
    k=np.searchsorted(rt,ot,'right')-1
    labs=np.array([lab[j] if j>=0 else '(N' for j in k])
    tr=S.truth_at(ot,r['spans'])
    bounds=np.array([b for s in r['spans'] for b in s if np.isfinite(b)])
    dist=np.min(np.abs(ot[:,None]-bounds[None,:]),axis=1) if len(bounds) else np.full(len(ot),1e9)
    fp=~tr&daf; fn=tr&~daf
    res={}
    for L in ['(N','(AFL','(J']:
        m=fp&(labs==L)
        res['fp'+L+'near']=w[m&(dist<60)].sum()/60; res['fp'+L+'far']=w[m&(dist>=60)].sum()/60
    res['fn_near']=w[fn&(dist<60)].sum()/60; res['fn_far']=w[fn&(dist>=60)].sum()/60
    print(r['name'],' '.join(f'{k}={v:.1f}' for k,v in res.items() if v>0.05))
    for k,v in res.items(): TOT[k]=TOT.get(k,0)+v
print('TOTAL min',' '.join(f'{k}={v:.1f}' for k,v in TOT.items()))
