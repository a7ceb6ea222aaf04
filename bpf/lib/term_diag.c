// SPDX-License-Identifier: Apache-2.0
/*
 * Socket termination through sock_diag, for kernels without bpf_sock_destroy:
 * the iterators name each doomed socket with its exact identity (addresses,
 * ports, bound device, cookie), after the same record check as everywhere
 * (term.bpf.c), and SOCK_DESTROY over NETLINK_SOCK_DIAG, sent from the
 * socket's network namespace, destroys exactly that socket
 * (CONFIG_INET_DIAG_DESTROY; CAP_NET_ADMIN). The kernel looks the socket up
 * by its addresses and ports and refuses it when the cookie differs, so a
 * socket closed or re-connected elsewhere since it was named is left alone.
 *
 * The records cannot come from an inet_diag dump instead: the kernel puts
 * socket storage (INET_DIAG_REQ_SK_BPF_STORAGES) only into the messages of
 * TCP sockets, never of UDP ones.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "term_internal.h"

struct diag_destroy_req {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 r;
};

void term_diag_request(const struct socklb_term_sock *s, struct inet_diag_req_v2 *r)
{
	memset(r, 0, sizeof(*r));
	r->sdiag_family = (__u8)s->family;
	r->sdiag_protocol = s->protocol == SOCKLB_TERM_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	r->id.idiag_sport = s->sport;
	r->id.idiag_dport = s->dport;
	memcpy(r->id.idiag_src, s->src, sizeof(r->id.idiag_src));
	memcpy(r->id.idiag_dst, s->dst, sizeof(r->id.idiag_dst));
	r->id.idiag_if = s->ifindex;
	/* the kernel compares the two halves as the cookie's low and high 32 bits */
	r->id.idiag_cookie[0] = (__u32)s->cookie;
	r->id.idiag_cookie[1] = (__u32)(s->cookie >> 32);
}

static int diag_socket(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	return fd < 0 ? -errno : fd;
}

/* SOCK_DESTROY for one socket: 0, or the kernel's error. */
static int diag_destroy_one(int nl, const struct socklb_term_sock *s)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct diag_destroy_req req;
	char buf[512];
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DESTROY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	term_diag_request(s, &req.r);
	n = sendto(nl, &req, sizeof(req), 0, (const struct sockaddr *)&kernel, sizeof(kernel));
	if (n < 0)
		return -errno;
	do
		n = recv(nl, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (!NLMSG_OK(nlh, (int)n) || nlh->nlmsg_type != NLMSG_ERROR || NLMSG_PAYLOAD(nlh, 0) < sizeof(struct nlmsgerr))
		return -EBADMSG;
	return ((const struct nlmsgerr *)NLMSG_DATA(nlh))->error;
}

int term_diag_destroy(const struct term_socks *socks, __u32 netns, struct socklb_term_result *res, size_t n, char *why,
		      size_t len)
{
	size_t i;
	int nl, err;

	nl = diag_socket();
	if (nl < 0)
		return term_fail(why, len, nl, "opening a NETLINK_SOCK_DIAG socket");
	for (i = 0; i < socks->n; i++) {
		const struct socklb_term_sock *s = &socks->e[i];

		if (s->netns != netns || s->index >= n)
			continue;
		err = diag_destroy_one(nl, s);
		if (err == 0)
			res[s->index].destroyed++;
		else if (err != -ENOENT) /* -ENOENT: closed or re-connected meanwhile */
			res[s->index].failed++;
	}
	close(nl);
	return 0;
}

int term_diag_probe(char *why, size_t len)
{
	struct sockaddr_in any = { .sin_family = AF_INET };
	struct socklb_term_sock s = { .protocol = SOCKLB_TERM_UDP, .family = AF_INET };
	socklen_t al = sizeof(any), cl = sizeof(s.cookie);
	int nl, fd, err;

	nl = diag_socket();
	if (nl < 0)
		return term_fail(why, len, nl, "opening a NETLINK_SOCK_DIAG socket");
	/* unconnected on the wildcard address: found by its port alone, no interface needed */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = term_fail(why, len, -errno, "opening a UDP socket");
	} else if (bind(fd, (struct sockaddr *)&any, sizeof(any)) || getsockname(fd, (struct sockaddr *)&any, &al) ||
		   getsockopt(fd, SOL_SOCKET, SO_COOKIE, &s.cookie, &cl)) {
		err = term_fail(why, len, -errno, "preparing a UDP socket of our own");
	} else {
		s.sport = any.sin_port;
		err = diag_destroy_one(nl, &s);
		if (err) {
			term_fail(why, len, err, "SOCK_DESTROY of a UDP socket of our own");
			if (err == -EOPNOTSUPP)
				snprintf(why + strlen(why), len - strlen(why),
					 " (the kernel lacks CONFIG_INET_DIAG_DESTROY)");
			else if (err == -EPERM)
				snprintf(why + strlen(why), len - strlen(why), " (needs CAP_NET_ADMIN)");
		}
	}
	if (fd >= 0)
		close(fd);
	close(nl);
	return err;
}
