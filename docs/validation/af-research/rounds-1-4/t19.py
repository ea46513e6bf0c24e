import numpy as np, cv, sys
G = cv.load(['r4']); n = G['names']
for ci in [int(x) for x in sys.argv[1:]]:
    print(G['configs'][ci])
    d = G['ST'][ci] - G['ST'][0]
    print('  added false AF min (>0.05):', ' '.join(f"{n[i]}:{d[i,3]/60:.2f}" for i in range(len(n)) if d[i, 3] / 60 > 0.05))
    print('  added true AF min:', ' '.join(f"{n[i]}:{d[i,0]/60:.2f}" for i in range(len(n)) if d[i, 0] / 60 > 0.05))
