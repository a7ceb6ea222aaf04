#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kube-proxy's iptables-mode rules (IPv4) for a Services/EndpointSlices JSON
file, as iptables-restore input, in the shapes kube-proxy's iptables proxier
writes: nat KUBE-SERVICES with one rule per service port (-d VIP --dport P
-j KUBE-SVC-*), KUBE-SVC-* choosing an endpoint with `-m statistic --mode
random --probability 1/(n-i)`, KUBE-SEP-* doing the DNAT, KUBE-MARK-MASQ and
KUBE-POSTROUTING for masquerading, and the filter-table chains with their
conntrack-state jumps. Chain names follow kube-proxy's (hashed).

  gen_iptables.py CLUSTER.json [--cluster-cidr C]
      the whole ruleset, for plain `iptables-restore` (replaces the filter and
      nat tables), including the jumps from the built-in chains
  gen_iptables.py --partial OLD.json NEW.json [...]
      kube-proxy's partial sync from OLD to NEW, for `iptables-restore
      --noflush --counters`: the top-level chains in full (KUBE-SERVICES holds
      every service port) and the KUBE-SVC/KUBE-SEP chains of the service
      ports whose endpoints changed. Chains of endpoints that went away stay
      (above 1000 endpoints kube-proxy deletes stale chains only once per
      sync period).
"""

import argparse
import base64
import hashlib
import sys

import kube_model

MASQ_MARK = "0x4000"
# kube-proxy's largeClusterEndpointsThreshold: above it, per-endpoint comments are left out.
LARGE_CLUSTER_ENDPOINTS = 1000


def proto_hash(*parts):
    return base64.b32encode(hashlib.sha256("".join(parts).encode()).digest()).decode()[:16]


def svc_chain(sp):
    return "KUBE-SVC-" + proto_hash(sp.name_string, sp.protocol)


def sep_chain(sp, ep):
    return "KUBE-SEP-" + proto_hash(sp.name_string, sp.protocol, "%s:%d" % ep)


def chain_line(name):
    return ":%s - [0:0]" % name


def filter_table(full):
    lines = ["*filter"]
    if full:
        lines += [":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    lines += [chain_line(c) for c in
              ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL")]
    if full:
        lines += [
            '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
            '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
            '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
            '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
            '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
            '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
            '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
            '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        ]
    lines += [
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark %s/%s -j ACCEPT'
        % (MASQ_MARK, MASQ_MARK),
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        "COMMIT",
    ]
    return lines


def service_rule(sp):
    return ('-A KUBE-SERVICES -m comment --comment "%s cluster IP" -m %s -p %s -d %s --dport %d -j %s'
            % (sp.name_string, sp.protocol, sp.protocol, sp.cluster_ip, sp.port, svc_chain(sp)))


def reject_rule(sp):
    return ('-A KUBE-SERVICES -m comment --comment "%s has no endpoints" -m %s -p %s -d %s --dport %d -j REJECT'
            % (sp.name_string, sp.protocol, sp.protocol, sp.cluster_ip, sp.port))


def service_port_chains(sp, cluster_cidr, large):
    """(chain lines, rules) of one service port's KUBE-SVC and KUBE-SEP chains."""
    svc = svc_chain(sp)
    chains = [chain_line(svc)] + [chain_line(sep_chain(sp, ep)) for ep in sp.endpoints]
    rules = ['-A %s -m comment --comment "%s cluster IP" -m %s -p %s -d %s --dport %d ! -s %s -j KUBE-MARK-MASQ'
             % (svc, sp.name_string, sp.protocol, sp.protocol, sp.cluster_ip, sp.port, cluster_cidr)]
    n = len(sp.endpoints)
    for i, ep in enumerate(sp.endpoints):
        comment = "" if large else ' -m comment --comment "%s -> %s:%d"' % (sp.name_string, ep[0], ep[1])
        chance = " -m statistic --mode random --probability %0.10f" % (1.0 / (n - i)) if i < n - 1 else ""
        rules.append("-A %s%s%s -j %s" % (svc, comment, chance, sep_chain(sp, ep)))
    for ep in sp.endpoints:
        sep = sep_chain(sp, ep)
        comment = "" if large else " -m comment --comment %s" % sp.name_string
        rules.append("-A %s%s -s %s -j KUBE-MARK-MASQ" % (sep, comment, ep[0]))
        rules.append("-A %s%s -m %s -p %s -j DNAT --to-destination %s:%d"
                     % (sep, comment, sp.protocol, sp.protocol, ep[0], ep[1]))
    return chains, rules


def nat_table(ports, rewrite, cluster_cidr, full):
    """rewrite: the service ports whose KUBE-SVC/KUBE-SEP chains are written."""
    large = sum(len(sp.endpoints) for sp in ports) > LARGE_CLUSTER_ENDPOINTS
    chains = ["*nat"]
    if full:
        chains += [":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                   ":POSTROUTING ACCEPT [0:0]"]
    chains += [chain_line(c) for c in ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")]
    rules = []
    if full:
        rules += [
            '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        ]
    rules += [
        "-A KUBE-POSTROUTING -m mark ! --mark %s/%s -j RETURN" % (MASQ_MARK, MASQ_MARK),
        "-A KUBE-POSTROUTING -j MARK --xor-mark %s" % MASQ_MARK,
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
        "-A KUBE-MARK-MASQ -j MARK --or-mark %s" % MASQ_MARK,
    ]
    rewrite_keys = {sp.key for sp in rewrite}
    for sp in ports:
        if not sp.endpoints:
            continue
        rules.append(service_rule(sp))
        if sp.key in rewrite_keys:
            c, r = service_port_chains(sp, cluster_cidr, large)
            chains += c
            rules += r
    rules.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last '
                 'rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    return chains + rules + ["COMMIT"]


def with_rejects(filter_lines, ports):
    """Services without endpoints are rejected in filter KUBE-SERVICES (before COMMIT)."""
    rejects = [reject_rule(sp) for sp in ports if not sp.endpoints]
    return filter_lines[:-1] + rejects + filter_lines[-1:]


def full(ports, cluster_cidr):
    return with_rejects(filter_table(True), ports) + nat_table(ports, ports, cluster_cidr, True)


def partial(old, new, cluster_cidr):
    rewrite = [sp for sp, _ in kube_model.changed(old, new)]
    return with_rejects(filter_table(False), new) + nat_table(new, rewrite, cluster_cidr, False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cluster", nargs="+", help="CLUSTER.json, or OLD.json NEW.json with --partial")
    ap.add_argument("--partial", action="store_true")
    ap.add_argument("--cluster-cidr", default="10.244.0.0/16")
    args = ap.parse_args()
    try:
        if args.partial:
            if len(args.cluster) != 2:
                ap.error("--partial needs OLD.json NEW.json")
            lines = partial(kube_model.load(args.cluster[0]), kube_model.load(args.cluster[1]), args.cluster_cidr)
        else:
            if len(args.cluster) != 1:
                ap.error("give one CLUSTER.json")
            lines = full(kube_model.load(args.cluster[0]), args.cluster_cidr)
    except (OSError, ValueError) as e:
        print("gen_iptables: %s" % e, file=sys.stderr)
        return 1
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
