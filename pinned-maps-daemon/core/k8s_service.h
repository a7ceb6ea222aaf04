/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Service as translation reads it (translate.c, and frontend_scope.c for
 * one that is invalid): its proxy labels, what its spec says in the order
 * translation checks it, its ports and its addresses.
 *
 * The spec is judged once, when the object is decoded, as translation has
 * always judged it: skipped (ExternalName, no cluster IP), invalid (the first
 * bad field, in check order: type, internalTrafficPolicy, ports, affinity,
 * cluster IPs, external IPs, load-balancer ingress), or to program, maybe
 * with a bad port (named after the EndpointSlices, as translation walks the
 * ports last). Ports and addresses are kept as far as they read, each marked
 * when it does not, for the frontends an invalid Service may own.
 */
#ifndef SOCKLB_K8S_SERVICE_H
#define SOCKLB_K8S_SERVICE_H

#include <linux/types.h>

#include "k8s_object.h"

enum service_spec {
	SERVICE_SPEC_OK, /* program it (fault: its first bad port, if any) */
	SERVICE_SPEC_MISSING, /* spec is not an object: invalid, may own anything */
	SERVICE_SPEC_INVALID, /* fault names the field */
	SERVICE_SPEC_EXTERNAL_NAME, /* not ours to program */
	SERVICE_SPEC_NO_CLUSTER_IP, /* headless ("None") or not allocated yet: nothing to program */
};

enum service_type {
	SERVICE_TYPE_CLUSTER_IP, /* also when spec.type is absent or not a string */
	SERVICE_TYPE_NODE_PORT,
	SERVICE_TYPE_LOAD_BALANCER,
	SERVICE_TYPE_EXTERNAL_NAME,
	SERVICE_TYPE_UNKNOWN,
};

/* Lists that are there but are not lists: their addresses or ports may be anything. */
#define SERVICE_CLUSTER_IPS_NOT_LIST (1u << 0)
#define SERVICE_EXTERNAL_IPS_NOT_LIST (1u << 1)
#define SERVICE_INGRESS_NOT_LIST (1u << 2)
#define SERVICE_PORTS_NOT_LIST (1u << 3)

#define SERVICE_PORT_NOT_OBJECT (1u << 0)
#define SERVICE_PORT_BAD_NODE_PORT (1u << 1) /* nodePort there, and not 0-65535 */

struct service_port {
	const char *name; /* interned; NULL when unnamed (or not a string) */
	__u16 port; /* 0: not a port number (1-65535) */
	__u16 node_port; /* 0: none */
	__u8 proto; /* SOCKLB_PROTO_TCP or _UDP; 0: another protocol, which translation skips */
	__u8 flags; /* SERVICE_PORT_* */
};

enum service_addr_source {
	SERVICE_ADDR_CLUSTER, /* spec.clusterIPs, or spec.clusterIP when that list is empty */
	SERVICE_ADDR_EXTERNAL, /* spec.externalIPs */
	SERVICE_ADDR_INGRESS, /* status.loadBalancer.ingress[].ip, not ipMode Proxy */
};

struct service_addr {
	__be32 addr[4];
	__u8 source; /* enum service_addr_source */
	__u8 valid; /* an IP address; when not, it may be any */
};

struct k8s_service {
	struct k8s_object obj;
	const char *proxy_name; /* label service.kubernetes.io/service-proxy-name; NULL without */
	const char *fault; /* interned: what is wrong (SERVICE_SPEC_MISSING, _INVALID; or a port); NULL */
	__u32 affinity_timeout; /* seconds with sessionAffinity ClientIP, 0 without */
	__u32 n_ports;
	__u32 n_addrs;
	__u8 headless; /* label service.kubernetes.io/headless */
	__u8 spec; /* enum service_spec */
	__u8 type; /* enum service_type */
	__u8 local; /* internalTrafficPolicy Local */
	__u8 has_cluster_ip; /* spec.clusterIP is there, neither "" nor "None" (whatever the verdict) */
	__u8 not_lists; /* SERVICE_*_NOT_LIST */
	/* struct service_port ports[n_ports], then struct service_addr addrs[n_addrs] */
};

const struct service_port *k8s_service_ports(const struct k8s_service *svc);
const struct service_addr *k8s_service_addrs(const struct k8s_service *svc);

#endif /* SOCKLB_K8S_SERVICE_H */
