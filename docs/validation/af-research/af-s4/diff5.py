import sys, pickle, numpy as np
exec(open('/tmp/af-s4/grid5.py').read().split('names = [r')[0].replace('cache=True','cache=False'))
ci=int(sys.argv[1]); G=pickle.load(open(sys.argv[2] if len(sys.argv)>2 else 'grid4.pkl','rb')); c=G['configs'][ci]; print(c)
si=SS.index(c['S'])
for i,r in enumerate(recs):
    oj,ot,E,P,N=F[i]; x=SR[r['name']].astype(float); rp=REP[r['name']]
    d0,_=machine2(E,P,N,rp,x[:,si,0],x[:,si,1],x[:,si,2],x[:,si,3],x[:,si,4],x[:,si,5],9.0,0.35,9.0,9.0,99,0.0,8,0,9.0,0.0,9.0)
    d1,_=machine2(E,P,N,rp,x[:,si,0],x[:,si,1],x[:,si,2],x[:,si,3],x[:,si,4],x[:,si,5],c['son'],c['sconc'],c['spre'],c['srep'],c['runs'],c['soff'],c['sroff'],c['mo'],c['sper'],c['smin'],c['srate'])
    w,tr,rng=PRE[i]
    dd=d1&~d0; rd=d0&~d1
    if not (dd.any() or rd.any()): continue
    # segments of added
    e=np.flatnonzero(np.diff(np.r_[0,dd.astype(int),0]))
    segs=[(e[k],e[k+1]) for k in range(0,len(e),2)]
    out=[]
    for a,b in segs:
        fp=w[a:b][~tr[a:b]].sum(); tp=w[a:b][tr[a:b]].sum()
        adj = (a>0 and d0[a-1]) or (b<len(d0) and d0[b])
        out.append(f"{ot[a]:.0f}+{ot[b-1]-ot[a]:.0f}s tp{tp:.0f} fp{fp:.0f}{' adj' if adj else ''}")
    print(r['db'],r['name'],'addFP %.1f addTP %.1f remTP %.1f remFP %.1f'%(w[dd&~tr].sum(),w[dd&tr].sum(),w[rd&tr].sum(),w[rd&~tr].sum()),'|',' ; '.join(out[:12]))
