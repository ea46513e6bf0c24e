"""AF detector prototype + scorer.  `python af_proto.py` prints:
  1. the CURRENT Rust detector (faithful port, baseline.py) scored as validate.rs does;
  2. the NEW streaming detector (detector.py) with the final full-fit setting;
  3. the leave-records-out cross-validation (needs grid_q.pkl from `python grid2.py q 32 48 64`,
     which needs cache_feat2_W*.pkl from `python features2.py 64 48 32`).
Scoring: every decision weighs the RR interval of the beat it decides (validate.rs weighs the interval
just pushed; both conventions are printed for the baseline); reference AF = (AFIB spans only."""
import os, pickle, sys, numpy as np
from data import load_all
import baseline, score as S
from detector import StreamingAf

FINAL = dict(W=32, q=0.5, on=0.07, off=0.05, mc=0.4, nz=0.35, R=16, backdate=True)  # overwritten below if set
if os.path.exists('/tmp/af-proto/final.pkl'):
    FINAL = pickle.load(open('/tmp/af-proto/final.pkl', 'rb'))


def run_new(rec, cfg):
    d = StreamingAf(**cfg)
    dec = []
    for x, t in zip(rec['rr'], rec['t']):
        dec += d.push(x, t)
    dec += d.flush()
    a = np.array([(x[0], x[1]) for x in dec]).reshape(-1, 2)
    return a[:, 0], a[:, 1], np.array([x[2] for x in dec], bool), d.out_of_range


def score_new(rec, dt, drr, daf):
    w = drr / 1000.0; tr = S.truth_at(dt, rec['spans'])
    r = dict(name=rec['name'], db=rec['db'], tp=w[tr & daf].sum(), fn=w[tr & ~daf].sum(),
             tn=w[~tr & ~daf].sum(), fp=w[~tr & daf].sum(),
             onsets=int(np.count_nonzero(daf[1:] & ~daf[:-1]) + (1 if len(daf) and daf[0] else 0)))
    r['unjudged'] = max(rec['rr'].sum() / 1000 - w.sum(), 0)
    eps = []
    for a, b in rec['spans']:
        i = np.searchsorted(dt, a, 'left'); k = np.searchsorted(dt, b, 'left')
        bb = min(b, rec['t'][-1])
        eps.append((a, bb - a, bool(daf[i:k].any())))
    r['episodes'] = eps
    return r


def report(title, rs):
    print(f'\n=== {title} ===')
    af = [r for r in rs if r['db'] == 'afdb']
    print('afdb record   AF h  nonAF h    Se %    Sp %  onsets unjudged s')
    for r in af:
        print(f"  {r['name']}  {(r['tp']+r['fn'])/3600:6.2f} {(r['tn']+r['fp'])/3600:7.2f} {S.se(r):7.2f} {S.sp(r):7.2f} {r['onsets']:6d} {r['unjudged']:8.0f}")
    T = S.total(af)
    print(f"  TOTAL  Se {S.se(T):.2f}  Sp {S.sp(T):.2f}  onsets {T['onsets']}  unjudged {T['unjudged']:.0f} s")
    print('  episodes found:', ', '.join(f'{n} {f}/{t}' for n, f, t in S.buckets(T['episodes'])))
    mit = [r for r in rs if r['db'] == 'mitdb']
    fm = sum(r['fp'] for r in mit if r['name'] not in ('201', '203')) / 60
    print('mitdb false AF min (non-AF records):', ' '.join(f"{r['name']}:{r['fp']/60:.1f}" for r in mit if r['name'] not in ('201', '203') and r['fp'] > 0), f'TOTAL {fm:.1f} min')
    for r in mit:
        if r['name'] in ('201', '203'):
            print(f"mitdb {r['name']}: Se {S.se(r):.2f}  false AF {r['fp']/60:.1f} min  episodes {sum(e[2] for e in r['episodes'])}/{len(r['episodes'])}")
    ns = [r for r in rs if r['db'] in ('nsr2db', 'chf2db')]
    print('nsr/chf false AF min:', ' '.join(f"{r['name']}:{r['fp']/60:.1f}" for r in ns), f"TOTAL {sum(r['fp'] for r in ns)/60:.1f}",
          '| unjudged s:', ' '.join(f"{r['name']}:{r['unjudged']:.0f}" for r in ns))


def main():
    recs = load_all()
    # 1. baseline
    cache = '/tmp/af-proto/cache_baseline.pkl'
    if os.path.exists(cache):
        B = pickle.load(open(cache, 'rb'))
    else:
        B = {r['name']: baseline.run(r['t'], r['rr']) for r in recs}
        pickle.dump(B, open(cache, 'wb'))
    report('CURRENT detector (af.rs defaults), validate.rs weighting (interval just pushed)',
           [S.score(r, *B[r['name']]) for r in recs])
    rs = []
    for r in recs:
        dj, dt, daf = B[r['name']]
        ok = (r['rr'] >= 200) & (r['rr'] <= 3000)
        # centre beat's own interval: decision at window centre c = j - W/2 + 1 on the rhythm axis
        idx = np.flatnonzero(ok); pos = np.searchsorted(idx, dj); c = idx[pos - 32 + 1]
        rs.append(score_new(r, dt, r['rr'][c], daf))
    report('CURRENT detector, weighting by the decided (centre) beat interval', rs)
    # 2. new detector, final full-fit setting
    print('\nFINAL setting:', FINAL)
    rs = []
    for r in recs:
        dt, drr, daf, oor = run_new(r, FINAL)
        rs.append(score_new(r, dt, drr, daf))
    report('NEW detector, final setting fitted on all records', rs)
    pickle.dump(rs, open('/tmp/af-proto/final_results.pkl', 'wb'))
    # 3. cross-validation
    if os.path.exists('/tmp/af-proto/cv2.pkl'):   # produced by cv2.py (grid.py + grid2.py results)
        C = pickle.load(open('/tmp/af-proto/cv2.pkl', 'rb'))
        print('\nCV per record (each scored with the setting chosen without its fold; see cv2.py):')
        for i, n in enumerate(C['names']):
            tp, fn, tn, fp = C['STcv'][i]
            se_ = 100 * tp / (tp + fn) if tp + fn > 0 else float('nan'); sp_ = 100 * tn / (tn + fp) if tn + fp > 0 else float('nan')
            print(f'  {C["dbs"][i]:6s} {n:7s} Se {se_:7.2f} Sp {sp_:7.2f} falseAF {fp/60:6.1f} min')


if __name__ == '__main__':
    main()
