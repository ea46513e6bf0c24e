#!/usr/bin/env python3
"""Peer R-peak detections (NeuroKit2) on annotated WFDB records, for `aorta validate`.

Provenance: every record NAME in --data that has NAME.hea, NAME.dat and
NAME.atr (sorted by name); used on ../shared/data/mitdb (22 MIT-BIH records,
360 Hz) and ../shared/data/svdb (record 800, 128 Hz). The signal is channel
--channel (default 0) in physical units (mV), read with wfdb.rdrecord.

Versions pinned (the venv this was run with, target/nk2-venv):
  neurokit2==0.2.13 numpy==2.4.6 scipy==1.17.1 pandas==2.3.3 wfdb==4.3.1
  (Python 3.11.7)
Setup:
  python3 -m venv target/nk2-venv
  target/nk2-venv/bin/pip install neurokit2==0.2.13 numpy==2.4.6 \
      scipy==1.17.1 pandas==2.3.3 wfdb==4.3.1

Methods, called as NeuroKit2's users do (no artefact correction:
correct_artifacts=False, the default), detections = info["ECG_R_Peaks"]:
  neurokit:        cleaned = nk.ecg_clean(sig, sampling_rate=fs, method="neurokit")
                   _, info = nk.ecg_peaks(cleaned, sampling_rate=fs, method="neurokit")
  pantompkins1985: cleaned = nk.ecg_clean(sig, sampling_rate=fs, method="pantompkins1985")
                   _, info = nk.ecg_peaks(cleaned, sampling_rate=fs, method="pantompkins1985")

Output (--out, JSON; one record per line):
  {"tool": "NeuroKit2", "version": "0.2.13", "channel": 0, "data": "mitdb",
   "methods": {"neurokit": "...", "pantompkins1985": "..."},
   "records": {"101": {"fs": 360.0, "samples": N,
                       "neurokit": [sample, ...], "pantompkins1985": [...]}, ...}}

--score cross-checks in Python what the Rust scorer (aorta_analytics::score,
validate::vf_spans) computes: reference = beat annotations (N L R a V F J A S
E j / Q B e n f r; not `!` or any other non-beat), window round(0.15*fs)
samples, each reference and detection used once, two-pointer in time order
preferring the nearer detection (as bxb); EC57 exclusion of ventricular
flutter/fibrillation spans, from `[` or a rhythm annotation `(VF...` to the
next `]` or rhythm annotation (only mitdb 207 has any).

Run:
  target/nk2-venv/bin/python scripts/peer_detectors.py \
      --data ../shared/data/mitdb --out docs/validation/peers-mitdb.json --score
"""
import argparse
import json
import math
import os
import sys
import time

import neurokit2 as nk
import numpy as np
import wfdb

METHODS = {
    "neurokit": "ecg_clean+ecg_peaks method=neurokit",
    "pantompkins1985": "ecg_clean+ecg_peaks method=pantompkins1985",
}
BEATS = set("NLRaVFJASEj/QBenfr")


def records(data):
    names = {f[:-4] for f in os.listdir(data) if f.endswith(".hea")}
    return sorted(n for n in names
                  if all(os.path.exists(os.path.join(data, n + e)) for e in (".dat", ".atr")))


def detect(sig, fs, method):
    cleaned = nk.ecg_clean(sig, sampling_rate=fs, method=method)
    _, info = nk.ecg_peaks(cleaned, sampling_rate=fs, method=method)
    return sorted(int(p) for p in np.asarray(info["ECG_R_Peaks"]))


def vf_spans(ann):
    """[from, to) spans as validate::vf_spans builds them, merged."""
    out, start = [], None
    for t, sym, aux in zip(ann.sample, ann.symbol, ann.aux_note):
        aux = (aux or "").rstrip("\x00")
        if sym == "+":
            if start is not None:
                out.append((start, int(t)))
                start = None
            if aux.startswith("(VF"):
                start = int(t)
        elif sym == "[":
            start = int(t) if start is None else start
        elif sym == "]" and start is not None:
            out.append((start, int(t)))
            start = None
    if start is not None:
        out.append((start, math.inf))
    merged = []
    for a, b in sorted(out):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged


