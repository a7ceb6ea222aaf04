#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The benchmark's report: reads RESULTS/dataplane.csv, controlplane.csv and
machine.md (written by hack/bench.sh), writes RESULTS/results.md (the
tables, the targets and whether they were met) and RESULTS/plot.png (rate
and p99 latency against the number of services, per path; gnuplot), and
prints results.md.

  report.py RESULTS_DIR

Data plane: the value of a path is the median over the repetitions, with
the lowest and highest repetition beside it (with 5 repetitions, [min, max]
holds the true median with 94 % confidence whatever the distribution). A
ratio (socklb ÷ direct, ...) is the median over the repetitions of the ratio
of the two paths measured side by side in the same repetition, with its
range. CPU time per operation: the CPU time of the load generator and the 12
servers over the measured window divided by the operations in it ("tasks"),
and the busy time of the two pinned CPUs divided the same way ("CPUs").
"""

import csv
import math
import os
import statistics
import subprocess
import sys
from collections import defaultdict

PATHS = ["direct", "direct-random", "socklb", "nftables", "iptables", "traced"]
PLOT_PATHS = ["direct", "socklb", "nftables", "iptables"]
LOADS = {
    "crr1": "Short TCP connections (connect, 64 B request, 64 B reply, close), one at a time",
    "crr32": "Short TCP connections, 32 concurrent",
    "udp1": "UDP request/response (64 B each way, unconnected socket), one in flight",
    "udp32": "UDP request/response, 32 sockets each with one request in flight",
    "stream": "TCP stream: one long-lived connection, 128 KiB writes",
    "connect": "A UDP socket's connect() alone (socket, connect, close; no packet)",
}
LOAD_NOTES = {
    "connect": "What choosing a backend costs a socket, without the network work around it. nftables and "
               "iptables translate at the first packet, not at connect(): only socklb ÷ direct means anything here.",
}
RATE_UNIT = {"crr1": "conn/s", "crr32": "conn/s", "udp1": "req/s", "udp32": "req/s", "stream": "Gbit/s",
             "connect": "sockets/s"}
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


def fmt_spread(values, digits=0, ratio=False):
    """'median (min–max)' of the repetitions' values; '—' without any."""
    if not values:
        return "—"
    f = fmt_ratio if ratio else (lambda x: fmt(x, digits))
    m = statistics.median(values)
    if len(values) == 1:
        return f(m)
    return "%s (%s–%s)" % (f(m), f(min(values)), f(max(values)))


def rel_range(values):
    """(max − min) ÷ median: how far the repetitions of one cell spread."""
    if len(values) < 2 or statistics.median(values) == 0:
        return float("nan")
    return (max(values) - min(values)) / statistics.median(values)


def optional_float(value):
    return float(value) if value not in (None, "") else None


