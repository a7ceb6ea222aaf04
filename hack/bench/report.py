#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The benchmark's report: reads RESULTS/dataplane.csv, controlplane.csv and
machine.md (written by hack/bench.sh), writes RESULTS/results.md (the
tables, the targets and whether they were met) and RESULTS/plot.png (rate
and p99 latency against the number of services, per path; gnuplot), and
prints results.md.

  report.py RESULTS_DIR

Data plane: the value of a path is the median over the repetitions. A ratio
(socklb ÷ direct, ...) is the median over the repetitions of the ratio of
the two paths measured side by side in the same repetition.
"""

import csv
import math
import os
import statistics
import subprocess
import sys
from collections import defaultdict

PATHS = ["direct", "socklb", "nftables", "iptables", "traced"]
PLOT_PATHS = PATHS[:4]
LOADS = {
    "crr1": "Short TCP connections (connect, 64 B request, 64 B reply, close), one at a time",
    "crr32": "Short TCP connections, 32 concurrent",
    "udp1": "UDP request/response (64 B each way, unconnected socket), one in flight",
    "udp32": "UDP request/response, 32 sockets each with one request in flight",
    "stream": "TCP stream: one long-lived connection, 128 KiB writes",
}
RATE_UNIT = {"crr1": "conn/s", "crr32": "conn/s", "udp1": "req/s", "udp32": "req/s", "stream": "Gbit/s"}
PLOT_LOADS = ["crr1", "crr32", "udp1"]
CNI_VARIANTS = [
    ("bridge", "bridge + host-local"),
    ("socklb-optout", "bridge + host-local + socklb, pod not opted in"),
    ("socklb-optin", "bridge + host-local + socklb, pod opted in"),
]


def nearest_rank(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    return v[max(1, math.ceil(p / 100.0 * len(v))) - 1]


def fmt(x, digits=0):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return "{:,.{d}f}".format(x, d=digits)


def fmt_ratio(x):
    return "—" if x is None or math.isnan(x) else "%.2f" % x


class DataPlane:
    def __init__(self, path):
        # (services, load, path) → {rep: row}
        self.rows = defaultdict(dict)
        # A control-plane-only run (BENCH_SCALES="") has none.
        if os.path.exists(path):
            with open(path) as f:
                for r in csv.DictReader(f):
                    key = (int(r["services"]), r["load"], r["path"])
                    self.rows[key][int(r["rep"])] = {
                        "rate": float(r["rate"]), "p50": float(r["p50_us"]), "p99": float(r["p99_us"]),
                        "errors": int(r["errors"]), "conntrack": int(r["conntrack"] or 0),
                    }
        self.scales = sorted({k[0] for k in self.rows})
        self.loads = [l for l in LOADS if any(k[1] == l for k in self.rows)]

    def median(self, scale, load, path, field):
        runs = self.rows.get((scale, load, path), {})
        values = [r[field] for r in runs.values() if r["errors"] >= 0]
        return statistics.median(values) if values else float("nan")

    def ratio(self, scale, load, path, other, field="rate"):
        """Median over repetitions of path ÷ other, both from the same repetition."""
        a = self.rows.get((scale, load, path), {})
        b = self.rows.get((scale, load, other), {})
        values = [a[rep][field] / b[rep][field] for rep in a
                  if rep in b and b[rep][field] > 0 and a[rep]["errors"] >= 0 and b[rep]["errors"] >= 0]
        return statistics.median(values) if values else float("nan")

    def errors(self, scale, load, path):
        return sum(max(r["errors"], 0) for r in self.rows.get((scale, load, path), {}).values())

    def failed_runs(self, scale, load, path):
        return sum(1 for r in self.rows.get((scale, load, path), {}).values() if r["errors"] < 0)

    def reps(self):
        return max((len(v) for v in self.rows.values()), default=0)


def dataplane_tables(dp):
    out = []
    for load in dp.loads:
        unit = RATE_UNIT[load]
        stream = load == "stream"
        out.append("### %s\n" % LOADS[load])
        if stream:
            out.append("| services | path | %s | ÷ direct | ÷ nftables | ÷ iptables |" % unit)
            out.append("|---:|---|---:|---:|---:|---:|")
        else:
            out.append("| services | path | %s | p50 µs | p99 µs | ÷ direct | ÷ nftables | ÷ iptables "
                       "| p99 ÷ nftables |" % unit)
            out.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for scale in dp.scales:
            for path in PATHS:
                if (scale, load, path) not in dp.rows:
                    continue
                rate = dp.median(scale, load, path, "rate")
                ratios = [fmt_ratio(dp.ratio(scale, load, path, o)) if o != path else "—"
                          for o in ("direct", "nftables", "iptables")]
                note = ""
                if dp.errors(scale, load, path) or dp.failed_runs(scale, load, path):
                    note = " ⚠ %d failed ops, %d failed runs" % (dp.errors(scale, load, path),
                                                                 dp.failed_runs(scale, load, path))
                if stream:
                    out.append("| %s | %s%s | %s | %s |" % (fmt(scale), path, note, fmt(rate * 8 / 1e9, 2),
                                                             " | ".join(ratios)))
                else:
                    p99_vs_nft = fmt_ratio(dp.ratio(scale, load, path, "nftables", "p99")) \
                        if path != "nftables" else "—"
                    out.append("| %s | %s%s | %s | %s | %s | %s | %s |" % (
                        fmt(scale), path, note, fmt(rate), fmt(dp.median(scale, load, path, "p50"), 1),
                        fmt(dp.median(scale, load, path, "p99"), 1), " | ".join(ratios), p99_vs_nft))
        out.append("")
    return out


def tracing_table(dp):
    """socklb ÷ direct with tracing off and on (socklb-syncd trace running), side by side in each run."""
    loads = [l for l in ("crr1", "crr32") if any((s, l, "traced") in dp.rows for s in dp.scales)]
    if not loads:
        return []
    out = ["## Tracing", "",
           "Short TCP connections per second ÷ direct, with `socklb-syncd trace --json` off (socklb) and on "
           "(traced: the tracer pinned to the servers' CPU, its output to /dev/null), measured side by side in "
           "each run.", "",
           "| services | load | ÷ direct, tracing off | ÷ direct, tracing on | on ÷ off |", "|---:|---|---:|---:|---:|"]
    for scale in dp.scales:
        for load in loads:
            if (scale, load, "traced") not in dp.rows:
                continue
            out.append("| %s | %s | %s | %s | %s |" % (
                fmt(scale), {"crr1": "1 at a time", "crr32": "32 concurrent"}[load],
                fmt_ratio(dp.ratio(scale, load, "socklb", "direct")), fmt_ratio(dp.ratio(scale, load, "traced", "direct")),
                fmt_ratio(dp.ratio(scale, load, "traced", "socklb"))))
    return out + [""]


class ControlPlane:
    """metric,path,services,value rows (value: ms, or KiB for memory); older runs have no services column."""

    def __init__(self, path, default_services=0):
        self.values = defaultdict(list)
        if not os.path.exists(path):
            return
        with open(path) as f:
            for r in csv.DictReader(f):
                services = int(r.get("services") or default_services)
                value = float(r["value"] if "value" in r else r["value_ms"])
                self.values[(r["metric"], r["path"], services)].append(value)

    def get(self, metric, path, services):
        return self.values.get((metric, path, services), [])

    def scales(self, metric, path):
        return sorted({k[2] for k in self.values if k[0] == metric and k[1] == path})


def mib(kib):
    return "%.1f MiB" % (kib / 1024)


DAEMON_PATHS = [("socklb", "file source, one file per namespace"),
                ("socklb-onefile", "file source, the whole cluster in one file"),
                ("socklb-kube", "API source (test API server)")]


def memory_rows(cp, services):
    """The daemon's memory, per source: after its initial sync and its peak then, the same after the changes."""
    out = []
    for path, label in DAEMON_PATHS:
        v = [cp.get(m, path, services) for m in ("rss", "hwm", "rss_after_changes", "hwm_after_changes", "file")]
        if v[0]:
            out.append("| %s | %s |" % (label, " | ".join(mib(x[0]) if x and x[0] else "—" for x in v)))
    return out


