import pickle, numpy as np, sys
recs = pickle.load(open('/tmp/af-proto/cache_data.pkl','rb'))
D=pickle.load(open('sfeat.pkl','rb'))['R']; F=pickle.load(open('/tmp/af-bd/feats.pkl','rb'))
for it in sys.argv[1:]:
    name,t0,dur=it.split(':'); t0=float(t0); dur=float(dur)
    i=[k for k,x in enumerate(recs) if x['name']==name][0]; r=recs[i]
    t=r['t']; a=np.searchsorted(t,t0-10); b=np.searchsorted(t,t0+dur+10)
    sp=[s for s in r['spans'] if s[1]>t0-60 and s[0]<t0+dur+60]
    print(name,t0,'spans',[(round(x),round(y)) for x,y in sp])
    print('  ',' '.join(f'{x:.0f}' for x in r['rr'][a:b]))
    oj,ot,E,P,N=F[i]; q=np.flatnonzero((ot>=t0)&(ot<=t0+dur))
    x=D[name][q,0]
    print('   irr12',np.round(x[:,0],2)[::2],' pre',np.round(x[:,2],3)[::4],' reps',np.round(x[:,3],2)[::4], 'PER',np.round(P[q],2)[::4])
