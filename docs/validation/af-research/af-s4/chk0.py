# verify config 0 of machine2 == grid3 shipped machine + S.score
import sys, pickle, numpy as np
sys.argv=['x','chk']
sys.path.insert(0,'/tmp/af-s3'); sys.path.insert(0,'/tmp/af-clean'); sys.path.insert(0,'/tmp/af-s4')
exec(open('/tmp/af-s4/grid4.py').read().split('names = [r')[0].replace('cache=True','cache=False'))
import importlib
src=open('/tmp/af-s3/grid3.py').read(); ns={}
exec(src.split('names=[r')[0].replace('cache=True','cache=False'), ns)
tot=np.zeros(4); tot2=np.zeros(4); bad=0
for i,r in enumerate(recs):
    oj,ot,E,P,N=F[i]; x=SR[r['name']].astype(float)
    d1,o1=ns['machine'](E,P,N,REP[r['name']],0.45,0.6,0.07,0.045,16,16)
    d2,o2=machine2(E,P,N,REP[r['name']],x[:,1,0],x[:,1,1],x[:,1,2],x[:,1,3],9.0,0.35,9.0,9.0,99,0.0,8,0)
    bad+= (d1!=d2).sum()+(o1!=o2)
    s=S.score(r,oj,ot,d1); st,ep=fscore(i,d2)
    assert np.allclose([s['tp'],s['fn'],s['tn'],s['fp']],st) and [e[2] for e in s['episodes']]==ep
print('mismatch',bad)
