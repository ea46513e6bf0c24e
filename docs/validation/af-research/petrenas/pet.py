"""Petrenas et al. 2015 detector on the rhythm axis; evaluation of one setting -> per-record stats."""
import numpy as np
from common import *

_RAW = {}
def raw(R, trend):
    k = (R.name, trend)
    if k not in _RAW:
        rm, M, B, src = petrenas_raw(R.rr, trend=trend); _RAW[k] = (M, B, src)
    return _RAW[k]

_O = {}
def Osig(R, trend, alpha, delta, fb=False):
    k = (R.name, trend, alpha, delta, fb)
    if k not in _O:
        M, B, src = raw(R, trend); _O[k] = petrenas_O(M, B, src, 8, alpha, delta, fb)
    return _O[k]

def decisions(R, trend, alpha, delta, eta, D, fb=False):
    """O(i) uses rr up to i+1 (3-point median), so it is computed at push j = i+1.
    The decision for beat c = i - D is af = O(i) > eta. Returns af[c], valid[c], wshift = D + 1."""
    O = Osig(R, trend, alpha, delta, fb); n = len(O)
    okO = ~np.isnan(O); okO[-1] = False           # rm(n-1) needs a future interval
    a_i = np.zeros(n, bool); a_i[okO] = O[okO] > eta
    af = np.zeros(n, bool); valid = np.zeros(n, bool)
    if D < n:
        af[:n - D] = a_i[D:]; valid[:n - D] = okO[D:]
    return af, valid, D + 1

def run(cfg, combine=None, SH=None):
    per = []
    for R in recs():
        af, valid, ws = decisions(R, cfg['trend'], cfg['alpha'], cfg['delta'], cfg['eta'], cfg['D'], cfg.get('fb', False))
        if combine is not None:
            saf, sval = SH[R.name]
            if combine == 'and':       # AF only when both agree; where Petrenas does not judge, shipped decides
                af = np.where(valid, af & saf, saf)
            elif combine == 'or':
                af = np.where(valid, af | saf, saf)
            valid = sval; ws = 31
        per.append(stats_rec(R, af, valid, ws))
    return per
