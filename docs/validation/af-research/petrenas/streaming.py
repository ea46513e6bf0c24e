"""Streaming (per-beat, f64) reference of the Petrenas-Marozas-Sornmo 2015 detector as evaluated here.
NOT recommended for porting (it does not beat the shipped af.rs under CV); kept for the record and for checking.
State: last 2 raw intervals, ring of 8 median-filtered intervals + 8 raw intervals (s), EMAs Mbar, Bbar, rbar,
a delay line of D decisions' beat times/intervals. Out-of-range intervals (outside 200..3000 ms) are skipped."""
import math
from collections import deque

class StreamingPetrenas:
    def __init__(self, alpha=0.02, delta=2e-4, eta=0.725, gamma=0.03, N=8, D=0, trend='rm'):
        self.a, self.delta, self.eta, self.g, self.N, self.D, self.trend = alpha, delta, eta, gamma, N, D, trend
        self.x = deque(maxlen=3); self.t = deque(maxlen=3)      # raw intervals (s) r(i-1), r(i), r(i+1)
        self.rm = deque(maxlen=N); self.rw = deque(maxlen=N)    # rm(i-7..i), r(i-7..i)
        self.n = 0                                              # rhythm intervals pushed
        self.Mb = self.Bb = self.rb = None
        self.pend = deque()                                     # (time, rr_ms) of beats awaiting their decision
        self.out_of_range = 0

    def push(self, rr_ms, time):
        """Returns None or (time, rr_ms, af) for beat c = i - D, where i is the beat before this one."""
        if not (200.0 <= rr_ms <= 3000.0) or not math.isfinite(time):
            self.out_of_range += 1; return None
        self.x.append(rr_ms / 1000.0); self.t.append(time); self.n += 1
        if self.n == 1:
            self.pend.append((time, rr_ms)); return None
        # beat i = previous interval; its median uses r(i-1), r(i), r(i+1) (edge: first interval unfiltered)
        if self.n == 2:
            xi = self.x[0]; rmi = xi
        else:
            xi = self.x[1]; rmi = sorted(self.x)[1]
        self.pend.append((time, rr_ms))
        src = rmi if self.trend == 'rm' else xi
        self.rb = src if self.rb is None else self.rb + self.a * (src - self.rb)
        self.rm.append(rmi); self.rw.append(xi)
        if len(self.rm) < self.N:
            return None
        v = list(self.rm); cnt = 0
        for j in range(self.N - 1):
            for k in range(j + 1, self.N):
                if abs(v[j] - v[k]) >= self.g: cnt += 1
        M = cnt * 2.0 / (self.N * (self.N - 1))
        B = (sum(self.rm) / sum(self.rw) - 1.0) ** 2
        if self.Mb is None: self.Mb, self.Bb = M, B
        else: self.Mb += self.a * (M - self.Mb); self.Bb += self.a * (B - self.Bb)
        I = self.Mb / self.rb
        O = I if (self.delta <= 0 or self.Bb >= self.delta) else self.Bb
        af = O > self.eta
        # pend holds beats ..., i, i+1; decision for beat i - D
        if len(self.pend) < self.D + 2:
            return None
        while len(self.pend) > self.D + 2: self.pend.popleft()
        tc, rc = self.pend[0]
        return tc, rc, af
