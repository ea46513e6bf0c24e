import sys, pickle, numpy as np
sys.path.insert(0,'/tmp/af-bd'); sys.path.insert(0,'/tmp/af-clean')
import beng, score as S
recs = pickle.load(open('/tmp/af-proto/cache_data.pkl','rb'))
F = pickle.load(open('/tmp/af-bd/feats.pkl','rb'))
name=sys.argv[1]
i=[x['name'] for x in recs].index(name); r=recs[i]
oj,ot,E,P,N=F[i]
daf,_=beng.machine(E,P,N,0.07,0.05,16,16,True)
tr=S.truth_at(ot,r['spans'])
fp=~tr&daf
# episodes of fp
d=np.diff(np.r_[0,fp.astype(int),0]); st=np.where(d==1)[0]; en=np.where(d==-1)[0]
for a,b in zip(st,en):
    print(f'FP {ot[a]:.0f}-{ot[b-1]:.0f}s  {ot[b-1]-ot[a]:.0f}s  E med {np.median(E[a:b]):.3f} P med {np.median(P[a:b]):.2f}')
if len(sys.argv)>2:
    t0=float(sys.argv[2]); j=np.searchsorted(r['t'],t0)
    print(' '.join(f'{x:.0f}' for x in r['rr'][j-10:j+90]))
