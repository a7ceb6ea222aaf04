#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Services and EndpointSlices for the benchmark, in the format of
`kubectl get svc,endpointslices -A -o json` (what socklb-syncd's file source
reads and what gen_nft.py / gen_iptables.py turn into kube-proxy's rules).

  gen_cluster.py --services N --backends IP,IP,... [--drop-last] [--seed S] [--split-dir DIR]

One measured Service, bench/bench on 10.96.0.10, with three ports served by
the given backend pods: http 80/TCP → 8080, stream 5201/TCP → 5201 and
dns 53/UDP → 5353. N-1 filler Services (ClusterIPs from 10.97.0.0, one port
each: TCP 80 → 8080, every tenth UDP 53 → 5353) with 2–12 endpoints on
addresses of other nodes (10.248.0.0/13, never routed from the pods). The
measured Service sits in the middle of the list, where it lands on average
in kube-proxy's iptables chain (kube-proxy writes services in map order).
--drop-last leaves out the last backend: the "one endpoint went away" edit.
--split-dir writes DIR/NAMESPACE.json per namespace instead of one List on
stdout (socklb-syncd's `--source file:DIR` re-reads only the files that
changed). Deterministic for a given --seed.
"""

import argparse
import ipaddress
import json
import os
import random
import sys
import uuid

BENCH_NAMESPACE = "bench"
BENCH_SERVICE = "bench"
BENCH_CLUSTER_IP = "10.96.0.10"
# (name, service port, protocol, target port)
BENCH_PORTS = [("http", 80, "TCP", 8080), ("stream", 5201, "TCP", 5201), ("dns", 53, "UDP", 5353)]
FILLER_IP_BASE = ipaddress.IPv4Address("10.97.0.0")
FILLER_ENDPOINT_BASE = ipaddress.IPv4Address("10.248.0.0")
FILLER_NAMESPACES = 20
PODS_PER_NODE = 110
TIMESTAMP = "2025-01-01T00:00:00Z"


def stable_uid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def service(rng, namespace, name, cluster_ip, ports):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": stable_uid(rng),
            "resourceVersion": str(rng.randrange(1, 10**7)),
            "creationTimestamp": TIMESTAMP,
            "labels": {"app": name},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "selector": {"app": name},
            "ports": [
                {"name": pname, "port": port, "protocol": proto, "targetPort": target}
                for pname, port, proto, target in ports
            ],
        },
        "status": {"loadBalancer": {}},
    }


def endpoint_slice(rng, namespace, service_name, ports, endpoints):
    """endpoints: (address, node name, pod name)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "%s-%05x" % (service_name, rng.getrandbits(20)),
            "namespace": namespace,
            "uid": stable_uid(rng),
            "resourceVersion": str(rng.randrange(1, 10**7)),
            "creationTimestamp": TIMESTAMP,
            "generateName": service_name + "-",
            "labels": {
                "kubernetes.io/service-name": service_name,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": service_name,
                                 "uid": stable_uid(rng), "controller": True, "blockOwnerDeletion": True}],
        },
        "addressType": "IPv4",
        "ports": [{"name": pname, "port": target, "protocol": proto} for pname, _, proto, target in ports],
        "endpoints": [
            {
                "addresses": [address],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "nodeName": node,
                "targetRef": {"kind": "Pod", "namespace": namespace, "name": pod, "uid": stable_uid(rng)},
            }
            for address, node, pod in endpoints
        ],
    }


def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "creationTimestamp": TIMESTAMP}}


def build(services, backends, drop_last, seed):
    # Separate generators: dropping a bench backend must not change any filler.
    rng = random.Random(seed)
    bench_rng = random.Random(seed + 1)
    if services < 1:
        raise ValueError("--services must be at least 1")
    if len(backends) < 2:
        raise ValueError("--backends needs at least 2 addresses")
    for b in backends:
        ipaddress.IPv4Address(b)
    used = backends[:-1] if drop_last else backends
    bench_endpoints = [(b, "bench-node", "backend-%02d" % (i + 1)) for i, b in enumerate(used)]
    bench_service = service(bench_rng, BENCH_NAMESPACE, BENCH_SERVICE, BENCH_CLUSTER_IP, BENCH_PORTS)
    bench_slice = endpoint_slice(bench_rng, BENCH_NAMESPACE, BENCH_SERVICE, BENCH_PORTS, bench_endpoints)
    if drop_last:
        # The API server gives a changed object a new resourceVersion.
        bench_slice["metadata"]["resourceVersion"] = str(int(bench_slice["metadata"]["resourceVersion"]) + 1)
    bench = [bench_service, bench_slice]
    fillers = []
    next_endpoint = 0
    for i in range(1, services):
        ns = "team-%02d" % (i % FILLER_NAMESPACES)
        name = "svc-%05d" % i
        ports = [("dns", 53, "UDP", 5353)] if i % 10 == 0 else [("http", 80, "TCP", 8080)]
        endpoints = []
        for _ in range(rng.randint(2, 12)):
            address = str(FILLER_ENDPOINT_BASE + next_endpoint)
            node = "node-%03d" % (next_endpoint // PODS_PER_NODE)
            endpoints.append((address, node, "%s-%d" % (name, len(endpoints))))
            next_endpoint += 1
        fillers.append([service(rng, ns, name, str(FILLER_IP_BASE + i), ports),
                        endpoint_slice(rng, ns, name, ports, endpoints)])
    middle = len(fillers) // 2
    ordered = fillers[:middle] + [bench] + fillers[middle:]
    namespaces = sorted({BENCH_NAMESPACE} | {"team-%02d" % (i % FILLER_NAMESPACES) for i in range(1, services)})
    items = [namespace(n) for n in namespaces]
    for pair in ordered:
        items.extend(pair)
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def split_by_namespace(cluster, directory):
    """One List per namespace (its Namespace object first), as DIR/NAMESPACE.json."""
    per_namespace = {}
    for obj in cluster["items"]:
        ns = obj["metadata"]["name"] if obj["kind"] == "Namespace" else obj["metadata"]["namespace"]
        per_namespace.setdefault(ns, []).append(obj)
    os.makedirs(directory, exist_ok=True)
    for ns, items in per_namespace.items():
        with open(os.path.join(directory, ns + ".json"), "w") as f:
            f.write(json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
                                "items": items}, separators=(",", ":")) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, required=True)
    ap.add_argument("--backends", required=True, help="comma-separated IPv4 addresses of the backend pods")
    ap.add_argument("--drop-last", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--split-dir", metavar="DIR", help="write one file per namespace into DIR")
    args = ap.parse_args()
    try:
        cluster = build(args.services, args.backends.split(","), args.drop_last, args.seed)
    except ValueError as e:
        print("gen_cluster: %s" % e, file=sys.stderr)
        return 2
    if args.split_dir:
        split_by_namespace(cluster, args.split_dir)
        return 0
    # One write: json.dump's many small writes cost seconds on a 30 MB document.
    sys.stdout.write(json.dumps(cluster, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
