import numpy as np, pickle
from common import *
import pet
SH = pickle.load(open('shipped.pkl','rb'))
P = dict(alpha=0.02, delta=2e-4, eta=0.725)
for nm, cfg in [('causal trend=rm D=0', dict(P, trend='rm', D=0)), ('causal trend=r D=0', dict(P, trend='r', D=0)),
                ('forward-backward (offline) trend=r', dict(P, trend='r', D=0, fb=True)),
                ('forward-backward (offline) trend=rm', dict(P, trend='rm', D=0, fb=True))]:
    per = pet.run(cfg)
    print(nm); print('  centre  :', fmt(summary(per,'c'))); print('  validate:', fmt(summary(per,'v')))
    rs = recs()
    print('  afdb per rec Se/Sp:', ' '.join(f"{r.name}:{100*p['c'][0]/max(p['c'][0]+p['c'][1],1e-9):.1f}/{100*p['c'][2]/max(p['c'][2]+p['c'][3],1e-9):.1f}" for r,p in zip(rs,per) if r.db=='afdb'))
    print('  mitdb fp min:', ' '.join(f"{r.name}:{p['c'][3]/60:.1f}" for r,p in zip(rs,per) if r.db=='mitdb' and p['c'][3]>0))
    print('  nsr/chf fp min:', ' '.join(f"{r.name}:{p['c'][3]/60:.2f}" for r,p in zip(rs,per) if r.db in ('nsr2db','chf2db')))
