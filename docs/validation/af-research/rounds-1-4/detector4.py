"""Round 4 streaming reference: the SHIPPED detector (af.rs = Round 3 (a): W 64, onset .07, offset .05, conc .35,
R 16, perL32 gate 0.70/0.85) OR a short-window companion.  f64 throughout, strict comparisons as written.

Ring = the last 67 in-range intervals, ring[i] = rr[j-66+i] (j = the interval just pushed); decided beat c = ring[35].
Long part: exactly detector3.StreamingAf3(pw='perL32', pon=0.7, poff=0.85) (state in_af, run).
Short part (parameters Ws, on, R, mc, ps, lc):
  vote(q) for the beat at ring index q, from the short ring s = ring[q-Ws/2-3 .. q+Ws/2-1] (Ws+3 intervals):
     (irr_s, conc_s) = af.rs features(s, lags=3) with window = s[3:] (Ws intervals, base = sorted index Ws/2)
     per_s = max(ac2, ac3) of the Ws successive differences of ring[q-Ws/2-1 .. q+Ws/2-1]
     vote = irr_s <= 0.35 && irr_s > on && conc_s < mc && !(per_s > ps)
  Each decision computes vote(35+R-1) (the beat R-1 after c); the very first decision also computes
  vote(35-R+1 .. 35+R-2).  short(c) = vote(c) && (B + F - 1 >= R), B = consecutive true votes ending at c counted
  back (at most R), F = consecutive true votes starting at c counted forward (at most R)  [run-length opening]
  && conc_long(c) < lc  (conc of the long 64-window of this decision).
Decision for c: af = in_af (long) OR short(c)."""
import math
import numpy as np
from collections import deque
from baseline import features, CFG
from detector3 import per


class StreamingAf4:
    def __init__(self, Ws=12, on=0.15, R=10, mc=0.35, ps=0.7, lc=0.30, short=True):
        self.Ws, self.on, self.R, self.mc, self.ps, self.lc, self.short = Ws, on, R, mc, ps, lc, short
        assert R + Ws // 2 <= 32 and Ws // 2 + 3 <= 35 - R + 1
        self.L = CFG['window'] + CFG['max_lag']          # 67
        self.rr = deque(maxlen=self.L); self.t = deque(maxlen=self.L)
        self.in_af = False; self.run = 0; self.out_of_range = 0
        self.votes = deque(maxlen=2 * R - 1)              # votes for beats c-R+1 .. c+R-1
        self.first = True

    def vote(self, win, q):
        h = self.Ws // 2
        s = win[q - h - 3:q + h]
        irr, conc = features(s, 3, CFG)
        if not (irr <= CFG['max_irregularity'] and irr > self.on and conc < self.mc):
            return False
        if self.ps is not None and per(win[q - h - 1:q + h]) > self.ps:
            return False
        return True

    def push(self, rr_ms, time):
        """None (no decision) or (centre time, centre interval ms, combined af, long in_af)."""
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
        p = per(win[34:67])
        if noise:
            wants = False
        elif self.in_af:
            wants = eff < CFG['offset'] or p > 0.85
        else:
            wants = eff > CFG['onset'] and not (p > 0.70)
        self.run = self.run + 1 if wants else 0
        if self.run >= CFG['min_run']:
            self.run = 0; self.in_af = not self.in_af
        c = 35; R = self.R
        af = self.in_af
        if self.short:
            if self.first:
                for q in range(c - R + 1, c + R - 1):
                    self.votes.append(self.vote(win, q))
                self.first = False
            self.votes.append(self.vote(win, c + R - 1))
            v = list(self.votes)                       # v[R-1] is beat c
            if v[R - 1]:
                B = 0
                for k in range(R - 1, -1, -1):
                    if not v[k]: break
                    B += 1
                F = 0
                for k in range(R - 1, 2 * R - 1):
                    if not v[k]: break
                    F += 1
                if B + F - 1 >= R and (self.lc is None or conc < self.lc):
                    af = True
        return self.t[c], self.rr[c], af, self.in_af
