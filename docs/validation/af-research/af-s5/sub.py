import pickle, numpy as np, sys
G=pickle.load(open('grid8.pkl','rb')); t=int(sys.argv[1])
keep=[0]+[i for i,c in enumerate(G['configs']) if i>0 and c['trim']==t]
H=dict(G); H['configs']=[G['configs'][i] for i in keep]; H['ST']=G['ST'][keep]; H['EP']=G['EP'][keep]; H['onsets']=[G['onsets'][i] for i in keep]
pickle.dump(H,open(f'grid8_t{t}.pkl','wb'))
