#!/usr/bin/env python3
"""Cost-versus-size figure from bench/scale.sh's scale.json: wall time and peak RSS per stage
against the number of rows (log-log), one line per stage; refused stages are left out.
    /usr/bin/python3 bench/scale_plot.py DIR/scale.json OUT.svg"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROWS = {"1m": 1e6, "5m": 5e6, "20m": 2e7, "100m": 1e8}


def main(src, dst):
    stages = json.load(open(src))
    names = []
    for s in stages:
        if s["stage"] not in names:
            names.append(s["stage"])
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in names:
        pts = sorted((ROWS[s["size"]], s["wall_s"], s["peak_rss_mb"])
                     for s in stages if s["stage"] == name and s["status"] == "ok")
        if not pts:
            continue
        x = [p[0] for p in pts]
        ax_t.plot(x, [p[1] for p in pts], marker="o", label=name)
        ax_m.plot(x, [p[2] / 1024 for p in pts], marker="o", label=name)
    for ax, label in ((ax_t, "wall time (s)"), (ax_m, "peak RSS (GiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("interactions (synthetic log)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize=8)
    fig.suptitle("Cascade: cost per stage against log size (2 cores)")
    fig.tight_layout()
    fig.savefig(dst)
    print(f"wrote {dst}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