def controlplane_tables(cp, services, large):
    out = ["| %s services | socklb | nftables | iptables |" % fmt(services), "|---|---:|---:|---:|"]
    cells = []
    for path in ("socklb", "nftables", "iptables"):
        v = cp.get("install", path, services)
        cells.append("%s ms (median of %d)" % (fmt(statistics.median(v)), len(v)) if v else "—")
    out.append("| install all services from nothing | %s |" % " | ".join(cells))
    def change(v):
        return "%s / %s / %s ms (n=%d)" % (fmt(nearest_rank(v, 50), 1), fmt(nearest_rank(v, 99), 1),
                                           fmt(max(v), 1), len(v)) if v else "—"

    out.append("| one endpoint change, p50 / p99 / max | %s |"
               % " | ".join(change(cp.get("epchange", p, services)) for p in ("socklb", "nftables", "iptables")))
    if cp.get("epchange", "socklb-onefile", services):
        out.append("| the same, socklb-syncd reading the whole cluster from one file | %s | | |"
                   % change(cp.get("epchange", "socklb-onefile", services)))
    if cp.get("epchange", "socklb-kube", services):
        out.append("| the same, socklb-syncd watching the (test) API server | %s | | |"
                   % change(cp.get("epchange", "socklb-kube", services)))
    out.append("")
    rows = memory_rows(cp, services)
    if rows:
        f = cp.get("file", "socklb-onefile", services)
        out += ["| socklb-syncd at %s services | RSS after the initial sync | peak (VmHWM) then | RSS after the "
                "endpoint changes | peak then | largest file read |" % fmt(services),
                "|---|---:|---:|---:|---:|---:|"] + rows
        out += ["", "The cluster's JSON is %s." % mib(f[0]) if f else "", ""]
    v = cp.get("install", "socklb", large)
    if large and v:
        rss, hwm = cp.get("rss", "socklb-onefile", large), cp.get("hwm", "socklb-onefile", large)
        f = cp.get("file", "socklb-onefile", large)
        out += ["| socklb at %s services | |" % fmt(large), "|---|---:|",
                "| install all services from nothing (`--once`) | %s ms (median of %d) |"
                % (fmt(statistics.median(v)), len(v))]
        if rss:
            out.append("| daemon RSS after the initial sync (file source, one file of %s) | %s |"
                       % (mib(f[0]) if f else "?", mib(rss[0])))
            out.append("| its peak (VmHWM) | %s |" % mib(max(hwm)))
        out.append("")
    growth = sorted(set(cp.scales("install", "nftables")) | set(cp.scales("install", "iptables")))
    if len(growth) > 1:
        out += ["| install from nothing | %s |" % " | ".join("%s services" % fmt(n) for n in growth),
                "|---|%s" % ("---:|" * len(growth))]
        for path in ("socklb", "nftables", "iptables"):
            cells = []
            for n in growth:
                w = cp.get("install", path, n)
                cells.append("%s ms" % fmt(statistics.median(w)) if w else "—")
            out.append("| %s | %s |" % (path, " | ".join(cells)))
        out.append("")
    out.append("| CNI ADD through the chain (cnitool) | p50 ms | p99 ms | ADDs |")
    out.append("|---|---:|---:|---:|")
    for key, label in CNI_VARIANTS:
        v = cp.get("cni_add", key, 0)
        if v:
            out.append("| %s | %s | %s | %d |" % (label, fmt(nearest_rank(v, 50), 1), fmt(nearest_rank(v, 99), 1),
                                                  len(v)))
    v = cp.get("cni_add", "socklb-first", 0)
    if v:
        out.append("| first opted-in ADD of a node (loads and pins the programs) | %s | | 1 |" % fmt(v[0], 1))
    out += [
        "",
        "- install: `socklb-syncd --once` into an empty bpffs root (process start, JSON parse, translation, map "
        "writes); `nft -f` of kube-proxy's whole ruleset as one transaction, as its first sync writes it; "
        "`iptables-restore` of kube-proxy's ruleset, each into an empty network namespace. kube-proxy adds "
        "`--noflush`, which iptables-nft (1.8.9) makes quadratic in userspace (a strcmp walk of the chain list "
        "per chain), so the plain restore, iptables' best case, is what is timed.",
        "- one endpoint change (a backend pod leaves the measured service, then comes back): socklb from the "
        "atomic rename of the JSON file holding the change to the pinned map showing the new backend count "
        "(inotify, re-read and parse of that file, diff, map write), with `--source file:DIR` and one file per "
        "namespace, and with the whole cluster in one file; nftables/iptables only the transaction kube-proxy's "
        "partial sync runs (`nft -f` of the rewritten chains; `iptables-restore --noflush --counters` with "
        "KUBE-SERVICES in full), not kube-proxy's own work nor its minSyncPeriod (1 s by default); from the API: "
        "the slice applied at the test API server (Python, in the same run), sent as a watch event, to the map.",
        "- memory: the daemon's VmRSS and VmHWM (/proc) once its initial sync is done, and again after the "
        "endpoint changes; a peak includes the text of the largest file read (held while it is parsed); a daemon "
        "that has read a file again keeps a read buffer as large as it.",
        "- CNI ADD: `cnitool add` of a new pod through the node's chain, timed from the runtime's side.",
        "",
    ]
    return out


