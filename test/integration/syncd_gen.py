#!/usr/bin/env python3
"""Write a kubectl-style List of N Services with E ready endpoints each (one
EndpointSlice per Service) for the socklb-syncd integration tests.

  syncd_gen.py OUT N E [--change I] [--trigger-time T] [--namespace-optin NS]

--change I makes service I's last endpoint not ready (an endpoint change);
--trigger-time stamps its slice with endpoints.kubernetes.io/last-change-trigger-time.
Addresses: service i has ClusterIP 10.96.x.y (i+1 in the low 16 bits over 10.96.0.0/12)
and endpoints 10.244.(i/250).(i%250)... spread so every backend is unique.
The file is written to OUT.tmp and renamed over OUT (atomic), unless --in-place.
"""
import argparse
import json
import os


def vip(i):
    n = i + 1
    return "10.%d.%d.%d" % (96 + (n >> 16), (n >> 8) & 255, n & 255)


def backend(i, k):
    n = i * 16 + k
    return "10.%d.%d.%d" % (128 + (n >> 16), (n >> 8) & 255, n & 255)


def objects(n, e, change, trigger, optin):
    items = []
    for i in range(n):
        name = "svc-%05d" % i
        items.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "bench", "uid": "00000000-0000-4000-8000-%012d" % i,
                         "resourceVersion": str(1000 + i)},
            "spec": {"type": "ClusterIP", "clusterIP": vip(i), "clusterIPs": [vip(i)],
                     "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]},
            "status": {"loadBalancer": {}}})
        eps = []
        for k in range(e):
            ready = not (i == change and k == e - 1)
            eps.append({"addresses": [backend(i, k)],
                        "conditions": {"ready": ready, "serving": ready, "terminating": False},
                        "nodeName": "node-%d" % (k % 3),
                        "targetRef": {"kind": "Pod", "namespace": "bench", "name": "%s-pod-%d" % (name, k)}})
        meta = {"name": name + "-abcde", "namespace": "bench",
                "labels": {"kubernetes.io/service-name": name,
                           "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}}
        if i == change and trigger:
            meta["annotations"] = {"endpoints.kubernetes.io/last-change-trigger-time": trigger}
        items.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta,
                      "addressType": "IPv4", "endpoints": eps,
                      "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
    items.append({"apiVersion": "v1", "kind": "Namespace",
                  "metadata": {"name": "bench", "annotations": {"socklb.io/enabled": "true"} if optin else {}}})
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("n", type=int)
    p.add_argument("e", type=int)
    p.add_argument("--change", type=int, default=-1)
    p.add_argument("--trigger-time", default="")
    p.add_argument("--namespace-optin", action="store_true")
    p.add_argument("--in-place", action="store_true")
    a = p.parse_args()
    text = json.dumps(objects(a.n, a.e, a.change, a.trigger_time, a.namespace_optin), separators=(",", ":"))
    if a.in_place:
        with open(a.out, "w") as f:
            f.write(text)
        return
    with open(a.out + ".tmp", "w") as f:
        f.write(text)
    os.rename(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
