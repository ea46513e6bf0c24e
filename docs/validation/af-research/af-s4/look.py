import sys, pickle, numpy as np
sys.path.insert(0,'/tmp/af-clean'); import score as S
recs = pickle.load(open('/tmp/af-proto/cache_data.pkl','rb')); F = pickle.load(open('/tmp/af-bd/feats.pkl','rb'))
D = pickle.load(open('sfeat.pkl','rb')); R=D['R']; SS=D['SS']
REP = pickle.load(open('/tmp/af-s3/rep_3_0.03.pkl','rb'))
for si,Sz in enumerate(SS):
    print('== S',Sz)
    for i,r in enumerate(recs):
        if r['db']!='afdb': continue
        oj,ot,E,P,N=F[i]; x=R[r['name']][:,si]
        for a,b in r['spans']:
            if 10<=b-a<30:
                k=(ot>=a)&(ot<b)
                if not k.any(): continue
                j=np.argmax(x[k,0]); 
                print(f"  {r['name']} {a:.0f} {b-a:.0f}s irr {x[k,0].max():.3f} conc {x[k,1][j]:.2f} pre {x[k,2][j]:.3f} reps {x[k,3][j]:.2f} | n>0.08 {np.sum(x[k,0]>0.08)} EFF {E[k].max():.3f} REP {REP[r['name']][k].min():.2f} NZ {N[k].sum()}")
    # false candidate time
    for th in (0.06,0.08,0.10,0.12):
        out=[]
        for db in ('afdb','mitdb','nsr'):
            tot=0
            for i,r in enumerate(recs):
                if not r['db'].startswith(db[:3]) and not (db=='nsr' and r['db']=='chf2db'): continue
                if db=='mitdb' and r['name'] in ('201','203'): continue
                oj,ot,E,P,N=F[i]; x=R[r['name']][:,si]; tr=S.truth_at(ot,r['spans'])
                w=r['rr'][oj]/60000
                c=(~tr)&(~N)&(x[:,0]>th)&(x[:,1]<0.35)&(x[:,3]<=0.3)&(x[:,2]<0.04)
                tot+=w[c].sum()
            out.append(f'{db} {tot:.1f}')
        print('  th',th,' '.join(out))
