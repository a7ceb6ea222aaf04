#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kube-proxy's nftables-mode rules (IPv4) for a Services/EndpointSlices JSON
file, as an `nft -f` transaction, in the shapes kube-proxy's nftables proxier
writes: table ip kube-proxy; the service-ips verdict map keyed by
ip . proto . port → goto per-service-port chain; in that chain
`numgen random mod N vmap` → goto per-endpoint chain; there `dnat to`;
mark-for-masquerade and masquerading chains; the filter-hook chains that
check conntrack state. Chain names follow kube-proxy's (hash-name).

  gen_nft.py CLUSTER.json [--cluster-cidr C] [--service-cidr C]
      the whole ruleset; starts by deleting the table so it also replaces one
  gen_nft.py CLUSTER.json --split N --out-prefix P
      the same ruleset as files P-000.nft, P-001.nft, ... to apply in order,
      N service ports per transaction: kube-proxy writes one transaction,
      but on kernels where committing one with thousands of anonymous vmaps
      is quadratic (__nft_set_trans_bind walks the whole transaction per
      vmap) this sets up the benchmark's data-plane runs in seconds
  gen_nft.py --partial OLD.json NEW.json [...]
      the transaction of kube-proxy's partial sync from OLD to NEW: for each
      service port whose endpoints changed, its chains are added, flushed and
      rewritten; chains of endpoints that went away are flushed (kube-proxy
      deletes them in a later sync)
"""

import argparse
import base64
import hashlib
import sys

import kube_model

TABLE = "ip kube-proxy"
MASQ_MARK = "0x4000"


def hash_and_truncate(name):
    """kube-proxy's chain-name prefix: the first 8 base32 characters of sha256(name), then the name."""
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()
    name = digest[:8] + "-" + name
    return name if len(name) <= 200 else name[:197] + "..."


def chain_base(sp):
    return "%s/%s/%s/%s" % (sp.namespace, sp.name, sp.protocol, sp.port_name)


def service_chain(sp):
    return "service-" + hash_and_truncate(chain_base(sp))


def endpoint_chain(sp, ep):
    return "endpoint-" + hash_and_truncate("%s__%s/%d" % (chain_base(sp), ep[0], ep[1]))


def base_rules(cluster_cidr, service_cidr):
    t = TABLE
    return [
        "add table %s { comment \"rules for kube-proxy\" ; }" % t,
        "add set %s cluster-ips { type ipv4_addr ; comment \"Active ClusterIPs\" ; }" % t,
        "add set %s nodeport-ips { type ipv4_addr ; comment \"IPs that accept NodePort traffic\" ; }" % t,
        "add map %s firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }" % t,
        "add map %s no-endpoint-nodeports { type inet_proto . inet_service : verdict ; }" % t,
        "add map %s no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; }" % t,
        "add map %s service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; "
        "comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ; }" % t,
        "add map %s service-nodeports { type inet_proto . inet_service : verdict ; }" % t,
        "add chain %s cluster-ips-check" % t,
        "add chain %s filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }" % t,
        "add chain %s filter-output-pre-dnat { type filter hook output priority -110 ; }" % t,
        "add chain %s filter-forward { type filter hook forward priority 0 ; }" % t,
        "add chain %s filter-input { type filter hook input priority 0 ; }" % t,
        "add chain %s filter-output { type filter hook output priority 0 ; }" % t,
        "add chain %s firewall-check" % t,
        "add chain %s mark-for-masquerade" % t,
        "add chain %s masquerading" % t,
        "add chain %s nat-output { type nat hook output priority -100 ; }" % t,
        "add chain %s nat-postrouting { type nat hook postrouting priority 100 ; }" % t,
        "add chain %s nat-prerouting { type nat hook prerouting priority -100 ; }" % t,
        "add chain %s nodeport-endpoints-check" % t,
        "add chain %s reject-chain { comment \"helper for @no-endpoint-services / @no-endpoint-nodeports\" ; }" % t,
        "add chain %s services" % t,
        "add chain %s service-endpoints-check" % t,
        "add rule %s cluster-ips-check ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"" % t,
        "add rule %s cluster-ips-check ip daddr { %s } drop comment \"Drop traffic to unallocated ClusterIPs\"" % (t, service_cidr),
        "add rule %s filter-prerouting-pre-dnat ct state new jump firewall-check" % t,
        "add rule %s filter-forward ct state new jump service-endpoints-check" % t,
        "add rule %s filter-forward ct state new jump cluster-ips-check" % t,
        "add rule %s filter-input ct state new jump nodeport-endpoints-check" % t,
        "add rule %s filter-input ct state new jump service-endpoints-check" % t,
        "add rule %s filter-output ct state new jump service-endpoints-check" % t,
        "add rule %s filter-output-pre-dnat ct state new jump firewall-check" % t,
        "add rule %s filter-output ct state new jump cluster-ips-check" % t,
        "add rule %s firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips" % t,
        "add rule %s mark-for-masquerade mark set mark or %s" % (t, MASQ_MARK),
        "add rule %s masquerading mark and %s == 0 return" % (t, MASQ_MARK),
        "add rule %s masquerading mark set mark xor %s" % (t, MASQ_MARK),
        "add rule %s masquerading masquerade fully-random" % t,
        "add rule %s nat-output jump services" % t,
        "add rule %s nat-postrouting jump masquerading" % t,
        "add rule %s nat-prerouting jump services" % t,
        "add rule %s nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports" % t,
        "add rule %s reject-chain reject" % t,
        "add rule %s services ip daddr . meta l4proto . th dport vmap @service-ips" % t,
        "add rule %s services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports" % t,
        "add rule %s service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services" % t,
    ]


