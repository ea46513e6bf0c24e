"""Grid: shipped long path (grid3 machine, r_on .45 r_off .6 on .07 off .045 ron=roff=16) + optional short companion onset path.
config 0 = shipped (short path off)."""
import sys, pickle, numpy as np, itertools, time
from numba import njit
sys.path.insert(0,'/tmp/af-clean'); import score as S, cv
recs = pickle.load(open('/tmp/af-proto/cache_data.pkl','rb')); F = pickle.load(open('/tmp/af-bd/feats.pkl','rb'))
D = pickle.load(open('sfeat.pkl','rb')); SR = D['R']; SS = D['SS']
REP = pickle.load(open('/tmp/af-s3/rep_3_0.03.pkl','rb'))
R_ON, R_OFF, ON, OFF, RON, ROFF = 0.45, 0.6, 0.07, 0.045, 16, 16
@njit(cache=True)
def machine2(EFF, PER, NZ, REP, IS, CS, PS, QS, MS, RS, son, sconc, spre, srep, runs, soff, sroff, mode_off, sper, smin, srate, trim):
    """mode 0 = not AF, 1 = AF via long path (offset exactly as shipped), 2 = AF via short path.
    short onset wants: IS>son & CS<sconc & PS<spre & QS<=srep. In mode 2 offset wants: IS<soff (or CS>=sconc)
    and not long-onset-wants; mode_off=1 additionally allows the shipped long offset test to end a short episode
    only when the short window is regular too (same thing), mode_off=0: short-regular alone.
    Long onset run reaching RON while in mode 2 upgrades to mode 1.
    grid6: trim = short-path onset back-dated only to (first wanting decision + trim).
    grid5 gates: PER<=sper (periodicity, as long onset), MINs>=smin (no implausibly short RR), RATEs<=srate (rate rise vs preceding sinus)."""
    nd = len(EFF); oaf = np.zeros(nd, np.bool_); mode = 0
    rl = 0; fl = 0; rs = 0; fs = 0; ro = 0; fo = 0; ons = 0
    for q in range(nd):
        lw = (not NZ[q]) and EFF[q] > ON and PER[q] <= 0.70 and REP[q] <= R_ON
        sw = (not NZ[q]) and IS[q] > son and CS[q] < sconc and PS[q] < spre and QS[q] <= srep and PER[q] <= sper and MS[q] >= smin and RS[q] <= srate
        if mode == 0:
            if lw:
                if rl == 0: fl = q
                rl += 1
            else: rl = 0
            if sw:
                if rs == 0: fs = q
                rs += 1
            else: rs = 0
            if rl >= RON:
                mode = 1; ons += 1
                for p in range(fl, q): oaf[p] = True
                rl = 0; rs = 0; ro = 0
            elif rs >= runs:
                mode = 2; ons += 1
                for p in range(min(fs + trim, q), q): oaf[p] = True
                rl = 0; rs = 0; ro = 0
        elif mode == 1:
            w = (not NZ[q]) and (EFF[q] < OFF or PER[q] > 0.85 or REP[q] > R_OFF)
            if w:
                if ro == 0: fo = q
                ro += 1
            else: ro = 0
            if ro >= ROFF:
                mode = 0; ro = 0; rl = 0; rs = 0
                for p in range(fo, q): oaf[p] = False
        else:
            if lw:
                if rl == 0: fl = q
                rl += 1
            else: rl = 0
            if rl >= RON:
                mode = 1; rl = 0; ro = 0
            else:
                sreg = (IS[q] < soff or CS[q] >= sconc)
                if mode_off == 1:
                    sreg = sreg and (EFF[q] < OFF or PER[q] > 0.85 or REP[q] > R_OFF)
                w = (not NZ[q]) and sreg and not lw
                if w:
                    if ro == 0: fo = q
                    ro += 1
                else: ro = 0
                if ro >= sroff:
                    mode = 0; ro = 0; rl = 0; rs = 0
                    for p in range(fo, q): oaf[p] = False
        oaf[q] = mode != 0
    return oaf, ons