class DataPlane:
    def __init__(self, path, seconds):
        # (services, load, path) → {rep: row}
        self.rows = defaultdict(dict)
        # A control-plane-only run (BENCH_SCALES="") has none.
        if os.path.exists(path):
            self.load(path, seconds)
        self.scales = sorted({k[0] for k in self.rows})
        self.loads = [l for l in LOADS if any(k[1] == l for k in self.rows)]
        self.has_cpu = any("cpu" in r for runs in self.rows.values() for r in runs.values())

    def load(self, path, seconds):
        with open(path) as f:
            for r in csv.DictReader(f):
                key = (int(r["services"]), r["load"], r["path"])
                row = {
                    "rate": float(r["rate"]), "p50": float(r["p50_us"]), "p99": float(r["p99_us"]),
                    "errors": int(r["errors"]), "conntrack": int(r["conntrack"] or 0),
                }
                # Per operation; a stream's operation is one megabyte. Runs made before the CPU
                # accounting (or whose accounting failed) have none.
                client, server = optional_float(r.get("cpu_client_us")), optional_float(r.get("cpu_server_us"))
                busy = optional_float(r.get("busy_us"))
                max_sockets = optional_float(r.get("max_sockets"))
                if max_sockets is not None:
                    row["max_sockets"] = max_sockets
                # Percent busy of the load generator's and of the servers' CPU over the window.
                for side in ("loadgen", "server"):
                    v = optional_float(r.get("busy_%s_us" % side))
                    if v is not None:
                        row["busy_" + side] = 100 * v / (seconds * 1e6)
                ops = float(r["ops"]) if r["load"] != "stream" else row["rate"] * seconds / 1e6
                if client is not None and server is not None and ops > 0:
                    row["cpu"] = (client + server) / ops
                    if busy is not None:
                        row["busy"] = busy / ops
                self.rows[key][int(r["rep"])] = row

    def values(self, scale, load, path, field):
        runs = self.rows.get((scale, load, path), {})
        return [r[field] for r in runs.values() if r["errors"] >= 0 and field in r]

    def median(self, scale, load, path, field):
        values = self.values(scale, load, path, field)
        return statistics.median(values) if values else float("nan")

    def ratios(self, scale, load, path, other, field="rate"):
        """path ÷ other per repetition, both from the same repetition."""
        a = self.rows.get((scale, load, path), {})
        b = self.rows.get((scale, load, other), {})
        return [a[rep][field] / b[rep][field] for rep in a
                if rep in b and field in a[rep] and field in b[rep] and b[rep][field] > 0
                and a[rep]["errors"] >= 0 and b[rep]["errors"] >= 0]

    def ratio(self, scale, load, path, other, field="rate"):
        """Median over repetitions of path ÷ other, both from the same repetition."""
        values = self.ratios(scale, load, path, other, field)
        return statistics.median(values) if values else float("nan")

    def has(self, scale, load, path):
        return bool(self.rows.get((scale, load, path)))

    def errors(self, scale, load, path):
        return sum(max(r["errors"], 0) for r in self.rows.get((scale, load, path), {}).values())

    def failed_runs(self, scale, load, path):
        return sum(1 for r in self.rows.get((scale, load, path), {}).values() if r["errors"] < 0)

    def reps(self):
        return max((len(v) for v in self.rows.values()), default=0)


CPU_UNIT = {"crr1": "conn", "crr32": "conn", "udp1": "req", "udp32": "req", "stream": "MB", "connect": "socket"}


def dataplane_tables(dp, backends):
    out = []
    for load in dp.loads:
        unit = RATE_UNIT[load]
        stream = load == "stream"
        out.append("### %s\n" % LOADS[load])
        if load in LOAD_NOTES:
            out.append(LOAD_NOTES[load] + "\n")
        # The random-spread direct path runs where the spread matters (UDP, 32 sockets): a reference for the tail.
        p99_refs = ["direct"] + (["direct-random"] if any(dp.has(sc, load, "direct-random") for sc in dp.scales)
                                 else []) + ["nftables"]
        spread = any(v > 1 for sc in dp.scales for p in PATHS for v in dp.values(sc, load, p, "max_sockets"))
        if stream:
            out.append("| services | path | %s | ÷ direct | ÷ nftables | ÷ iptables |" % unit)
            out.append("|---:|---|---:|---:|---:|---:|")
        else:
            out.append("| services | path | %s | p50 µs | p99 µs | ÷ direct | ÷ nftables | ÷ iptables | %s |%s" % (
                unit, " | ".join("p99 ÷ %s" % r for r in p99_refs), " most sockets on one backend |" if spread else ""))
            out.append("|---:|---|---:|---:|---:|---:|---:|---:|%s%s" % ("---:|" * len(p99_refs), "---:|" if spread else ""))
        for scale in dp.scales:
            for path in PATHS:
                if not dp.has(scale, load, path):
                    continue
                ratios = [fmt_spread(dp.ratios(scale, load, path, o), ratio=True) if o != path else "—"
                          for o in ("direct", "nftables", "iptables")]
                note = ""
                if dp.errors(scale, load, path) or dp.failed_runs(scale, load, path):
                    note = " ⚠ %d failed ops, %d failed runs" % (dp.errors(scale, load, path),
                                                                 dp.failed_runs(scale, load, path))
                if stream:
                    gbps = [v * 8 / 1e9 for v in dp.values(scale, load, path, "rate")]
                    out.append("| %s | %s%s | %s | %s |" % (fmt(scale), path, note, fmt_spread(gbps, 2),
                                                             " | ".join(ratios)))
                else:
                    p99_vs = [fmt_spread(dp.ratios(scale, load, path, o, "p99"), ratio=True) if o != path else "—"
                              for o in p99_refs]
                    out.append("| %s | %s%s | %s | %s | %s | %s | %s |%s" % (
                        fmt(scale), path, note, fmt_spread(dp.values(scale, load, path, "rate")),
                        fmt_spread(dp.values(scale, load, path, "p50"), 1),
                        fmt_spread(dp.values(scale, load, path, "p99")), " | ".join(ratios), " | ".join(p99_vs),
                        " %s |" % fmt_spread(dp.values(scale, load, path, "max_sockets")) if spread else ""))
        out.append("")
        if dp.has_cpu:
            out += cpu_table(dp, load)
        if load == "udp32":
            out += backends.table(load)
    return out