def target_rows(dp, cp, cp_services, large):
    """(target, measured, met) for each target the project holds itself to."""
    rows = []

    def worst(loads, scales, fn, pick):
        vals = [(fn(s, l), s, l) for s in scales for l in loads if (s, l, "socklb") in dp.rows]
        vals = [v for v in vals if not math.isnan(v[0])]
        return pick(vals, key=lambda v: v[0]) if vals else None

    def where(v):
        load = {"crr1": "1 at a time", "crr32": "32 concurrent", "udp1": "1 in flight", "udp32": "32 in flight"}[v[2]]
        return "%.3f (%s, %s service%s)" % (v[0], load, fmt(v[1]), "" if v[1] == 1 else "s")

    def add(name, v, ok, scope=""):
        if v is None:
            rows.append((name, "not measured%s" % scope, "—"))
        else:
            rows.append((name, "worst " + where(v), "yes" if ok(v[0]) else "**no**"))

    crr = ["crr1", "crr32"]
    add("short-connection rate ≥ 0.97× direct",
        worst(crr, dp.scales, lambda s, l: dp.ratio(s, l, "socklb", "direct"), min), lambda x: x >= 0.97)
    for other in ("nftables", "iptables"):
        add("short-connection rate ≥ 1.15× %s at 1 service" % other,
            worst(crr, [1], lambda s, l, o=other: dp.ratio(s, l, "socklb", o), min), lambda x: x >= 1.15,
            " (no 1-service run)")
        add("short-connection rate ≥ 1.3× %s at 10,000 services" % other,
            worst(crr, [10000], lambda s, l, o=other: dp.ratio(s, l, "socklb", o), min), lambda x: x >= 1.3,
            " (no 10,000-service run)")
    add("p99 short-connection latency ≤ 0.8× nftables",
        worst(crr, dp.scales, lambda s, l: dp.ratio(s, l, "socklb", "nftables", "p99"), max), lambda x: x <= 0.8)
    add("UDP request rate ≥ 0.95× direct",
        worst(["udp1", "udp32"], dp.scales, lambda s, l: dp.ratio(s, l, "socklb", "direct"), min),
        lambda x: x >= 0.95)
    at = "" if cp_services == 10000 else " (not at 10,000)"
    v = cp.get("install", "socklb", cp_services)
    if v:
        m = statistics.median(v)
        rows.append(("%s-service sync ≤ 250 ms (`--once`, process start included)" % fmt(cp_services),
                     "%s ms (median of %d, min %s)" % (fmt(m), len(v), fmt(min(v))),
                     ("yes" if m <= 250 else "**no**") + at))
    v = cp.get("install", "socklb", large)
    if large and v:
        m = statistics.median(v)
        rows.append(("%s-service sync ≤ 2.5 s" % fmt(large), "%s ms (median of %d, min %s)" % (
            fmt(m), len(v), fmt(min(v))), "yes" if m <= 2500 else "**no**"))
    for path, label in DAEMON_PATHS:
        rss, hwm, f = (cp.get(m, path, cp_services) for m in ("rss", "hwm", "file"))
        if rss:
            rows.append(("daemon RSS after sync ≤ 30 MiB (%s)" % label, mib(rss[0]),
                         ("yes" if rss[0] <= 30 * 1024 else "**no**") + at))
        if hwm and f:
            rows.append(("daemon peak RSS during that sync ≤ 30 MiB + its largest file (%s, %s)"
                         % (label, mib(f[0]) if f[0] else "none"), mib(hwm[0]),
                         ("yes" if hwm[0] <= 30 * 1024 + f[0] else "**no**") + at))
    rss = cp.get("rss", "socklb-onefile", large)
    if large and rss:
        rows.append(("daemon RSS at %s services ≤ 200 MiB" % fmt(large), mib(rss[0]),
                     "yes" if rss[0] <= 200 * 1024 else "**no**"))
    for path, how, limit in (("socklb", "one file per namespace", 10), ("socklb-onefile", "the whole cluster in one file", 10),
                             ("socklb-kube", "API source, watch event", 5)):
        v = cp.get("epchange", path, cp_services)
        if v:
            p99 = nearest_rank(v, 99)
            rows.append(("endpoint change → map < %d ms p99 (%s)" % (limit, how), "%s ms p99, %s ms p50 (n=%d)" % (
                fmt(p99, 1), fmt(nearest_rank(v, 50), 1), len(v)), "yes" if p99 < limit else "**no**"))
    return rows


