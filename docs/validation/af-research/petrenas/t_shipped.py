import pickle, numpy as np, time
from common import *
t0=time.time(); F1,F4=load_feats(); Rs=recs(); print('load',time.time()-t0)
SH={}; per=[]
for R in Rs:
    af,valid=shipped(R,F1,F4); SH[R.name]=(af,valid); per.append(stats_rec(R,af,valid,31))
print('ran',time.time()-t0)
print('validate:', fmt(summary(per,'v')))
print('centre  :', fmt(summary(per,'c')))
pickle.dump(SH,open('/tmp/af-petrenas/shipped.pkl','wb'))
