"""Round 2 streaming AF detector (reference implementation for the Rust port). See REPORT.md, 'Round 2'.
Current af.rs irregularity/concentration rule on a 32-interval window, plus two gates on ONSET votes:
  COSEn (Lake & Moorman 2011; SampEn m=1, r=30 ms over the CW intervals centred on the decided beat,
  + ln(2r) - ln(mean RR), seconds) must exceed TC;  dRR periodicity PER = max(ac2, ac3) of the successive
  differences over the window must not exceed TP (bigeminy/trigeminy/regular ectopy -> not AF).
Exit votes: eff < OFF, or COSEn <= TCE, or PER > TPE.  Separate debounce lengths R_ON / R_OFF, back-dated."""
import math
import numpy as np
from collections import deque

PREMATURE, PAUSE, COMP, LAGS, BAND, R_SE = 0.9, 1.05, 0.1, 3, 0.03, 30.0


def select(v, k):
    return np.partition(np.asarray(v), k)[k]  # k-th smallest (Rust: select_nth_unstable_by(k) on a scratch copy)


def cosen(x, r=R_SE):
    """Coefficient of sample entropy of the intervals x (ms), m = 1, tolerance r (ms).
    B = #pairs i<k (i,k in 0..n-2) with |x_i-x_k| <= r; A = those with also |x_{i+1}-x_{k+1}| <= r."""
    x = np.asarray(x, float); n = len(x)
    m1 = np.abs(x[:-1, None] - x[None, :-1]) <= r
    m2 = m1 & (np.abs(x[1:, None] - x[None, 1:]) <= r)
    iu = np.triu_indices(n - 1, 1)
    B = max(int(m1[iu].sum()), 1); A = max(int(m2[iu].sum()), 1)
    return -math.log(A / B) + math.log(2 * r / 1000.0) - math.log(x.mean() / 1000.0)


class StreamingAf2:
    def __init__(self, W=32, CW=16, on=0.07, off=0.056, mc=0.4, nz=0.35, R=16, Roff=32,
                 tc=-1.4, tce=-9.0, tp=0.5, tpe=0.6, backdate=True):
        self.W, self.CW = W, CW
        self.on, self.off, self.mc, self.nz, self.R, self.Roff = on, off, mc, nz, R, Roff
        self.tc, self.tce, self.tp, self.tpe, self.bd = tc, tce, tp, tpe, backdate
        self.L = W + LAGS
        self.rr = deque(maxlen=self.L); self.t = deque(maxlen=self.L)
        self.in_af = False; self.run = 0; self.pending = []; self.out_of_range = 0

    def features(self):
        W, L = self.W, self.L
        win = np.fromiter(self.rr, float, L); w = win[LAGS:]
        base = select(w, W // 2)
        conc = np.count_nonzero(np.abs(w - base) <= BAND * base) / W
        f = win.copy()
        i = 0
        while i + 1 < L:
            a, b = f[i], f[i + 1]
            if a < PREMATURE * base and b > PAUSE * base and abs(a + b - 2 * base) <= COMP * 2 * base:
                f[i] = f[i + 1] = (a + b) / 2; i += 2
            else:
                i += 1
        fw = f[LAGS:]
        irr = math.inf
        for k in range(1, LAGS + 1):
            bk = f[LAGS - k:L - k]
            irr = min(irr, select(np.abs(fw - bk) / ((fw + bk) / 2), W // 2))
        c = LAGS + W // 2
        ce = cosen(win[c - self.CW // 2:c + self.CW // 2])
        dd = np.diff(win[L - W - 1:])                       # W successive differences of the raw intervals
        den = float(np.dot(dd, dd)) + 1e-9
        per = max(float(np.dot(dd[k:], dd[:-k])) / den for k in (2, 3))
        return irr, conc, ce, per

    def push(self, rr_ms, time):
        if not (200.0 <= rr_ms <= 3000.0) or not math.isfinite(time):
            self.out_of_range += 1
            return []
        self.rr.append(rr_ms); self.t.append(time)
        if len(self.rr) < self.L:
            return []
        irr, conc, ce, per = self.features()
        noise = irr > self.nz
        eff = 0.0 if conc >= self.mc else irr
        if noise:
            wants = False
        elif self.in_af:
            wants = eff < self.off or ce <= self.tce or per > self.tpe
        else:
            wants = eff > self.on and ce > self.tc and per <= self.tp
        c = LAGS + self.W // 2
        dec = [self.t[c], self.rr[c], self.in_af, irr, conc, ce, per, noise]
        out = []
        if wants:
            self.run += 1
        else:
            self.run = 0
            out, self.pending = self.pending, []
        self.pending.append(dec)
        if self.run >= (self.Roff if self.in_af else self.R):
            self.in_af = not self.in_af; self.run = 0
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