def score(ref, det, window, excluded):
    """(TP, FN, FP), the same two-pointer matching as aorta_analytics::score."""
    inside = lambda t: any(a <= t < b for a, b in excluded)  # noqa: E731
    r = [t for t in ref if not inside(t)]
    d = [t for t in det if not inside(t)]
    tp = fn = fp = i = j = 0
    while i < len(r) and j < len(d):
        a, b = r[i], d[j]
        if abs(a - b) <= window:
            if j + 1 < len(d) and abs(d[j + 1] - a) < abs(b - a) and abs(d[j + 1] - a) <= window:
                fp, j = fp + 1, j + 1
                continue
            tp, i, j = tp + 1, i + 1, j + 1
        elif a < b:
            fn, i = fn + 1, i + 1
        else:
            fp, j = fp + 1, j + 1
    return tp, fn + len(r) - i, fp + len(d) - j


def pct(num, den):
    return 100.0 * num / max(den, 1)


def score_table(data, out):
    cols = "".join(f" | {m[:10]:>10} TP     FN     FP" for m in METHODS)
    print(f"{'record':<6}{cols}")
    totals = {m: [0, 0, 0] for m in METHODS}
    plain = {m: [0, 0, 0] for m in METHODS}  # without the VF exclusion
    for name, rec in out["records"].items():
        ann = wfdb.rdann(os.path.join(data, name), "atr")
        ref = [int(t) for t, s in zip(ann.sample, ann.symbol) if s in BEATS]
        window = math.floor(0.15 * rec["fs"] + 0.5)
        excluded = vf_spans(ann)
        row = f"{name:<6}"
        for m in METHODS:
            s = score(ref, rec[m], window, excluded)
            totals[m] = [x + y for x, y in zip(totals[m], s)]
            plain[m] = [x + y for x, y in zip(plain[m], score(ref, rec[m], window, []))]
            row += " | {:>13} {:>6} {:>6}".format(*s)
        print(row)
    print(f"{'total':<6}" + "".join(" | {:>13} {:>6} {:>6}".format(*t) for t in totals.values()))
    for m, (tp, fn, fp) in totals.items():
        p_tp, p_fn, p_fp = plain[m]
        print(f"{m}: Se {pct(tp, tp + fn):.2f} %  +P {pct(tp, tp + fp):.2f} %  (VF spans excluded); "
              f"no exclusion: TP {p_tp} FN {p_fn} FP {p_fp}, "
              f"Se {pct(p_tp, p_tp + p_fn):.2f} %  +P {pct(p_tp, p_tp + p_fp):.2f} %")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="directory of WFDB records (.hea/.dat/.atr)")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--channel", type=int, default=0)
    ap.add_argument("--score", action="store_true", help="score against .atr beats and print a table")
    args = ap.parse_args()

    data = os.path.normpath(args.data)
    out = {"tool": "NeuroKit2", "version": nk.__version__, "channel": args.channel,
           "data": os.path.basename(data), "methods": METHODS, "records": {}}
    for name in records(data):
        t0 = time.time()
        rec = wfdb.rdrecord(os.path.join(data, name), channels=[args.channel], physical=True)
        sig = rec.p_signal[:, 0].astype(np.float64)
        fs = float(rec.fs)
        entry = {"fs": fs, "samples": int(sig.size)}
        for m in METHODS:
            entry[m] = detect(sig, fs, m)
        out["records"][name] = entry
        print(f"{name}: {time.time() - t0:.1f} s, " +
              ", ".join(f"{m} {len(entry[m])}" for m in METHODS), file=sys.stderr)

    with open(args.out, "w") as f:
        head = {k: v for k, v in out.items() if k != "records"}
        f.write(json.dumps(head, separators=(",", ":"))[:-1] + ',"records":{\n')
        f.write(",\n".join(json.dumps(k) + ":" + json.dumps(v, separators=(",", ":"))
                           for k, v in out["records"].items()))
        f.write("\n}}\n")
    print(f"{len(out['records'])} records from {data} -> {args.out} (NeuroKit2 {nk.__version__})")
    if args.score:
        score_table(data, out)


if __name__ == "__main__":
    main()
