#!/usr/bin/env python3
"""Turns a scripts/bench-vs-spark log into OUT/throughput.svg and OUT/summary.md.
Standard library only."""
import json
import re
import statistics
import sys
from pathlib import Path

log = Path(sys.argv[1]).read_text()
out = Path(sys.argv[2])

spark = {}
for algo, js in re.findall(r"^spark (\w+) rep \d+: (\{.*\})$", log, re.M):
    d = json.loads(js)
    spark.setdefault(algo, []).append(d)

aorta = {}  # (source, algo) -> {mode: (samples/s, wall, cpu, rss, ratio)}
for block in re.split(r"^== ", log, flags=re.M)[1:]:
    head = block.splitlines()[0]
    m = re.match(r"aorta, (.*), (\S+)$", head)
    if not m:
        continue
    rows = {}
    for mode, sps, wall, cpu, rss, ratio in re.findall(
        r"^\| (plain|secure|secure-tee) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+|-) \|$", block, re.M
    ):
        rows[mode] = (int(sps), float(wall), float(cpu), float(rss), ratio)
    aorta[(m.group(1), m.group(2))] = rows

lines = ["| system | input | algorithm | samples/s (median) | elapsed s | CPU s | peak RSS MB | vs Spark | time / plain |",
         "|---|---|---|---:|---:|---:|---:|---:|---:|"]
bars = []
for algo, akey in [("sdnn", "sdnn"), ("hrv", "hrv-bands")]:
    runs = spark.get(algo, [])
    if not runs:
        continue
    el = statistics.median(r["elapsed_s"] for r in runs)
    rows = runs[0]["check"]["rows_in_results"]
    sps = rows / el
    rss = statistics.median(r["peak_rss_tree_mb"] for r in runs)
    lines.append(f"| Spark 4.3 local[2] | CSV files | {akey} | {sps:,.0f} | {el:.1f} (+{statistics.median(r.get('startup_total_s', 0) for r in runs):.1f} start-up) | - | {rss:,.0f} | 1.0x | - |")
    bars.append((f"Spark {akey}", sps, "#999999"))
    for (src, a), modes in aorta.items():
        if a != akey:
            continue
        for mode, (s, wall, cpu, r, ratio) in modes.items():
            short = "sensor" if "generated" in src else "CSV files"
            lines.append(f"| Aorta {mode} | {short} | {a} | {s:,.0f} | {wall:.2f} | {cpu:.2f} | {r:.0f} | {s / sps:.1f}x | {ratio} |")
            colour = {"plain": "#9ecae1", "secure": "#3182bd", "secure-tee": "#08519c"}[mode]
            bars.append((f"Aorta {mode} {a} ({short})", s, colour))
(out / "summary.md").write_text("\n".join(lines) + "\n")

# Horizontal bar chart, log-free linear scale in millions of samples/s.
w, left, bh, gap = 900, 330, 22, 8
h = 60 + len(bars) * (bh + gap)
vmax = max(v for _, v, _ in bars) * 1.1
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="13">',
       f'<text x="{w/2}" y="22" text-anchor="middle" font-size="15">RR samples per second, 1,024 clients x 712 samples/s x 30 s (21.9 M samples), 2 cores</text>']
for i, (label, v, colour) in enumerate(bars):
    y = 40 + i * (bh + gap)
    bw = (w - left - 90) * v / vmax
    svg.append(f'<text x="{left - 8}" y="{y + bh * 0.7}" text-anchor="end">{label}</text>')
    svg.append(f'<rect x="{left}" y="{y}" width="{bw:.1f}" height="{bh}" fill="{colour}"/>')
    svg.append(f'<text x="{left + bw + 6:.1f}" y="{y + bh * 0.7}">{v / 1e6:.2f} M</text>')
svg.append("</svg>")
(out / "throughput.svg").write_text("\n".join(svg) + "\n")
print((out / "summary.md").read_text())
