import numpy as np
from common import *
import pet
from streaming import StreamingPetrenas
bad = 0
for cfg in [dict(trend='rm', alpha=0.02, delta=2e-4, eta=0.725, D=0), dict(trend='r', alpha=0.01, delta=2e-4, eta=0.8, D=32)]:
    for R in recs():
        if R.db == 'nsr2db' and R.name != 'nsr001': continue
        af, valid, _ = pet.decisions(R, cfg['trend'], cfg['alpha'], cfg['delta'], cfg['eta'], cfg['D'])
        s = StreamingPetrenas(alpha=cfg['alpha'], delta=cfg['delta'], eta=cfg['eta'], D=cfg['D'], trend=cfg['trend'])
        out = [s.push(float(a), float(t)) for a, t in zip(R.rr, R.t)]
        st = np.array([o[0] for o in out if o is not None]); sa = np.array([o[2] for o in out if o is not None])
        g = af[valid]; gt = R.t[valid]
        if len(g) != len(sa) or not np.array_equal(g, sa) or not np.array_equal(gt, st):
            bad += 1; print('MISMATCH', cfg, R.name, len(g), len(sa), (g != sa).sum() if len(g) == len(sa) else '')
print('mismatching records:', bad)
