import sys, pickle, numpy as np
recs = pickle.load(open('/tmp/af-proto/cache_data.pkl','rb'))
for name,a0 in [('04048',11995),('04936',4094),('04936',9979),('04936',23926),('06426',24695),('06995',15157)]:
    r=[x for x in recs if x['name']==name][0]
    sp=[s for s in r['spans'] if abs(s[0]-a0)<2][0]
    t=r['t']; i=np.searchsorted(t,sp[0]); k=np.searchsorted(t,sp[1])
    pre=r['rr'][max(i-25,0):i]; ep=r['rr'][i:k]; post=r['rr'][k:k+25]
    print(name, round(sp[0]), round(sp[1]-sp[0],1),'s', len(ep),'beats')
    print('  pre ',' '.join(f'{x:.0f}' for x in pre))
    print('  AF  ',' '.join(f'{x:.0f}' for x in ep))
    print('  post',' '.join(f'{x:.0f}' for x in post))
