"""Data loaders: afdb text dumps, mitdb WFDB (annotation beats), nsr2db/chf2db RR series.
Each record -> dict(name, t (s, beat time ending the interval), rr (ms), spans [(a,b)] AF reference)."""
import os, glob, pickle
import numpy as np

D = '/work/shared/data'
CACHE = '/tmp/af-proto/cache_data.pkl'
BEAT_SYMS = set('N L R a V F J A S E j / Q B e n f r'.split())


def afdb_record(name):
    q = np.loadtxt(f'{D}/afdb/qrs{name}.txt')
    q = q[1:]  # first row is sample 0 -> first beat, not an RR
    t = q[:, 2] / 250.0
    rr = q[:, 1] * 1000.0
    rhythm = []
    with open(f'{D}/afdb/atr{name}.txt') as f:
        next(f)
        for l in f:
            p = l.split()
            if len(p) < 2:
                continue
            try:
                s = float(p[1])
            except ValueError:
                continue
            rhythm.append((s / 250.0, p[-1].startswith('(AFIB')))
    end = t[-1]
    spans = []
    for i, (s, af) in enumerate(rhythm):
        if af:
            to = rhythm[i + 1][0] if i + 1 < len(rhythm) else end
            spans.append((s, to))
    return dict(name=name, db='afdb', t=t, rr=rr, spans=spans)


def mitdb_record(name):
    import wfdb
    a = wfdb.rdann(f'{D}/mitdb/{name}', 'atr')
    fs = 360.0
    samp = np.array([s for s, sym in zip(a.sample, a.symbol) if sym in BEAT_SYMS], dtype=float)
    t = samp[1:] / fs
    rr = np.diff(samp) * 1000.0 / fs
    spans, open_ = [], None
    for s, sym, aux in zip(a.sample, a.symbol, a.aux_note):
        if sym != '+':
            continue
        tt = s / fs
        if open_ is not None:
            spans.append((open_, tt)); open_ = None
        if aux.startswith('(AFIB'):
            open_ = tt
    if open_ is not None:
        spans.append((open_, np.inf))
    return dict(name=name, db='mitdb', t=t, rr=rr, spans=spans)


def rr_record(db, name):
    v = []
    with open(f'{D}/{db}/{name}_rr_secs.txt') as f:
        for l in f:
            try:
                v.append(float(l.strip()))
            except ValueError:
                pass
    rr = np.array(v[1:]) * 1000.0  # first value = first beat's time, skipped (as the project does)
    t = np.cumsum(rr) / 1000.0
    return dict(name=name, db=db, t=t, rr=rr, spans=[])


def load_all():
    if os.path.exists(CACHE):
        return pickle.load(open(CACHE, 'rb'))
    recs = []
    for p in sorted(glob.glob(f'{D}/afdb/qrs*.txt')):
        recs.append(afdb_record(os.path.basename(p)[3:8]))
    for p in sorted(glob.glob(f'{D}/mitdb/*.hea')):
        recs.append(mitdb_record(os.path.basename(p)[:-4]))
    for db in ['nsr2db', 'chf2db']:
        for p in sorted(glob.glob(f'{D}/{db}/*_rr_secs.txt')):
            recs.append(rr_record(db, os.path.basename(p)[:-len('_rr_secs.txt')]))
    pickle.dump(recs, open(CACHE, 'wb'))
    return recs

if __name__ == '__main__':
    for r in load_all():
        print(r['db'], r['name'], len(r['rr']), round(r['t'][-1]/3600, 2), 'AF spans', len(r['spans']),
              'AF h', round(sum(min(b, r['t'][-1]) - a for a, b in r['spans'])/3600, 3))
