"""Zhou et al. symbolic-dynamics Shannon-entropy feature, on the rhythm-interval axis (in-range intervals, as engine.Rec).
Variant 'hr'  (Zhou, Ding, Wu, Zhang, PLoS ONE 2015 / brief's description): sy = min(floor(HR/5), 63), HR = 60000/rr bpm;
               word = 4096 sy[n-2] + 64 sy[n-1] + sy[n].
Variant 'd14' (Zhou, Ding, Ung, Pickwell-MacPherson, Zhang, BMEO 13:18 2014): median-17 -> Hl=(1-z^-16)/(1-z^-1)/16 -> xl;
               Hh=(1-z^-32-z^-64+z^-96)/(1-z^-1)^2/2048 on xl -> xh; delta = x[n-63] - xl[n-47]; 10 symbols from xh fractions
               (1/16, 1/8, 3/16, 1/4, 5/16; steps of the third-party C port, not confirmed in the paper text); word = 256,16,1.
Entropy at n over the last Wn words (n-Wn+1..n): SE = (k/Wn) * sum_w -(c_w/Wn) log2(c_w/Wn) / log2(Wn), k = #distinct words.
Returned E[n] (causal, NaN before the window fills) and the lag D from n to the window-centre beat."""
import numpy as np, math
from numba import njit

@njit(cache=True)
def sliding_entropy(words, Wn, nvals):
    n = len(words); out = np.full(n, np.nan)
    cnt = np.zeros(nvals, np.int64)
    pm = np.zeros(Wn + 1)
    lw = math.log2(Wn)
    for c in range(1, Wn + 1):
        p = c / Wn; pm[c] = -p * math.log2(p) / lw
    S = 0.0; k = 0; first = -1
    for i in range(n):
        w = words[i]
        if w < 0:
            continue
        if first < 0:
            first = i
        c = cnt[w]; S += pm[c + 1] - pm[c]; cnt[w] = c + 1
        if c == 0:
            k += 1
        if i - first >= Wn:
            o = words[i - Wn]
            c = cnt[o]; S += pm[c - 1] - pm[c]; cnt[o] = c - 1
            if c == 1:
                k -= 1
        if i - first >= Wn - 1:
            out[i] = k / Wn * S
    return out

def words_hr(rr):
    hr = 60000.0 / rr
    sy = np.minimum(np.floor(hr / 5.0), 63).astype(np.int64)
    w = np.full(len(rr), -1, np.int64)
    w[2:] = 4096 * sy[:-2] + 64 * sy[1:-1] + sy[2:]
    return w, 262144

def filters14(x):
    n = len(x)
    y = np.array([np.median(x[max(0, i - 16):i + 1]) if i >= 16 else np.nan for i in range(n)])  # causal median-17 (delay 8)
    xl = np.full(n, np.nan); xh = np.full(n, np.nan)
    cs = np.concatenate([[0.0], np.cumsum(np.nan_to_num(y))])
    for i in range(16 + 15, n):
        xl[i] = (cs[i + 1] - cs[i - 15]) / 16.0          # Hl: moving sum of 16 (delay 7.5)
    # Hh = moving-sum-32 then moving-sum-64 (delay 15.5 + 31.5 = 47), /2048
    a = np.full(n, np.nan); c1 = np.concatenate([[0.0], np.cumsum(np.nan_to_num(xl))])
    for i in range(31 + 31, n):
        a[i] = c1[i + 1] - c1[i - 31]
    c2 = np.concatenate([[0.0], np.cumsum(np.nan_to_num(a))])
    for i in range(62 + 63, n):
        xh[i] = (c2[i + 1] - c2[i - 63]) / 2048.0
    return y, xl, xh

def words_d14(rr):
    n = len(rr); y, xl, xh = filters14(rr)
    w = np.full(n, -1, np.int64)
    sy = np.full(n, -1, np.int64)
    for i in range(63, n):
        if np.isnan(xh[i]) or np.isnan(xl[i - 47]):
            continue
        d = rr[i - 63] - xl[i - 47]; h = xh[i]
        t1, t2, t4 = h / 16, h / 8, h / 4; t3 = t1 + t2; t5 = t4 + t1
        if d < -t4: s = 0
        elif d < -t3: s = 1
        elif d < -t2: s = 2
        elif d < -t1: s = 3
        elif d < t1: s = 4
        elif d < t2: s = 5
        elif d < t3: s = 6
        elif d < t4: s = 7
        elif d < t5: s = 8
        else: s = 9
        sy[i] = s
    for i in range(2, n):
        if sy[i - 2] >= 0:
            w[i] = 256 * sy[i - 2] + 16 * sy[i - 1] + sy[i]
    return w, 4096

def feature(rr, variant, Wn):
    """E[n] and the lag D (beats) from the newest interval n to the beat at the window's centre."""
    if variant == 'hr':
        w, nv = words_hr(rr); D = (Wn + 1) // 2          # words n-Wn+1..n use beats n-Wn-1..n: centre n-(Wn+1)/2
    else:
        w, nv = words_d14(rr); D = 63 + (Wn + 1) // 2     # symbol at i describes beat i-63
    return sliding_entropy(w, Wn, nv), D
