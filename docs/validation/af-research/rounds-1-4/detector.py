"""Streaming AF detector (reference implementation for the Rust port). See REPORT.md."""
import numpy as np
from collections import deque

PREMATURE, PAUSE, COMP, LAGS, BAND = 0.9, 1.05, 0.1, 3, 0.03


class StreamingAf:
    def __init__(self, W=32, q=0.5, on=0.07, off=0.05, mc=0.4, nz=0.35, R=16, backdate=True):
        self.W, self.on, self.off, self.mc, self.nz, self.R, self.bd = W, on, off, mc, nz, R, backdate
        self.rank = int(q * W)          # order statistic of the W relative differences used for votes
        self.mid = W // 2               # upper median (noise test), as Rust select_nth_unstable(len/2)
        self.rr = deque(maxlen=W + LAGS)
        self.t = deque(maxlen=W + LAGS)
        self.in_af = False
        self.run = 0
        self.pending = []               # decisions of the current run, not yet final: [time, rr, af, irr, conc, noise]
        self.out_of_range = 0

    def _features(self):
        W, L = self.W, self.W + LAGS
        win = np.fromiter(self.rr, float, L)
        w = win[LAGS:]
        base = np.partition(w, self.mid)[self.mid]
        conc = np.count_nonzero(np.abs(w - base) <= BAND * base) / W
        f = win.copy()
        i = 0
        while i + 1 < L:
            a, b = f[i], f[i + 1]
            if a < PREMATURE * base and b > PAUSE * base and abs(a + b - 2 * base) <= COMP * 2 * base:
                f[i] = f[i + 1] = (a + b) / 2
                i += 2
            else:
                i += 1
        fw = f[LAGS:]
        irr_q = irr_med = np.inf
        for k in range(1, LAGS + 1):
            b = f[LAGS - k:L - k]
            d = np.abs(fw - b) / ((fw + b) / 2)
            d = np.partition(d, [self.rank, self.mid])
            irr_q = min(irr_q, d[self.rank]); irr_med = min(irr_med, d[self.mid])
        return irr_q, irr_med, conc

    def push(self, rr_ms, time):
        """Feeds one interval; returns the list of decisions made final by it (possibly empty)."""
        if not (200.0 <= rr_ms <= 3000.0) or not np.isfinite(time):
            self.out_of_range += 1
            return []
        self.rr.append(rr_ms); self.t.append(time)
        if len(self.rr) < self.W + LAGS:
            return []
        irr, irr_med, conc = self._features()
        c = LAGS + self.W // 2
        noise = irr_med > self.nz
        eff = 0.0 if conc >= self.mc else irr
        wants = (not noise) and ((eff < self.off) if self.in_af else (eff > self.on))
        out = []
        if wants:
            self.run += 1
        else:
            self.run = 0
            out, self.pending = self.pending, []
        dec = [self.t[c], self.rr[c], self.in_af, irr, conc, noise]
        self.pending.append(dec)
        if self.run >= self.R:
            self.in_af = not self.in_af
            self.run = 0
            for d in self.pending:
                if self.bd or d is dec:
                    d[2] = self.in_af
            out += self.pending; self.pending = []
        elif self.run == 0:
            out += self.pending; self.pending = []
        return out

    def flush(self):
        out, self.pending = self.pending, []
        return out
