import sys, pickle, numpy as np
sys.path.insert(0, '/tmp/af-clean'); import cv
G = pickle.load(open('grid.pkl','rb')); allm = np.ones(len(G['names']), bool)
S = [cv.summary(G, allm, G['ST'][i], G['EP'][i]) for i in range(len(G['configs']))]
for i, c in enumerate(G['configs']):
    if c['on']==.07 and c['off']==.05 and c['ron']==c['roff'] and c['bd']:
        s=S[i]; print(c['ron'], f"Se {s['Se']:.2f} Sp {s['Sp']:.2f} <10 {s['e<10']} 10-30 {s['e10-30']} mit {s['mit_fp_min']:.2f} nsr {s['nsr_fp_min']:.2f}")
print('max Sp', max(s['Sp'] for s in S), 'max Se', max(s['Se'] for s in S))
ok=[i for i,s in enumerate(S) if s['mit_fp_min']<=16.27 and s['nsr_fp_min']<=0.7553 and s['e10-30'][0]>=12]
print('mit<=16.27,nsr<=.755,10-30>=12:', len(ok))
ok=[i for i,s in enumerate(S) if s['mit_fp_min']<=16.27 and s['nsr_fp_min']<=0.7553]
for i in sorted(ok, key=lambda i:-(S[i]['Se']+S[i]['Sp']))[:5]:
    s=S[i]; print(G['configs'][i], f"Se {s['Se']:.2f} Sp {s['Sp']:.2f} 10-30 {s['e10-30']} <10 {s['e<10']} mit {s['mit_fp_min']:.2f} nsr {s['nsr_fp_min']:.2f}")
print('max 10-30', max(s['e10-30'][0] for s in S), 'count Se>=97&Sp>=98', sum(s['Se']>=97 and s['Sp']>=98 for s in S))
