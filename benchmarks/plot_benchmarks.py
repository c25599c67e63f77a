#!/usr/bin/env python3
"""Tables and a chart from bench_biwkv_vs_attention[_cuda] results.

Reads one or more `--benchmark_format=json` outputs (Google Benchmark, or the
same layout written by another timing script) whose benchmark names look like
`op/T:<T>/C:<C>`, prints a markdown table (op, T, C, B, time, time per
sequence, tokens/s, time relative to Bi-WKV at the same T and C) and the
sequence length where each attention op becomes slower than Bi-WKV, and
writes a self-contained log-log SVG chart of time per sequence against T
(tokens per sequence), one line per op and C.

    python3 plot_benchmarks.py results/h100_biwkv_vs_attention.json results/h100_sdpa.json \
        --svg results/h100_biwkv_vs_attention.svg

Standard library only (the SVG is written by hand).
"""
import argparse
import json
import math
import os
import re
import sys
from xml.sax.saxutils import escape

NAME = re.compile(r"^(?P<op>[^/]+)/T:(?P<T>\d+)/C:(?P<C>\d+)")
UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
BASELINE = "biwkv"
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]


def load(paths):
    """One record per successful iteration run: file, op, T, C, B, seconds per call, tokens/s."""
    records = []
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        tag = os.path.splitext(os.path.basename(path))[0]
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
                continue
            m = NAME.match(b.get("name", ""))
            if not m:
                continue
            t, c = int(m["T"]), int(m["C"])
            seconds = float(b["real_time"]) * UNIT_SECONDS[b.get("time_unit", "ns")]
            tokens_per_s = b.get("tokens/s")
            batch = b.get("B")
            if batch is None:
                batch = round(tokens_per_s * seconds / t) if tokens_per_s else 1
            records.append({"file": tag, "op": m["op"], "T": t, "C": c, "B": int(batch), "seconds": seconds,
                            "tokens/s": tokens_per_s if tokens_per_s else batch * t / seconds})
    # Repeated runs (--benchmark_repetitions): keep the fastest, least disturbed by other load.
    fastest = {}
    for r in records:
        key = (r["file"], r["op"], r["T"], r["C"])
        if key not in fastest or r["seconds"] < fastest[key]["seconds"]:
            fastest[key] = r
    return list(fastest.values())


def label_ops(records):
    """Op names, qualified by file where two files report the same op."""
    files_of = {}
    for r in records:
        files_of.setdefault(r["op"], set()).add(r["file"])
    for r in records:
        r["label"] = r["op"] if len(files_of[r["op"]]) == 1 else f"{r['op']} [{r['file']}]"


def baseline_for(records, r):
    """The Bi-WKV record at r's T and C: from r's file when it has one, else from any file."""
    same = [b for b in records if b["op"] == BASELINE and b["T"] == r["T"] and b["C"] == r["C"]]
    for b in same:
        if b["file"] == r["file"]:
            return b
    return same[0] if same else None


def fmt_time(s):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= scale or unit == "ns":
            v = s / scale
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return str(s)


