#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Unit tests of the benchmark's generators (no root, no kernel): the
cluster generator, kube-proxy's semantics in kube_model, and the nftables
and iptables rule shapes, including chain names checked against the names
kube-proxy's own tests expect. Run: python3 hack/bench/test_generators.py
(test/integration/bench_smoke.sh also loads the output into the kernel).
"""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gen_cluster  # noqa: E402
import gen_iptables  # noqa: E402
import gen_nft  # noqa: E402
import kube_model  # noqa: E402

BACKENDS = ["10.244.1.%d" % i for i in range(2, 14)]


def bench_port(ports, name):
    return next(sp for sp in ports if sp.name == "bench" and sp.port_name == name)


def svc(name, ports, ip="10.96.0.1", **spec):
    s = {"kind": "Service", "metadata": {"namespace": "ns", "name": name},
         "spec": dict({"type": "ClusterIP", "clusterIP": ip, "ports": ports}, **spec)}
    return s


def eps(service, ports, endpoints, address_type="IPv4"):
    return {"kind": "EndpointSlice", "addressType": address_type,
            "metadata": {"namespace": "ns", "name": service + "-x",
                         "labels": {"kubernetes.io/service-name": service}},
            "ports": ports, "endpoints": endpoints}


def ep(ip, ready=True, serving=True, terminating=False):
    return {"addresses": [ip], "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}


class ClusterTest(unittest.TestCase):
    def test_sizes_and_measured_service(self):
        doc = gen_cluster.build(50, BACKENDS, False, 1)
        kinds = [o["kind"] for o in doc["items"]]
        self.assertEqual(kinds.count("Service"), 50)
        self.assertEqual(kinds.count("EndpointSlice"), 50)
        ports = kube_model.from_document(doc)
        self.assertEqual(len(ports), 52)  # the measured service has three ports
        http = bench_port(ports, "http")
        self.assertEqual((http.cluster_ip, http.port, http.protocol), ("10.96.0.10", 80, "tcp"))
        self.assertEqual(http.endpoints, [(b, 8080) for b in BACKENDS])
        self.assertEqual(bench_port(ports, "dns").endpoints, [(b, 5353) for b in BACKENDS])
        for sp in ports:
            if sp.name != "bench":
                self.assertTrue(2 <= len(sp.endpoints) <= 12, sp.name_string)

    def test_measured_service_sits_in_the_middle(self):
        ports = kube_model.from_document(gen_cluster.build(101, BACKENDS, False, 1))
        names = [sp.name for sp in ports]
        self.assertEqual(names.index("bench"), 50)

    def test_drop_last_changes_only_the_measured_service(self):
        a = kube_model.from_document(gen_cluster.build(200, BACKENDS, False, 7))
        b = kube_model.from_document(gen_cluster.build(200, BACKENDS, True, 7))
        changed = kube_model.changed(a, b)
        self.assertEqual(sorted(sp.port_name for sp, _ in changed), ["dns", "http", "stream"])
        for sp, gone in changed:
            self.assertEqual(len(sp.endpoints), 11)
            self.assertEqual([g[0] for g in gone], [BACKENDS[-1]])

    def test_drop_last_gives_the_changed_slice_a_new_resource_version(self):
        def versions(doc):
            return {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]):
                    o["metadata"].get("resourceVersion") for o in doc["items"]}
        a = versions(gen_cluster.build(20, BACKENDS, False, 1))
        b = versions(gen_cluster.build(20, BACKENDS, True, 1))
        self.assertEqual([k for k in a if a[k] != b[k]], [("EndpointSlice", "bench", k[2]) for k in a
                                                         if k[0] == "EndpointSlice" and k[1] == "bench"])

    def test_split_by_namespace_holds_the_same_objects(self):
        doc = gen_cluster.build(60, BACKENDS, False, 1)
        with tempfile.TemporaryDirectory() as d:
            gen_cluster.split_by_namespace(doc, d)
            self.assertIn("bench.json", os.listdir(d))
            merged = []
            for name in sorted(os.listdir(d)):
                with open(os.path.join(d, name)) as f:
                    items = json.load(f)["items"]
                self.assertEqual(items[0]["kind"], "Namespace")
                self.assertEqual(items[0]["metadata"]["name"] + ".json", name)
                merged += items
        def key(o):
            return (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
        self.assertEqual(sorted(map(key, merged)), sorted(map(key, doc["items"])))

    def test_deterministic(self):
        self.assertEqual(gen_cluster.build(30, BACKENDS, False, 3), gen_cluster.build(30, BACKENDS, False, 3))

    def test_bad_backends(self):
        with self.assertRaises(ValueError):
            gen_cluster.build(10, ["10.0.0.1"], False, 1)
        with self.assertRaises(ValueError):
            gen_cluster.build(10, ["10.0.0.1", "not-an-ip"], False, 1)


class ModelTest(unittest.TestCase):
    def load(self, *items):
        return kube_model.from_document({"kind": "List", "items": list(items)})

    def test_port_name_and_protocol_must_match(self):
        ports = self.load(
            svc("a", [{"name": "web", "port": 80, "protocol": "TCP", "targetPort": 8080}]),
            eps("a", [{"name": "web", "port": 8080, "protocol": "UDP"}], [ep("10.0.0.1")]),
            eps("a", [{"name": "other", "port": 9090, "protocol": "TCP"}], [ep("10.0.0.2")]),
            eps("a", [{"name": "web", "port": 8081, "protocol": "TCP"}], [ep("10.0.0.3")]))
        self.assertEqual(ports[0].endpoints, [("10.0.0.3", 8081)])

    def test_ready_first_then_serving_terminating(self):
        ports = self.load(svc("a", [{"port": 80}]),
                          eps("a", [{"port": 80}], [ep("10.0.0.1"), ep("10.0.0.2", ready=False)]))
        self.assertEqual(ports[0].endpoints, [("10.0.0.1", 80)])
        ports = self.load(svc("a", [{"port": 80}]),
                          eps("a", [{"port": 80}], [ep("10.0.0.1", ready=False, terminating=True),
                                                    ep("10.0.0.2", ready=False, serving=False)]))
        self.assertEqual(ports[0].endpoints, [("10.0.0.1", 80)])

    def test_skipped_services(self):
        ports = self.load(svc("headless", [{"port": 80}], ip="None"),
                          svc("ext", [{"port": 80}], type="ExternalName"),
                          {"kind": "Service", "metadata": {"namespace": "ns", "name": "other-proxy",
                                                           "labels": {kube_model.PROXY_NAME_LABEL: "x"}},
                           "spec": {"clusterIP": "10.96.0.3", "ports": [{"port": 80}]}},
                          eps("v6", [{"port": 80}], [ep("fd00::1")], address_type="IPv6"))
        self.assertEqual(ports, [])

    def test_unsupported_is_an_error_naming_the_service(self):
        with self.assertRaisesRegex(kube_model.ModelError, "ns/np"):
            self.load(svc("np", [{"port": 80}], type="NodePort"))
        with self.assertRaisesRegex(kube_model.ModelError, "ns/aff"):
            self.load(svc("aff", [{"port": 80}], sessionAffinity="ClientIP"))

    def test_name_string(self):
        ports = self.load(svc("a", [{"name": "p80", "port": 80}, {"port": 81}]))
        self.assertEqual([p.name_string for p in ports], ["ns/a:p80", "ns/a"])


class NftTest(unittest.TestCase):
    def test_chain_names_match_kube_proxy(self):
        # Expected names from kube-proxy's nftables proxier tests.
        sp = kube_model.ServicePort("ns1", "svc1", "p80", "tcp", "172.30.0.41", 80, [("10.180.0.1", 80)])
        self.assertEqual(gen_nft.service_chain(sp), "service-ULMVA6XW-ns1/svc1/tcp/p80")
        self.assertEqual(gen_nft.endpoint_chain(sp, ("10.180.0.1", 80)),
                         "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80")

    def test_service_port_rules(self):
        sp = kube_model.ServicePort("ns", "a", "web", "tcp", "10.96.0.5", 80, [("10.0.0.1", 8080), ("10.0.0.2", 8080)])
        lines = gen_nft.service_port_chains(sp, "10.244.0.0/16")
        svc = gen_nft.service_chain(sp)
        self.assertIn("add rule ip kube-proxy %s ip daddr 10.96.0.5 tcp dport 80 ip saddr != 10.244.0.0/16 "
                      "jump mark-for-masquerade" % svc, lines)
        self.assertIn("add rule ip kube-proxy %s numgen random mod 2 vmap { 0 : goto %s , 1 : goto %s }"
                      % (svc, gen_nft.endpoint_chain(sp, sp.endpoints[0]), gen_nft.endpoint_chain(sp, sp.endpoints[1])),
                      lines)
        self.assertIn("add rule ip kube-proxy %s meta l4proto tcp dnat to 10.0.0.2:8080"
                      % gen_nft.endpoint_chain(sp, sp.endpoints[1]), lines)
        self.assertIn("add element ip kube-proxy service-ips { 10.96.0.5 . tcp . 80 : goto %s }" % svc,
                      gen_nft.elements(sp))

    def test_full_replaces_the_table_and_split_covers_the_same_lines(self):
        ports = kube_model.from_document(gen_cluster.build(40, BACKENDS, False, 1))
        full = gen_nft.full(ports, "10.244.0.0/16", "10.96.0.0/12")
        self.assertEqual(full[:2], ["add table ip kube-proxy", "delete table ip kube-proxy"])
        parts = gen_nft.split(ports, "10.244.0.0/16", "10.96.0.0/12", 7)
        self.assertEqual(len(parts), 1 + (len(ports) + 6) // 7)
        self.assertEqual([line for p in parts for line in p], full)

    def test_partial_rewrites_changed_chains_and_flushes_stale_ones(self):
        a = kube_model.from_document(gen_cluster.build(20, BACKENDS, False, 1))
        b = kube_model.from_document(gen_cluster.build(20, BACKENDS, True, 1))
        lines = gen_nft.partial(a, b, "10.244.0.0/16")
        http = bench_port(b, "http")
        gone = gen_nft.endpoint_chain(http, (BACKENDS[-1], 8080))
        self.assertIn("flush chain ip kube-proxy %s" % gen_nft.service_chain(http), lines)
        self.assertIn("flush chain ip kube-proxy %s" % gone, lines)
        self.assertFalse(any(gone in l and l.startswith("add rule") for l in lines))
        self.assertFalse(any("svc-" in l for l in lines), "an unchanged service was rewritten")


class IptablesTest(unittest.TestCase):
    def test_chain_names_match_kube_proxy(self):
        # Expected names from kube-proxy's iptables proxier tests.
        sp = kube_model.ServicePort("ns1", "svc1", "p80", "tcp", "172.30.0.41", 80, [("10.180.0.1", 80)])
        self.assertEqual(gen_iptables.svc_chain(sp), "KUBE-SVC-XPGD46QRK7WJZT7O")
        self.assertEqual(gen_iptables.sep_chain(sp, ("10.180.0.1", 80)), "KUBE-SEP-SXIVWICOYRO3J4NJ")

    def test_probabilities_make_a_uniform_choice(self):
        sp = kube_model.ServicePort("ns", "a", "", "tcp", "10.96.0.5", 80, [("10.0.0.%d" % i, 80) for i in range(4)])
        _, rules = gen_iptables.service_port_chains(sp, "10.244.0.0/16", False)
        svc_rules = [r for r in rules if r.startswith("-A %s " % gen_iptables.svc_chain(sp)) and "KUBE-SEP" in r]
        self.assertEqual(len(svc_rules), 4)
        for rule, p in zip(svc_rules, ["0.2500000000", "0.3333333333", "0.5000000000"]):
            self.assertIn("--probability " + p, rule)
        self.assertNotIn("statistic", svc_rules[-1])

    def test_full_and_partial(self):
        a = kube_model.from_document(gen_cluster.build(30, BACKENDS, False, 1))
        b = kube_model.from_document(gen_cluster.build(30, BACKENDS, True, 1))
        full = gen_iptables.full(a, "10.244.0.0/16")
        self.assertEqual(sum(1 for l in full if l.startswith("-A KUBE-SERVICES -m comment")), len(a) + 1)
        self.assertEqual(full.count("COMMIT"), 2)
        partial = gen_iptables.partial(a, b, "10.244.0.0/16")
        # every service port is still in KUBE-SERVICES, but only the measured one's chains are rewritten
        self.assertEqual(sum(1 for l in partial if l.startswith("-A KUBE-SERVICES -m comment")), len(b) + 1)
        rewritten = {l.split()[1] for l in partial if l.startswith("-A KUBE-SVC-")}
        self.assertEqual(rewritten, {gen_iptables.svc_chain(sp) for sp in b if sp.name == "bench"})
        self.assertFalse(any(l.startswith("-A OUTPUT") for l in partial), "a partial sync rewrote built-in chains")


if __name__ == "__main__":
    unittest.main()
