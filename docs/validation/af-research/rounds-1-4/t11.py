import pickle, numpy as np, cv
G = cv.load(['r2']); full = pickle.load(open('cv3.pkl','rb'))['all']['full']
ci = G['configs'].index(full); b = 0
rs2 = {r['name']: r for r in pickle.load(open('final2_results.pkl','rb'))}
for i, n in enumerate(G['names']):
    st = G['ST'][ci, i]; r = rs2[n]
    if st[3] > 0 or r['fp'] > 0 or G['dbs'][i] == 'afdb':
        print(n, 'grid fp %.2f tp %.1f' % (st[3]/60, st[0]/60), '| stream fp %.2f tp %.1f' % (r['fp']/60, r['tp']/60), '| base fp %.2f' % (G['ST'][b, i, 3]/60))