def cpu_table(dp, load):
    """CPU time per operation: the measure other work on the machine moves least."""
    unit = CPU_UNIT[load]
    out = ["CPU time per %s: tasks = the load generator and the servers (their own CPU time, the kernel work "
           "done in their context included); CPUs = busy time of the two pinned CPUs, whatever ran there; "
           "busy %% = how much of the window each of them was busy (the load generator's CPU, the servers').\n"
           % ("megabyte" if unit == "MB" else "operation"),
           "| services | path | tasks µs/%s | ÷ direct | ÷ nftables | CPUs µs/%s | ÷ direct | load generator's CPU "
           "busy %% | servers' CPU busy %% |" % (unit, unit),
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for scale in dp.scales:
        for path in PATHS:
            if not dp.has(scale, load, path):
                continue
            vs = [fmt_spread(dp.ratios(scale, load, path, o, "cpu"), ratio=True) if o != path else "—"
                  for o in ("direct", "nftables")]
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                fmt(scale), path, fmt_spread(dp.values(scale, load, path, "cpu"), 2), " | ".join(vs),
                fmt_spread(dp.values(scale, load, path, "busy"), 2),
                fmt_spread(dp.ratios(scale, load, path, "direct", "busy"), ratio=True) if path != "direct" else "—",
                fmt_spread(dp.values(scale, load, path, "busy_loadgen")),
                fmt_spread(dp.values(scale, load, path, "busy_server"))))
    out.append("")
    return out


def spread_table(dp):
    """How far the repetitions of a cell spread, per measure: which figures a run can be trusted for."""
    measures = [("rate", "rate", None), ("p50 latency", "p50", None), ("p99 latency", "p99", None),
                ("socklb ÷ direct, rate", "rate", "direct"), ("socklb ÷ direct, p99", "p99", "direct")]
    if dp.has_cpu:
        measures += [("CPU time per operation, tasks", "cpu", None), ("CPU time per operation, CPUs", "busy", None),
                     ("socklb ÷ direct, CPU time (tasks)", "cpu", "direct"),
                     ("socklb ÷ direct, CPU time (CPUs)", "busy", "direct")]
    out = ["| measure | median spread of a cell | widest (cell) |", "|---|---:|---:|"]
    for name, field, other in measures:
        spreads = []
        for scale in dp.scales:
            for load in dp.loads:
                if other:
                    if load == "stream" and field == "p99":
                        continue
                    spreads.append((rel_range(dp.ratios(scale, load, "socklb", other, field)), scale, load, "socklb"))
                    continue
                for path in PATHS:
                    if load == "stream" and field in ("p50", "p99"):
                        continue
                    spreads.append((rel_range(dp.values(scale, load, path, field)), scale, load, path))
        spreads = [v for v in spreads if not math.isnan(v[0])]
        if not spreads:
            continue
        w = max(spreads)
        out.append("| %s | ±%.1f %% | ±%.1f %% (%s, %s, %s services) |" % (
            name, 50 * statistics.median(v[0] for v in spreads), 50 * w[0], w[3], w[2], fmt(w[1])))
    return out + [""]


