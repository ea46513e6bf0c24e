import time, pickle, numpy as np
from data import load_all
from detector2 import StreamingAf2
r = [x for x in load_all() if x['name']=='208'][0]
d = StreamingAf2(**pickle.load(open('final2.pkl','rb'))); t0=time.time(); dec=[]
for x, t in zip(r['rr'], r['t']): dec += d.push(float(x), float(t))
dec += d.flush(); print(len(r['rr']), time.time()-t0, 'false AF min', sum(x[1] for x in dec if x[2])/60000)