def fmt_rate(x):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def table(records):
    lines = ["| op | T | C | B | time | time / sequence | tokens/s | time / Bi-WKV |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(records, key=lambda r: (r["C"], r["T"], r["op"] != BASELINE, r["label"])):
        base = baseline_for(records, r)
        ratio = f"{r['seconds'] / base['seconds']:.3g}" if base else "–"
        lines.append(f"| {r['label']} | {r['T']} | {r['C']} | {r['B']} | {fmt_time(r['seconds'])} | "
                     f"{fmt_time(r['seconds'] / r['B'])} | {fmt_rate(r['tokens/s'])} | {ratio} |")
    return "\n".join(lines)


def crossovers(records):
    """Per (op, C): the T where the op's time per sequence meets Bi-WKV's (log-log interpolation)."""
    out = []
    for label, c in sorted({(r["label"], r["C"]) for r in records if r["op"] != BASELINE}, key=lambda k: (k[1], k[0])):
        pts = []
        for r in sorted((r for r in records if r["label"] == label and r["C"] == c), key=lambda r: r["T"]):
            base = baseline_for(records, r)
            if base:
                pts.append((r["T"], math.log((r["seconds"] / r["B"]) / (base["seconds"] / base["B"]))))
        if not pts:
            continue
        if all(lr > 0 for _, lr in pts):
            text = f"slower than Bi-WKV at every measured T (from T={pts[0][0]})"
        elif all(lr <= 0 for _, lr in pts):
            text = f"faster than Bi-WKV at every measured T (up to T={pts[-1][0]})"
        else:
            text = "crosses at several T (noisy?)"
            for (t0, l0), (t1, l1) in zip(pts, pts[1:]):
                if l0 <= 0 < l1:
                    x = math.log(t0) + (math.log(t1) - math.log(t0)) * (-l0) / (l1 - l0)
                    text = f"slower than Bi-WKV from T ≈ {math.exp(x):.0f} (between {t0} and {t1})"
                    break
        out.append(f"- {label}, C={c}: {text}")
    return "\n".join(out)


def svg_chart(records, title):
    width, height = 900, 560
    left, right, top, bottom = 80, 250, 50, 60
    pw, ph = width - left - right, height - top - bottom
    xs = [r["T"] for r in records]
    ys = [r["seconds"] / r["B"] for r in records]
    x_lo, x_hi = math.log10(min(xs)) - 0.1, math.log10(max(xs)) + 0.1
    y_lo, y_hi = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    if y_hi == y_lo:
        y_hi += 1

    def px(t):
        return left + (math.log10(t) - x_lo) / (x_hi - x_lo) * pw

    def py(s):
        return top + (y_hi - math.log10(s)) / (y_hi - y_lo) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left + pw / 2}" y="28" text-anchor="middle" font-size="15">{escape(title)}</text>']
    for e in range(y_lo, y_hi + 1):  # decades of time
        y = py(10.0 ** e)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt_time(10.0 ** e))}</text>')
    for t in sorted(set(xs)):
        x = px(t)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">{t}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 18}" text-anchor="middle">'
               f'T (tokens per sequence, log scale)</text>')
    out.append(f'<text x="18" y="{top + ph / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {top + ph / 2})">time per sequence (call time / B, log scale)</text>')

    labels = sorted({r["label"] for r in records}, key=lambda l: (not l.startswith(BASELINE), l))
    channels = sorted({r["C"] for r in records})
    dashes = ["", "6,4", "2,3", "8,3,2,3"]
    legend_y = top + 10
    for i, label in enumerate(labels):
        color = PALETTE[i % len(PALETTE)]
        for j, c in enumerate(channels):
            pts = sorted(((r["T"], r["seconds"] / r["B"]) for r in records if r["label"] == label and r["C"] == c))
            if not pts:
                continue
            dash = dashes[j % len(dashes)]
            path = " ".join(f"{'M' if k == 0 else 'L'}{px(t):.1f},{py(s):.1f}" for k, (t, s) in enumerate(pts))
            width_px = 3 if label == BASELINE else 1.8
            out.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="{width_px}"'
                       + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
            for t, s in pts:
                out.append(f'<circle cx="{px(t):.1f}" cy="{py(s):.1f}" r="3" fill="{color}">'
                           f'<title>{escape(label)} T={t} C={c}: {escape(fmt_time(s))} per sequence</title></circle>')
            lx = left + pw + 15
            out.append(f'<line x1="{lx}" y1="{legend_y}" x2="{lx + 28}" y2="{legend_y}" stroke="{color}" '
                       f'stroke-width="{width_px}"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
            out.append(f'<text x="{lx + 34}" y="{legend_y + 4}">{escape(label)}, C={c}</text>')
            legend_y += 18
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+", help="--benchmark_format=json outputs")
    ap.add_argument("--svg", help="chart to write (default: the first input with .svg)")
    ap.add_argument("--title", help="chart title (default: from the inputs' names)")
    args = ap.parse_args(argv)
    records = load(args.json)
    if not records:
        print("no benchmarks named op/T:<T>/C:<C> in the inputs", file=sys.stderr)
        return 1
    label_ops(records)
    print(table(records))
    print()
    print("Where attention becomes slower than Bi-WKV (time per sequence):")
    print(crossovers(records))
    svg = args.svg or os.path.splitext(args.json[0])[0] + ".svg"
    title = args.title or "time per sequence vs T: " + ", ".join(
        os.path.splitext(os.path.basename(p))[0] for p in args.json)
    with open(svg, "w") as f:
        f.write(svg_chart(records, title))
    print(f"\nwrote {svg}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
