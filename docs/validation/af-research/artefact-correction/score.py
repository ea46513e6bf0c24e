"""Scorer replicating crates/analytics/src/validate.rs (score_af, mark_episodes)."""
import numpy as np

BUCKETS = [('<10 s', 0, 10), ('10-30 s', 10, 30), ('30-60 s', 30, 60), ('1-5 min', 60, 300), ('>=5 min', 300, np.inf)]


def truth_at(times, spans):
    tr = np.zeros(len(times), dtype=bool)
    for a, b in spans:
        tr |= (times >= a) & (times < b)
    return tr


def score(rec, dj, dt, daf):
    """dj: index of the interval pushed when the decision was made (weight rr[dj], as validate.rs);
    dt: decision (centre-beat) time; daf: decision."""
    rr = rec['rr']
    w = rr[dj] / 1000.0
    tr = truth_at(dt, rec['spans'])
    r = dict(name=rec['name'], db=rec['db'])
    r['tp'] = w[tr & daf].sum(); r['fn'] = w[tr & ~daf].sum()
    r['tn'] = w[~tr & ~daf].sum(); r['fp'] = w[~tr & daf].sum()
    r['onsets'] = int(np.count_nonzero(daf[1:] & ~daf[:-1]) + (1 if len(daf) and daf[0] else 0))
    r['unjudged'] = max(rr.sum() / 1000.0 - w.sum(), 0.0)
    eps = []
    for a, b in rec['spans']:
        i = np.searchsorted(dt, a, 'left'); k = np.searchsorted(dt, b, 'left')
        bb = min(b, rec['t'][-1]) if np.isinf(b) else b
        eps.append((a, bb - a, bool(daf[i:k].any())))
    r['episodes'] = eps
    return r


def total(rs):
    T = dict(tp=0, fn=0, tn=0, fp=0, onsets=0, unjudged=0, episodes=[])
    for r in rs:
        for k in ['tp', 'fn', 'tn', 'fp', 'onsets', 'unjudged']:
            T[k] += r[k]
        T['episodes'] += r['episodes']
    return T


def se(r):
    d = r['tp'] + r['fn']; return 100 * r['tp'] / d if d > 0 else float('nan')


def sp(r):
    d = r['tn'] + r['fp']; return 100 * r['tn'] / d if d > 0 else float('nan')


def buckets(eps):
    out = []
    for name, lo, hi in BUCKETS:
        sel = [e for e in eps if lo <= e[1] < hi]
        out.append((name, sum(e[2] for e in sel), len(sel)))
    return out