def write_plot(dp, results):
    data = os.path.join(results, "plot-data.txt")
    loads = [l for l in PLOT_LOADS if l in dp.loads]
    if not loads:
        return None
    with open(data, "w") as f:
        for load in loads:
            f.write("# %s: services, then rate and p99 µs for %s\n" % (load, " ".join(PLOT_PATHS)))
            for scale in dp.scales:
                cols = [str(scale)] + ["%g" % dp.median(scale, load, p, "rate") for p in PLOT_PATHS] + \
                       ["%g" % dp.median(scale, load, p, "p99") for p in PLOT_PATHS]
                f.write(" ".join(cols) + "\n")
            f.write("\n\n")
    script = os.path.join(results, "plot.gp")
    titles = {"crr1": "short TCP connections, 1 at a time", "crr32": "short TCP connections, 32 concurrent",
              "udp1": "UDP request/response, 1 in flight"}
    lines = [
        "set terminal pngcairo size %d,840 font ',10'" % (480 * len(loads)),
        "set output 'plot.png'",
        # One key for every panel, at the top of the image; the panels leave room for it.
        "set multiplot layout 2,%d margins 0.07,0.98,0.07,0.9 spacing 0.08,0.13" % len(loads),
        "set key at screen 0.5,0.985 center top horizontal box",
        "set logscale x", "set xrange [0.5:%g]" % (max(dp.scales) * 2), "set xlabel 'services installed'",
        "set grid", "set xtics (1, 10, 100, 1000, 10000)",
    ]
    styles = ["lc rgb '#333333' pt 7", "lc rgb '#1f77b4' pt 5", "lc rgb '#2ca02c' pt 9", "lc rgb '#d62728' pt 11"]
    for row, (col_base, ylabel) in enumerate([(2, "per second"), (6, "p99 latency, µs")]):
        for i, load in enumerate(loads):
            lines.append("set title '%s'" % titles[load])
            lines.append("set ylabel '%s'" % (RATE_UNIT[load] if row == 0 else ylabel))
            lines.append("set yrange [0:*]")
            plots = ["'plot-data.txt' index %d using 1:%d with linespoints lw 2 %s title '%s'"
                     % (i, col_base + j, styles[j], p) for j, p in enumerate(PLOT_PATHS)]
            lines.append("plot " + ", ".join(plots))
    lines.append("unset multiplot")
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    try:
        # Relative names inside the script: the results directory can move.
        subprocess.run(["gnuplot", "plot.gp"], cwd=results, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("report: gnuplot failed: %s" % getattr(e, "stderr", e), file=sys.stderr)
        return None
    return "plot.png"


def main():
    if len(sys.argv) != 2:
        print("usage: report.py RESULTS_DIR", file=sys.stderr)
        return 2
    results = sys.argv[1]
    dp = DataPlane(os.path.join(results, "dataplane.csv"))
    params = {}
    params_path = os.path.join(results, "params.txt")
    if os.path.exists(params_path):
        with open(params_path) as f:
            params = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    cp_services = int(params.get("cp_services", "0"))
    large = int(params.get("cp_large", "0"))
    cp = ControlPlane(os.path.join(results, "controlplane.csv"), cp_services)
    machine = ""
    if os.path.exists(os.path.join(results, "machine.md")):
        with open(os.path.join(results, "machine.md")) as f:
            machine = f.read().rstrip("\n")

    out = ["# socklb benchmark, %s" % os.path.basename(os.path.normpath(results)), "", machine, ""]
    out += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    out += ["| %s | %s | %s |" % r for r in target_rows(dp, cp, cp_services, large)]
    if dp.rows:
        out += ["", "## Data plane", "",
                "Median of %d runs per cell; a ratio is the median of the per-run ratios of two paths measured "
                "side by side in the same run (÷ nftables on the socklb row = socklb's rate divided by nftables')."
                % dp.reps(), ""]
        out += dataplane_tables(dp)
        out += tracing_table(dp)
    else:
        out += [""]
    if cp.values:
        out += ["## Control plane", ""] + controlplane_tables(cp, cp_services, large)
    plot = write_plot(dp, results)
    if plot:
        out += ["![rate and p99 latency vs services](%s)" % plot, ""]
    text = "\n".join(out)
    with open(os.path.join(results, "results.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
