import pickle
R = pickle.load(open('cv4.pkl', 'rb'))
cols = [('current', R['a']['base'], R['a']['baserec'])]
for f in 'abc':
    cols += [(f + ' CV', R[f]['cv'], R[f]['cvrec']), (f + ' full', R[f]['fullsum'], R[f]['fullrec'])]
print('| figure | ' + ' | '.join(c[0] for c in cols) + ' |'); print('|---' * (len(cols) + 1) + '|')
row = lambda name, fn: print(f'| {name} | ' + ' | '.join(fn(s, r) for _, s, r in cols) + ' |')
row('afdb Se %', lambda s, r: f"{s['Se']:.2f}"); row('afdb Sp %', lambda s, r: f"{s['Sp']:.2f}")
for k, nm in [('e<10', '<10 s'), ('e10-30', '10–30 s'), ('e30-60', '30–60 s'), ('e1-5m', '1–5 min'), ('e>=5m', '≥5 min')]:
    row('episodes ' + nm, lambda s, r, k=k: f"{s[k][0]}/{s[k][1]}")
row('mitdb 20 non-AF false min', lambda s, r: f"{s['mit_fp_min']:.2f}")
for rec in ('106', '207', '208', '220'):
    row(' – ' + rec, lambda s, r, rec=rec: f"{r[rec]:.2f}")
row('mitdb 201 / 203 Se %', lambda s, r: f"{r['201Se']:.2f} / {r['203Se']:.2f}")
row('nsr2db+chf2db false min', lambda s, r: f"{s['nsr_fp_min']:.2f}")
for f in 'abc': print(f, 'full:', R[f]['full'])