class Backends:
    """backends.csv: per UDP run, what each backend served and what its server task spent."""

    def __init__(self, path):
        self.rows = []
        if not os.path.exists(path):
            return
        with open(path) as f:
            for r in csv.DictReader(f):
                self.rows.append(r)

    def table(self, load):
        """Each backend's p50/p99 and its server's run-queue wait, by how many of the sockets it served."""
        groups = defaultdict(list)
        for r in self.rows:
            if r["load"] == load and int(r["ops"]) > 0:
                groups[(r["path"], int(r["sockets"]))].append(r)
        if not groups:
            return []
        out = ["Per backend, over every run and scale: latency of the requests it served and its server's time "
               "waiting for CPU 1, by how many of the 32 sockets it served.\n",
               "| path | sockets on the backend | backend-runs | p50 µs | p99 µs | server waits per run, µs |"
               " server CPU µs per request |",
               "|---|---:|---:|---:|---:|---:|---:|"]
        for path in PATHS:
            for sockets in sorted(k[1] for k in groups if k[0] == path):
                rs = groups[(path, sockets)]
                wait = [float(r["server_wait_us"]) / float(r["server_runs"]) for r in rs
                        if r["server_runs"] and float(r["server_runs"]) > 0]
                cpu = [float(r["server_run_us"]) / float(r["ops"]) for r in rs if r["server_run_us"]]
                out.append("| %s | %d | %d | %s | %s | %s | %s |" % (
                    path, sockets, len(rs), fmt(statistics.median(float(r["p50_us"]) for r in rs), 1),
                    fmt(statistics.median(float(r["p99_us"]) for r in rs)),
                    fmt(statistics.median(wait), 1) if wait else "—", fmt(statistics.median(cpu), 2) if cpu else "—"))
        return out + [""]


def tracing_table(dp):
    """socklb ÷ direct with tracing off and on (socklb-syncd trace running), side by side in each run."""
    loads = [l for l in ("crr1", "crr32") if any(dp.has(s, l, "traced") for s in dp.scales)]
    if not loads:
        return []
    out = ["## Tracing", "",
           "Short TCP connections per second ÷ direct, with `socklb-syncd trace --json` off (socklb) and on "
           "(traced: the tracer pinned to the servers' CPU, its output to /dev/null), measured side by side in "
           "each run.", "",
           "| services | load | ÷ direct, tracing off | ÷ direct, tracing on | on ÷ off |", "|---:|---|---:|---:|---:|"]
    for scale in dp.scales:
        for load in loads:
            if not dp.has(scale, load, "traced"):
                continue
            out.append("| %s | %s | %s | %s | %s |" % (
                fmt(scale), {"crr1": "1 at a time", "crr32": "32 concurrent"}[load],
                fmt_spread(dp.ratios(scale, load, "socklb", "direct"), ratio=True),
                fmt_spread(dp.ratios(scale, load, "traced", "direct"), ratio=True),
                fmt_spread(dp.ratios(scale, load, "traced", "socklb"), ratio=True)))
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
    add("short-connection rate, 32 concurrent, ≥ 0.98× direct",
        worst(["crr32"], dp.scales, lambda s, l: dp.ratio(s, l, "socklb", "direct"), min), lambda x: x >= 0.98)
    if dp.has_cpu:
        add("CPU time per short connection (tasks) ≤ 1.02× direct",
            worst(crr, dp.scales, lambda s, l: dp.ratio(s, l, "socklb", "direct", "cpu"), max), lambda x: x <= 1.02)
    add("UDP p99, 32 sockets, ≤ 1.1× direct",
        worst(["udp32"], dp.scales, lambda s, l: dp.ratio(s, l, "socklb", "direct", "p99"), max), lambda x: x <= 1.1)
    # direct deals the 32 sockets out evenly; direct-random draws each one's backend as socklb does.
    add("UDP p99, 32 sockets, ≤ 1.1× direct-random (the same random spread of sockets)",
        worst(["udp32"], dp.scales, lambda s, l: dp.ratio(s, l, "socklb", "direct-random", "p99"), max),
        lambda x: x <= 1.1)
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
    params = {}
    params_path = os.path.join(results, "params.txt")
    if os.path.exists(params_path):
        with open(params_path) as f:
            params = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    cp_services = int(params.get("cp_services", "0"))
    large = int(params.get("cp_large", "0"))
    dp = DataPlane(os.path.join(results, "dataplane.csv"), float(params.get("seconds", "1.2")))
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
                "Median of %d runs per cell, (lowest–highest run) beside it; a ratio is the median of the per-run "
                "ratios of two paths measured side by side in the same run (÷ nftables on the socklb row = socklb's "
                "rate divided by nftables')." % dp.reps(), ""]
        out += dataplane_tables(dp, Backends(os.path.join(results, "backends.csv")))
        if dp.reps() > 1:
            out += ["### How far the runs of a cell spread", "",
                    "(highest − lowest run) ÷ 2 ÷ median, over every cell of the tables above.", ""]
            out += spread_table(dp)
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