# fast scorer precompute
PRE = []
for i, r in enumerate(recs):
    oj, ot, E, P, N = F[i]
    w = r['rr'][oj] / 1000.0; tr = S.truth_at(ot, r['spans'])
    rng = [(np.searchsorted(ot, a, 'left'), np.searchsorted(ot, b, 'left')) for a, b in r['spans']]
    PRE.append((w, tr, rng))
def fscore(i, daf):
    w, tr, rng = PRE[i]
    st = [w[tr & daf].sum(), w[tr & ~daf].sum(), w[~tr & ~daf].sum(), w[~tr & daf].sum()]
    return st, [bool(daf[a:b].any()) for a, b in rng]
names = [r['name'] for r in recs]; dbs = [r['db'] for r in recs]
er, ed = [], []
for i, r in enumerate(recs):
    for a, b in r['spans']:
        bb = min(b, r['t'][-1]) if np.isinf(b) else b
        er.append(i); ed.append(bb - a)
cfgs = [dict(S=16, son=9.0, sconc=0.35, spre=9.0, srep=9.0, runs=99, soff=0.0, sroff=8, mo=0, sper=9.0, smin=0.0, srate=9.0, trim=0)]
for Sz, son, spre, srep, runs, smin, srate, sr, trim in itertools.product((12, 16), (0.08, 0.10, 0.12), (0.05, 9.0), (0.2, 0.35), (6, 8, 12), (0.0, 0.35), (1.0, 9.0), (0.6, 0.8, 1.0), (0, 3, 6)):
    cfgs.append(dict(S=Sz, son=son, sconc=0.35, spre=spre, srep=srep, runs=runs, soff=round(sr * son, 3), sroff=12, mo=0, sper=0.7, smin=smin, srate=srate, trim=trim))
print(len(cfgs), 'configs', flush=True)
STs, EPs, ONs = [], [], []; t0 = time.time()
X = [(F[i], SR[r['name']].astype(np.float64), REP[r['name']]) for i, r in enumerate(recs)]
for ci, c in enumerate(cfgs):
    si = SS.index(c['S']); ST = np.zeros((len(recs), 4)); EP = []; ons = 0
    for i, r in enumerate(recs):
        (oj, ot, E, P, N), x, rp = X[i]
        daf, o = machine2(E, P, N, rp, x[:, si, 0], x[:, si, 1], x[:, si, 2], x[:, si, 3], x[:, si, 4], x[:, si, 5], c['son'], c['sconc'], c['spre'], c['srep'], c['runs'], c['soff'], c['sroff'], c['mo'], c['sper'], c['smin'], c['srate'], c['trim'])
        st, ep = fscore(i, daf); ST[i] = st; EP += ep
        if r['db'] == 'afdb': ons += o
    STs.append(ST); EPs.append(EP); ONs.append(ons)
    if ci % 200 == 0: print(ci, time.time() - t0, flush=True)
G = dict(configs=cfgs, ST=np.array(STs), EP=np.array(EPs, bool), onsets=ONs, names=names, dbs=dbs, eps_rec=np.array(er), eps_dur=np.array(ed))
tag = sys.argv[1] if len(sys.argv) > 1 else 'grid4'
pickle.dump(G, open(f'{tag}.pkl', 'wb'))
allm = np.ones(len(names), bool)
fmt = lambda s: ' '.join(f'{k} {v[0]}/{v[1]}' if isinstance(v, tuple) else f'{k} {v:.2f}' for k, v in s.items() if k not in ('mit_n',))
with open(f'{tag}.log', 'w') as fh:
    for ci, c in enumerate(cfgs):
        s = cv.summary(G, allm, G['ST'][ci], G['EP'][ci])
        print(ci, c, fmt(s), 'ons', ONs[ci], file=fh)
