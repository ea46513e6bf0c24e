import sys, pickle, numpy as np
sys.path.insert(0,'/tmp/af-clean'); import cv
G=pickle.load(open(sys.argv[1],'rb')); allm=np.ones(len(G['names']),bool)
rows=[]
for ci,c in enumerate(G['configs']):
    s=cv.summary(G,allm,G['ST'][ci],G['EP'][ci]); rows.append((ci,c,s))
b=rows[0][2]
print('BASE', b['Se'],b['Sp'],b['e<10'],b['e10-30'],b['e30-60'],b['mit_fp_min'],b['nsr_fp_min'],G['onsets'][0])
J=cv.objective(G,allm)
ok=[(ci,c,s) for ci,c,s in rows if s['e10-30'][0]>=int(sys.argv[2]) and s['Se']>=97 and s['Sp']>=98 and s['mit_fp_min']<=b['mit_fp_min']+float(sys.argv[3]) and s['nsr_fp_min']<=b['nsr_fp_min']+float(sys.argv[4])]
print(len(ok),'pass')
ok.sort(key=lambda x:-J[x[0]])
for ci,c,s in ok[:40]:
    print(ci,' '.join(f'{k}={v}' for k,v in c.items()),f"Se {s['Se']:.2f} Sp {s['Sp']:.2f} <10 {s['e<10'][0]} 10-30 {s['e10-30'][0]} 30-60 {s['e30-60'][0]} 1-5 {s['e1-5m'][0]} >5 {s['e>=5m'][0]} mit {s['mit_fp_min']:.2f} nsr {s['nsr_fp_min']:.2f} ons {G['onsets'][ci]} J {J[ci]:.3f}")
print('J base',J[0])
