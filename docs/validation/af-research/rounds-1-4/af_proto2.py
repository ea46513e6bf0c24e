"""Round 2: `python af_proto2.py` prints
  1. the CURRENT detector (baseline.py port of af.rs), centre-beat weighting (cache_baseline.pkl);
  2. the Round-2 streaming detector (detector2.py) with the final full-fit setting (final2.pkl), run beat by beat;
  3. per-record CV figures from cv3.pkl (python features3.py 32 64; python grid3.py r2; python cv3.py).
Checks that the streaming run equals the grid engine's result for the final setting."""
import os, pickle, numpy as np
from data import load_all
import score as S
from af_proto import score_new, report
from detector2 import StreamingAf2

FINAL2 = pickle.load(open('/tmp/af-proto/final2.pkl', 'rb'))


def run2(rec, cfg):
    d = StreamingAf2(**cfg); dec = []
    for x, t in zip(rec['rr'], rec['t']):
        dec += d.push(float(x), float(t))
    dec += d.flush()
    return np.array([x[0] for x in dec]), np.array([x[1] for x in dec]), np.array([x[2] for x in dec], bool)


def main():
    recs = load_all()
    B = pickle.load(open('/tmp/af-proto/cache_baseline.pkl', 'rb'))
    rs = []
    for r in recs:
        dj, dt, daf = B[r['name']]
        ok = (r['rr'] >= 200) & (r['rr'] <= 3000)
        idx = np.flatnonzero(ok); pos = np.searchsorted(idx, dj); c = idx[pos - 32 + 1]
        rs.append(score_new(r, dt, r['rr'][c], daf))
    report('CURRENT detector, weighting by the decided (centre) beat interval', rs)
    print('\nROUND 2 FINAL setting:', FINAL2)
    rs2 = []
    for r in recs:
        dt, drr, daf = run2(r, FINAL2)
        rs2.append(score_new(r, dt, drr, daf))
    report('ROUND 2 detector (detector2.py, streaming), final setting fitted on all records', rs2)
    pickle.dump(rs2, open('/tmp/af-proto/final2_results.pkl', 'wb'))
    if os.path.exists('/tmp/af-proto/cv3.pkl'):
        C = pickle.load(open('/tmp/af-proto/cv3.pkl', 'rb'))['all']
        print('\nCV per record (each scored with the setting chosen without its fold; cv3.py):')
        for i, n in enumerate(C['names']):
            tp, fn, tn, fp = C['STcv'][i]
            se_ = 100 * tp / (tp + fn) if tp + fn > 0 else float('nan'); sp_ = 100 * tn / (tn + fp) if tn + fp > 0 else float('nan')
            if C['dbs'][i] == 'afdb' or fp > 0 or n in ('201', '203'):
                print(f'  {C["dbs"][i]:6s} {n:7s} Se {se_:7.2f} Sp {sp_:7.2f} falseAF {fp/60:6.1f} min')


if __name__ == '__main__':
    main()
