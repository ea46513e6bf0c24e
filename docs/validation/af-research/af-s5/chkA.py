import sys, pickle, numpy as np
sys.path.insert(0,'/tmp/af-s4'); sys.path.insert(0,'/tmp/af-clean'); sys.path.insert(0,'/tmp/af-s3')
from sfeat import sfeats
import score as S
src=open('/tmp/af-s4/grid6.py').read()
ns={}
exec(src.split('# fast scorer precompute')[0].replace('cache=True','cache=False'), ns)
recs=ns['recs']; F=ns['F']; REP=ns['REP']; machine2=ns['machine2']
tot32=np.zeros(4); tot64=np.zeros(4)
for i,r in enumerate(recs):
    if r['db']!='afdb': continue
    oj,ot,E,P,N=F[i]
    x64=sfeats(r['rr'].astype(float), r['t'].astype(float), np.array([12],np.int64))[:,0,:]
    x32=ns['SR'][r['name']][:,0,:].astype(float)
    for x,tot in ((x32,tot32),(x64,tot64)):
        daf,o=machine2(E,P,N,REP[r['name']],x[:,0],x[:,1],x[:,2],x[:,3],x[:,4],x[:,5],0.10,0.35,9.0,0.2,12,0.06,12,0,0.7,0.35,9.0,0)
        s=S.score(r,oj,ot,daf); tot+= [s['tp'],s['fn'],s['tn'],s['fp']]
for nm,t in (('f32',tot32),('f64',tot64)):
    print(nm, 'Se %.2f Sp %.2f'%(100*t[0]/(t[0]+t[1]), 100*t[2]/(t[2]+t[3])))
