# SPDX-License-Identifier: Apache-2.0
"""Service ports and their endpoints, as kube-proxy derives them from
Services and EndpointSlices, for the rule generators (gen_nft.py,
gen_iptables.py). Reads the same JSON as socklb-syncd's file source: a List
of objects as `kubectl get svc,endpointslices -A -o json` prints them.

Covers what the benchmark's clusters use, with kube-proxy's rules: IPv4
ClusterIP services (headless, ExternalName and services for another proxy
are skipped), EndpointSlice ports matched by name and protocol, ready
endpoints (serving+terminating ones only when none is ready). Anything the
generators could not express (NodePort, external IPs, load balancers,
session affinity, traffic policies) is an error naming the service, so a
rule set never silently differs from what socklb serves.
"""

import json
from dataclasses import dataclass, field

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name"


class ModelError(ValueError):
    pass


@dataclass
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # "tcp" or "udp"
    cluster_ip: str
    port: int
    endpoints: list = field(default_factory=list)  # [(ip, port)] in slice order

    @property
    def name_string(self):
        """kube-proxy's ServicePortName.String(): ns/name:port (no ":" when the port is unnamed)."""
        base = "%s/%s" % (self.namespace, self.name)
        return "%s:%s" % (base, self.port_name) if self.port_name else base

    @property
    def key(self):
        return (self.namespace, self.name, self.port_name, self.protocol)


def _service_ports(svc):
    meta = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    ident = "%s/%s" % (meta.get("namespace", ""), meta.get("name", ""))
    kind = spec.get("type", "ClusterIP")
    if kind == "ExternalName":
        return []
    if (meta.get("labels") or {}).get(PROXY_NAME_LABEL):
        return []
    ip = spec.get("clusterIP")
    if not ip or ip == "None":
        return []
    if kind != "ClusterIP":
        raise ModelError("service %s: type %s is not supported by the benchmark's rule generators" % (ident, kind))
    if spec.get("externalIPs") or spec.get("sessionAffinity", "None") != "None":
        raise ModelError("service %s: externalIPs/sessionAffinity are not supported by the rule generators" % ident)
    if spec.get("internalTrafficPolicy", "Cluster") != "Cluster":
        raise ModelError("service %s: internalTrafficPolicy must be Cluster for the rule generators" % ident)
    if ":" in ip:
        raise ModelError("service %s: IPv6 clusterIP %s is not supported by the rule generators" % (ident, ip))
    ports = []
    for p in spec.get("ports") or []:
        proto = (p.get("protocol") or "TCP").lower()
        if proto not in ("tcp", "udp"):
            raise ModelError("service %s: protocol %s is not supported" % (ident, p.get("protocol")))
        if "port" not in p:
            raise ModelError("service %s: a port has no \"port\"" % ident)
        ports.append(ServicePort(meta.get("namespace", ""), meta.get("name", ""), p.get("name") or "", proto, ip,
                                 int(p["port"])))
    return ports


def _usable(endpoints):
    """Ready endpoints; serving+terminating ones only when none is ready (kube-proxy's fallback)."""
    ready = [e for e in endpoints if (e.get("conditions") or {}).get("ready", True) is not False]
    if ready:
        return ready
    return [e for e in endpoints
            if (e.get("conditions") or {}).get("serving") and (e.get("conditions") or {}).get("terminating")]


def load(path):
    """Service ports with their endpoints, services in file order."""
    with open(path) as f:
        doc = json.load(f)
    return from_document(doc)


def from_document(doc):
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ModelError("expected a List object with \"items\"")
    ports = []
    slices = {}
    for obj in items:
        kind = obj.get("kind")
        if kind == "Service":
            ports.extend(_service_ports(obj))
        elif kind == "EndpointSlice":
            if obj.get("addressType", "IPv4") != "IPv4":
                continue
            meta = obj.get("metadata") or {}
            owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
            if owner:
                slices.setdefault((meta.get("namespace", ""), owner), []).append(obj)
    for sp in ports:
        all_endpoints = []
        for sl in slices.get((sp.namespace, sp.name), []):
            match = [p for p in sl.get("ports") or []
                     if (p.get("name") or "") == sp.port_name and (p.get("protocol") or "TCP").lower() == sp.protocol]
            if not match or match[0].get("port") is None:
                continue
            for e in sl.get("endpoints") or []:
                if e.get("addresses"):
                    all_endpoints.append((e, int(match[0]["port"])))
        usable = _usable([e for e, _ in all_endpoints])
        seen = set()
        for e, port in all_endpoints:
            if not any(e is u for u in usable):
                continue
            ep = (e["addresses"][0], port)  # kube-proxy uses the first address only
            if ep not in seen:
                seen.add(ep)
                sp.endpoints.append(ep)
    return ports


def changed(old, new):
    """Service ports (of new) whose endpoints differ from old, and the endpoints old had that new has not."""
    before = {sp.key: sp for sp in old}
    out = []
    for sp in new:
        prev = before.get(sp.key)
        if prev is None or prev.endpoints != sp.endpoints or prev.cluster_ip != sp.cluster_ip or prev.port != sp.port:
            gone = [e for e in (prev.endpoints if prev else []) if e not in sp.endpoints]
            out.append((sp, gone))
    removed = set(before) - {sp.key for sp in new}
    if removed:
        raise ModelError("service ports removed (%s): only endpoint changes are supported incrementally"
                         % ", ".join("/".join(k[:3]) for k in sorted(removed)))
    return out
