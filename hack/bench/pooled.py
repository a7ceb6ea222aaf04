#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Pool one path ratio over several benchmark runs.

  pooled.py PATH OTHER RESULTS_DIR...

For each load and scale found, the per-repetition ratios PATH ÷ OTHER (both
measured side by side in the same repetition, as report.py takes them) of
every run are pooled, and their median is printed with a 95 % interval for
it (distribution-free: the order statistics whose binomial coverage is at
least 95 %), for the rate and for the CPU time per operation (tasks).

What it is for: comparing builds. Run hack/bench.sh a few times with
BUILD= pointing at each build (runs interleaved), then pool each build's
runs; two builds differ where their intervals do not overlap.
"""

import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import DataPlane, LOADS  # noqa: E402


def median_interval(values, coverage=0.95):
    """(low, high) order statistics around the median covering it with at least `coverage`."""
    v = sorted(values)
    n = len(v)
    if n < 6:
        return v[0], v[-1]
    # P(k <= B(n, 1/2) < n - k) for the largest k that still covers.
    best = 0
    for k in range(n // 2):
        covered = sum(math.comb(n, i) for i in range(k, n - k)) / 2 ** n
        if covered < coverage:
            break
        best = k
    return v[best], v[n - 1 - best]


def params_seconds(results):
    path = os.path.join(results, "params.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.startswith("seconds="):
                    return float(line.split("=", 1)[1])
    return 1.2


def main():
    if len(sys.argv) < 4:
        print("usage: pooled.py PATH OTHER RESULTS_DIR...", file=sys.stderr)
        return 2
    path, other, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
    runs = [DataPlane(os.path.join(d, "dataplane.csv"), params_seconds(d)) for d in dirs]
    keys = sorted({(s, l) for dp in runs for s in dp.scales for l in dp.loads},
                  key=lambda k: (k[0], list(LOADS).index(k[1])))
    print("| services | load | %s ÷ %s, rate | CPU time per operation (tasks) | repetitions |" % (path, other))
    print("|---:|---|---:|---:|---:|")
    for scale, load in keys:
        cells = []
        n = 0
        for field in ("rate", "cpu"):
            values = [x for dp in runs for x in dp.ratios(scale, load, path, other, field)]
            if not values:
                cells.append("—")
                continue
            lo, hi = median_interval(values)
            cells.append("%.3f (%.3f–%.3f)" % (statistics.median(values), lo, hi))
            n = max(n, len(values))
        if n:
            print("| %s | %s | %s | %s | %d |" % (scale, load, cells[0], cells[1], n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