def service_port_chains(sp, cluster_cidr):
    """The chains of one service port, as kube-proxy's ensureChain writes them: add, flush, rules."""
    t = TABLE
    svc = service_chain(sp)
    out = []
    for ep in sp.endpoints:
        out += ["add chain %s %s" % (t, endpoint_chain(sp, ep)), "flush chain %s %s" % (t, endpoint_chain(sp, ep))]
    out += ["add chain %s %s" % (t, svc), "flush chain %s %s" % (t, svc)]
    out.append("add rule %s %s ip daddr %s %s dport %d ip saddr != %s jump mark-for-masquerade"
               % (t, svc, sp.cluster_ip, sp.protocol, sp.port, cluster_cidr))
    vmap = " , ".join("%d : goto %s" % (i, endpoint_chain(sp, ep)) for i, ep in enumerate(sp.endpoints))
    out.append("add rule %s %s numgen random mod %d vmap { %s }" % (t, svc, len(sp.endpoints), vmap))
    for ep in sp.endpoints:
        chain = endpoint_chain(sp, ep)
        out.append("add rule %s %s ip saddr %s jump mark-for-masquerade" % (t, chain, ep[0]))
        out.append("add rule %s %s meta l4proto %s dnat to %s:%d" % (t, chain, sp.protocol, ep[0], ep[1]))
    return out


def elements(sp):
    t = TABLE
    out = ["add element %s cluster-ips { %s }" % (t, sp.cluster_ip)]
    if sp.endpoints:
        out.append("add element %s service-ips { %s . %s . %d : goto %s }"
                   % (t, sp.cluster_ip, sp.protocol, sp.port, service_chain(sp)))
    else:
        out.append("add element %s no-endpoint-services { %s . %s . %d : goto reject-chain }"
                   % (t, sp.cluster_ip, sp.protocol, sp.port))
    return out


def service_port_lines(sp, cluster_cidr):
    return (service_port_chains(sp, cluster_cidr) if sp.endpoints else []) + elements(sp)


def full(ports, cluster_cidr, service_cidr):
    lines = ["add table %s" % TABLE, "delete table %s" % TABLE]
    lines += base_rules(cluster_cidr, service_cidr)
    for sp in ports:
        lines += service_port_lines(sp, cluster_cidr)
    return lines


def split(ports, cluster_cidr, service_cidr, per_file):
    """The full ruleset as a list of transactions (lists of lines)."""
    out = [["add table %s" % TABLE, "delete table %s" % TABLE] + base_rules(cluster_cidr, service_cidr)]
    for i in range(0, len(ports), per_file):
        out.append([line for sp in ports[i:i + per_file] for line in service_port_lines(sp, cluster_cidr)])
    return out


def partial(old, new, cluster_cidr):
    lines = []
    for sp, gone in kube_model.changed(old, new):
        if not sp.endpoints:
            raise kube_model.ModelError("%s: a change to no endpoints is not supported incrementally" % sp.name_string)
        lines += service_port_chains(sp, cluster_cidr)
        lines += ["flush chain %s %s" % (TABLE, endpoint_chain(sp, ep)) for ep in gone]
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cluster", nargs="+", help="CLUSTER.json, or OLD.json NEW.json with --partial")
    ap.add_argument("--partial", action="store_true")
    ap.add_argument("--split", type=int, metavar="N", help="service ports per transaction file")
    ap.add_argument("--out-prefix", metavar="P", help="with --split: write P-000.nft, P-001.nft, ...")
    ap.add_argument("--cluster-cidr", default="10.244.0.0/16")
    ap.add_argument("--service-cidr", default="10.96.0.0/12")
    args = ap.parse_args()
    if (args.split is None) != (args.out_prefix is None) or (args.split is not None and args.split < 1):
        ap.error("--split N (N >= 1) and --out-prefix go together")
    try:
        if args.split:
            for i, lines in enumerate(split(kube_model.load(args.cluster[0]), args.cluster_cidr, args.service_cidr,
                                            args.split)):
                with open("%s-%03d.nft" % (args.out_prefix, i), "w") as f:
                    f.write("\n".join(lines) + "\n")
            return 0
        if args.partial:
            if len(args.cluster) != 2:
                ap.error("--partial needs OLD.json NEW.json")
            lines = partial(kube_model.load(args.cluster[0]), kube_model.load(args.cluster[1]), args.cluster_cidr)
        else:
            if len(args.cluster) != 1:
                ap.error("give one CLUSTER.json")
            lines = full(kube_model.load(args.cluster[0]), args.cluster_cidr, args.service_cidr)
    except (OSError, ValueError) as e:
        print("gen_nft: %s" % e, file=sys.stderr)
        return 1
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
