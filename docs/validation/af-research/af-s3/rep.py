import sys, pickle, numpy as np, math
from numba import njit
sys.path.insert(0,'/tmp/af-bd'); sys.path.insert(0,'/tmp/af-clean')
import beng, score as S
recs = pickle.load(open('/tmp/af-proto/cache_data.pkl','rb'))
F = pickle.load(open('/tmp/af-bd/feats.pkl','rb'))
L=67; W=64
@njit(cache=True)
def rep(rr, t, oj_len, dim, delta):
    n=len(rr); idx=np.empty(n,np.int64); m=0
    for j in range(n):
        x=rr[j]
        if x>=200.0 and x<=3000.0 and math.isfinite(t[j]):
            idx[m]=j; m+=1
    nd=max(m-L+1,0); out=np.empty(nd)
    win=np.empty(L)
    for q in range(nd):
        for i in range(L): win[i]=rr[idx[q+i]]
        cnt=0; tot=0
        for i in range(L-W+dim-1, L):
            tot+=1
            found=False
            for j in range(L-W+dim-1, L):
                if j==i: continue
                ok=True
                for k in range(dim):
                    a=win[i-k]; b=win[j-k]
                    if abs(a-b)>delta*(a+b)*0.5:
                        ok=False; break
                if ok:
                    found=True; break
            if found: cnt+=1
        out[q]=cnt/tot
    return out
dim=int(sys.argv[1]); delta=float(sys.argv[2])
R={}
for i,r in enumerate(recs):
    oj,ot,E,P,N=F[i]
    x=rep(r['rr'].astype(float), r['t'].astype(float), len(oj), dim, delta)
    R[r['name']]=x
pickle.dump(R,open(f'rep_{dim}_{delta}.pkl','wb'))
# distributions
cats={'TP':[], 'FP':[], 'FN':[], 'mitFP':[], 'TNirr':[]}
for i,r in enumerate(recs):
    oj,ot,E,P,N=F[i]
    daf,_=beng.machine(E,P,N,0.07,0.05,16,16,True)
    tr=S.truth_at(ot,r['spans']); x=R[r['name']]
    w=r['rr'][oj]/1000
    if r['db']=='afdb':
        cats['TP'].append((x[tr&daf],w[tr&daf])); cats['FP'].append((x[~tr&daf],w[~tr&daf])); cats['FN'].append((x[tr&~daf],w[tr&~daf]))
    elif r['db']=='mitdb':
        cats['mitFP'].append((x[~tr&daf],w[~tr&daf]))
for k,v in cats.items():
    if not v: continue
    x=np.concatenate([a for a,b in v]); w=np.concatenate([b for a,b in v])
    if len(x)==0: continue
    qs=[0.5,0.75,0.9,0.95,0.99]
    tot=w.sum()/60
    line=' '.join(f'>{th}:{w[x>th].sum()/60:.1f}' for th in [0.3,0.4,0.5,0.6,0.7,0.8])
    print(k, f'{tot:.1f} min', 'q', np.round(np.quantile(x,qs),2), line)
