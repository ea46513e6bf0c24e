"""Grid over pre-corrections; per-record stats (validate.rs weighting) -> grid_clean.pkl"""
import sys, pickle, time, numpy as np
sys.path.insert(0, '/tmp/af-clean')
import score as S, eng

recs = pickle.load(open('/tmp/af-proto/cache_data.pkl', 'rb'))
names = [r['name'] for r in recs]; dbs = [r['db'] for r in recs]


def evaluate(fix):
    ST = np.zeros((len(recs), 4)); EP = []; ons = 0; nfix = [0, 0]; per = []
    for i, r in enumerate(recs):
        rr, t = r['rr'].astype(float), r['t'].astype(float)
        if fix is not None:
            rr, t, a, b = fix(rr, t); nfix[0] += a; nfix[1] += b
        rc = dict(r, rr=rr, t=t)
        dj, dt, daf = eng.detect(rr, t)
        s = S.score(rc, dj, dt, daf)
        ST[i] = [s['tp'], s['fn'], s['tn'], s['fp']]
        EP += [e[2] for e in s['episodes']]
        if r['db'] == 'afdb':
            ons += s['onsets']
        per.append(s)
    return ST, np.array(EP, bool), ons, nfix


def settings():
    out = [dict(fam='base')]
    for passes in (1, 10):
        for ops in ('both', 'merge', 'split'):
            out.append(dict(fam='lt', passes=passes, ops=ops))
    for K in (9, 17):
        for x in (0.1, 0.15, 0.2):
            for y in (0.6, 0.75):
                for ops in ('both', 'merge', 'split'):
                    if ops == 'split' and y != 0.6:
                        continue  # y unused
                    out.append(dict(fam='simple', K=K, x=x, y=y, ops=ops, nmax=3))
    for x in (0.1, 0.15, 0.2):
        for ops in ('both', 'merge', 'split'):
            out.append(dict(fam='simple', K=9, x=x, y=0.75, ops=ops, nmax=3, ctx=0.15))
    return out


def make_fix(c):
    if c['fam'] == 'base':
        return None
    dm, ds = c['ops'] in ('both', 'merge'), c['ops'] in ('both', 'split')
    if c['fam'] == 'lt':
        return lambda rr, t: eng.lt_fix(rr, t, passes=c['passes'], do_merge=dm, do_split=ds)
    return lambda rr, t: eng.simple_fix(rr, t, c['x'], c['y'], c['K'], dm, ds, c['nmax'], c.get('ctx', 0.0))


if __name__ == '__main__':
    cfgs = settings()
    if len(sys.argv) > 1 and sys.argv[1] == 'base':
        cfgs = cfgs[:1]
    if len(sys.argv) > 1 and sys.argv[1] == 'ctx':
        cfgs = [c for c in cfgs if 'ctx' in c]
    print(len(cfgs), 'settings', flush=True)
    STs, EPs, ONs, NF = [], [], [], []
    er, ed = [], []
    for i, r in enumerate(recs):
        for a, b in r['spans']:
            bb = min(b, r['t'][-1]) if np.isinf(b) else b
            er.append(i); ed.append(bb - a)
    for c in cfgs:
        t0 = time.time(); ST, EP, ons, nf = evaluate(make_fix(c))
        STs.append(ST); EPs.append(EP); ONs.append(ons); NF.append(nf)
        a = np.array(dbs) == 'afdb'; s = ST[a].sum(0)
        m = (np.array(dbs) == 'mitdb') & ~np.isin(names, ['201', '203'])
        n = np.isin(dbs, ['nsr2db', 'chf2db'])
        print(c, f'Se {100*s[0]/(s[0]+s[1]):.2f} Sp {100*s[2]/(s[2]+s[3]):.2f} mit {ST[m,3].sum()/60:.2f} nsr {ST[n,3].sum()/60:.2f} ons {ons} fixes {nf} {time.time()-t0:.0f}s', flush=True)
    G = dict(configs=cfgs, ST=np.array(STs), EP=np.array(EPs), onsets=ONs, nfix=NF, names=names, dbs=dbs,
             eps_rec=np.array(er), eps_dur=np.array(ed))
    pickle.dump(G, open('/tmp/af-clean/grid_clean%s.pkl' % (('_' + sys.argv[1]) if len(sys.argv) > 1 else ''), 'wb'))
