"""Round 3 streaming reference: the CURRENT af.rs detector (W = 64, onset 0.07, offset 0.05, concentration 0.35,
16-vote debounce, no back-dating, decision for the window-centre beat) plus optional gates, all f64, strict comparisons:
  onset vote : !noise && eff > 0.07 && !(PER > p_on) && (COSEn > tc)
  offset vote: !noise && (eff < 0.05 || PER > p_off)
p_on / p_off / tc = None disables that term.  pw selects the PER intervals, cw the COSEn intervals (ring indices below).
Ring = the last L = 67 in-range intervals, ring[i] = rr[j-66+i]; the decided (centre) beat is ring[35]."""
import math
import numpy as np
from collections import deque
from baseline import features, CFG

PW = {'per64': (2, 67), 'perL32': (34, 67), 'perM32': (18, 51)}   # intervals whose successive differences are used
CW = {'ce64': (3, 67), 'ce32': (19, 51)}


def per(x):
    d = np.diff(x)
    den = float(np.dot(d, d)) + 1e-9
    return max(float(np.dot(d[k:], d[:-k])) / den for k in (2, 3))


def cosen(x, r=30.0):
    n = len(x); A = 0; B = 0
    for i in range(n - 1):
        for k in range(i + 1, n - 1):
            if abs(x[i] - x[k]) <= r:
                B += 1
                if abs(x[i + 1] - x[k + 1]) <= r:
                    A += 1
    A = max(A, 1); B = max(B, 1)
    return -math.log(A / B) + math.log(2 * r / 1000.0) - math.log(sum(x) / n / 1000.0)


class StreamingAf3:
    def __init__(self, pw='per64', pon=None, poff=None, cw='ce64', tc=None):
        self.pw, self.pon, self.poff, self.cw, self.tc = pw, pon, poff, cw, tc
        self.L = CFG['window'] + CFG['max_lag']
        self.rr = deque(maxlen=self.L); self.t = deque(maxlen=self.L)
        self.in_af = False; self.run = 0; self.out_of_range = 0

    def push(self, rr_ms, time):
        """Returns None (no decision) or (centre time, centre interval ms, in_af)."""
        if not (200.0 <= rr_ms <= 3000.0) or not math.isfinite(time):
            self.out_of_range += 1
            return None
        self.rr.append(rr_ms); self.t.append(time)
        if len(self.rr) < self.L:
            return None
        win = np.fromiter(self.rr, float, self.L)
        irr, conc = features(win, CFG['max_lag'], CFG)
        noise = irr > CFG['max_irregularity']
        eff = 0.0 if conc >= CFG['max_concentration'] else irr
        p = None
        if self.pon is not None or self.poff is not None:
            a, b = PW[self.pw]; p = per(win[a:b])
        if noise:
            wants = False
        elif self.in_af:
            wants = eff < CFG['offset'] or (self.poff is not None and p > self.poff)
        else:
            wants = eff > CFG['onset']
            if wants and self.pon is not None and p > self.pon:
                wants = False
            if wants and self.tc is not None:
                a, b = CW[self.cw]
                wants = cosen(win[a:b]) > self.tc
        self.run = self.run + 1 if wants else 0
        if self.run >= CFG['min_run']:
            self.run = 0; self.in_af = not self.in_af
        c = CFG['max_lag'] + CFG['window'] // 2
        return self.t[c], self.rr[c], self.in_af
