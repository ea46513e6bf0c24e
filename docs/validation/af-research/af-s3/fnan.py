import sys, pickle, numpy as np
sys.path.insert(0,'/tmp/af-bd'); sys.path.insert(0,'/tmp/af-clean')
import beng, score as S
recs = pickle.load(open('/tmp/af-proto/cache_data.pkl','rb'))
F = pickle.load(open('/tmp/af-bd/feats.pkl','rb'))
R=pickle.load(open('rep_3_0.03.pkl','rb'))
for i,r in enumerate(recs):
    if r['db']!='afdb': continue
    oj,ot,E,P,N=F[i]; daf,_=beng.machine(E,P,N,0.07,0.05,16,16,True)
    tr=S.truth_at(ot,r['spans']); fn=tr&~daf; w=r['rr'][oj]/1000/60
    if w[fn].sum()<1: continue
    c=dict(conc=w[fn&(E==0)].sum(), low=w[fn&(E>0)&(E<=0.07)].sum(), per=w[fn&(E>0.07)&(P>0.7)].sum(), noise=w[fn&N].sum(), other=w[fn&(E>0.07)&(P<=0.7)&~N].sum())
    print(r['name'], f'{w[fn].sum():.1f}', {k:round(v,1) for k,v in c.items()})
    # missed episodes 10-30s
    for a,b in r['spans']:
        if 10<=b-a<30:
            m=(ot>=a)&(ot<b)
            print('   ep',round(a),round(b-a),'found',daf[m].any(),'E',np.round(E[m].max() if m.any() else -1,3),'Pmin',np.round(P[m].min() if m.any() else -1,2),'rep',np.round(R[r['name']][m].min() if m.any() else -1,2))
