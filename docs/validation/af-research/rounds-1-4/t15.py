import pickle, numpy as np, cv
R = pickle.load(open('cv4.pkl', 'rb')); G0 = cv.load(['r3'])
n = R['a']['names']; dbs = R['a']['dbs']; B = G0['ST'][0]
ia = [i for i, c in enumerate(G0['configs']) if c == R['a']['full']][0]
for fam in 'ac':
    S = R[fam]['STcv']; F = G0['ST'][[i for i, c in enumerate(G0['configs']) if c == R[fam]['full']][0]]
    print(fam)
    for i in range(len(n)):
        if dbs[i] != 'afdb': continue
        f = lambda X: (100*X[i,0]/(X[i,0]+X[i,1]), 100*X[i,2]/(X[i,2]+X[i,3]) if X[i,2]+X[i,3] > 0 else float('nan'))
        a, b, c = f(B), f(S), f(F)
        print(f'  {n[i]} base {a[0]:.2f}/{a[1]:.2f} cv {b[0]:.2f}/{b[1]:.2f} full {c[0]:.2f}/{c[1]:.2f}  dSe_cv_s {(S[i,0]-B[i,0]):.0f} s')
    print('  full Se exact', 100*F[:13,0].sum()/F[:13,:2].sum(), 'base', 100*B[:13,0].sum()/B[:13,:2].sum())
