// SPDX-License-Identifier: Apache-2.0
/*
 * Socket termination on real sockets: servers that keep TCP connections open,
 * a client that holds several sockets and reports what each one sees, a
 * DNS-style client loop, and the daemon's code path (remove a backend from a
 * service, then terminate the sockets still connected to it).
 *
 *   slb-term server ADDR PORT NAME
 *       UDP and TCP on ADDR:PORT; answers NAME to every datagram and to every
 *       read on a TCP connection, which stays open
 *   slb-term sockets LABEL KIND ADDR PORT [LABEL KIND ADDR PORT ...]
 *       KIND: udpc (connected UDP), udp (unconnected UDP), tcp. Opens each
 *       socket, exchanges once, prints "done"; then runs commands from stdin:
 *         check            per socket: pending error, then one exchange
 *         reconnect LABEL  a new socket in place of LABEL's, then one exchange
 *         quit             close the sockets and exit
 *       Lines: "LABEL pending none|ERR", "LABEL reply NAME [from ADDR] [peer ADDR]",
 *              "LABEL error send|recv|connect ERR"; "done" after each command.
 *   slb-term dnsloop ADDR PORT MILLISECONDS
 *       connected UDP, one query per 10 ms, reconnect on any error; prints
 *       "answer NS NAME", "error NS STEP ERR", "connected NS" (NS: CLOCK_MONOTONIC)
 *   slb-term remove ROOT VIP PORT tcp|udp BACKEND udp|tcp|udp,tcp
 *   slb-term terminate ROOT VIP PORT tcp|udp BACKEND udp|tcp|udp,tcp
 *       remove: take BACKEND (ADDR:PORT or [V6]:PORT) out of the service, then
 *       terminate; terminate: only terminate. Prints
 *       "destroyed N failed N start_ns NS end_ns NS". The method: the
 *       environment's SOCKLB_TERMINATION_METHOD (a name, or auto: the default).
 *       Exit 77, the reason on stderr, when that method cannot be used here.
 *   slb-term probe ROOT [METHOD]
 *       every part's verdict and the automatic choice; with METHOD, exit 0
 *       when it can be used here, else 77 and the reason on stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sockaddr_text.h"
#include "tool_util.h"

#include "lbmap.h"
#include "log.h"
#include "terminate.h"

#define MAX_FDS 256
#define MAX_HELD 16
#define EXIT_UNSUPPORTED 77

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- server ------------------------------------------------------------------- */

static int server(const char *host, const char *port, const char *name)
{
	struct pollfd fds[MAX_FDS];
	struct sockaddr_storage ss, peer;
	socklen_t len, plen;
	size_t nfds = 2, i;
	char buf[512];
	ssize_t n;
	int one = 1, c;

	if (parse_sockaddr(host, port, &ss, &len))
		return 2;
	fds[0].fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	fds[1].fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fds[0].fd < 0 || fds[1].fd < 0 || setsockopt(fds[1].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fds[0].fd, (struct sockaddr *)&ss, len) || bind(fds[1].fd, (struct sockaddr *)&ss, len) ||
	    listen(fds[1].fd, 128)) {
		perror("server");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		for (i = 0; i < nfds; i++)
			fds[i].events = POLLIN;
		if (poll(fds, nfds, -1) < 0)
			continue;
		if (fds[0].revents & POLLIN) {
			plen = sizeof(peer);
			n = recvfrom(fds[0].fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
			if (n >= 0)
				sendto(fds[0].fd, name, strlen(name), 0, (struct sockaddr *)&peer, plen);
		}
		if ((fds[1].revents & POLLIN) && nfds < MAX_FDS) {
			c = accept(fds[1].fd, NULL, NULL);
			if (c >= 0)
				fds[nfds++].fd = c;
		}
		for (i = 2; i < nfds; i++) {
			if (!fds[i].revents)
				continue;
			n = read(fds[i].fd, buf, sizeof(buf));
			if (n > 0 && write(fds[i].fd, name, strlen(name)) == (ssize_t)strlen(name))
				continue;
			close(fds[i].fd);
			fds[i--] = fds[--nfds];
		}
	}
}

/* ---- a client holding sockets ------------------------------------------------- */

enum held_kind { HELD_UDP_CONNECTED, HELD_UDP, HELD_TCP };

struct held {
	const char *label;
	enum held_kind kind;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	int fd;
};

static void held_open(struct held *h)
{
	h->fd = socket(h->dst.ss_family, h->kind == HELD_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (h->fd < 0) {
		printf("%s error socket %s\n", h->label, errname(errno));
		return;
	}
	if (h->kind != HELD_UDP && connect(h->fd, (struct sockaddr *)&h->dst, h->dst_len)) {
		printf("%s error connect %s\n", h->label, errname(errno));
		close(h->fd);
		h->fd = -1;
	}
}

/* One query and its answer: what the application sees. */
static void held_exchange(const struct held *h)
{
	struct sockaddr_storage from = { 0 }, peer = { 0 };
	socklen_t fl = sizeof(from), pl = sizeof(peer);
	char name[256], froms[128], peers[128];
	ssize_t n;

	if (h->fd < 0)
		return;
	if (h->kind == HELD_UDP)
		n = sendto(h->fd, "q", 1, 0, (const struct sockaddr *)&h->dst, h->dst_len);
	else
		n = send(h->fd, "q", 1, MSG_NOSIGNAL);
	if (n < 0) {
		printf("%s error send %s\n", h->label, errname(errno));
		return;
	}
	if (wait_readable(h->fd, 2000)) {
		printf("%s error recv %s\n", h->label, errname(errno));
		return;
	}
	n = recvfrom(h->fd, name, sizeof(name) - 1, 0, (struct sockaddr *)&from, &fl);
	if (n <= 0) {
		printf("%s error recv %s\n", h->label, n == 0 ? "EOF" : errname(errno));
		return;
	}
	name[n] = '\0';
	fmt_sockaddr(&from, froms, sizeof(froms));
	if (h->kind == HELD_UDP) {
		printf("%s reply %s from %s\n", h->label, name, froms);
		return;
	}
	if (getpeername(h->fd, (struct sockaddr *)&peer, &pl))
		snprintf(peers, sizeof(peers), "error-%s", errname(errno));
	else
		fmt_sockaddr(&peer, peers, sizeof(peers));
	if (h->kind == HELD_TCP)
		printf("%s reply %s peer %s\n", h->label, name, peers);
	else
		printf("%s reply %s from %s peer %s\n", h->label, name, froms, peers);
}

/* An error the kernel left on the socket (a destroyed socket's ECONNABORTED), without waiting. */
static void held_pending(const struct held *h)
{
	char buf[256];
	ssize_t n;

	if (h->fd < 0)
		return;
	n = recv(h->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		printf("%s pending none\n", h->label);
	else if (n < 0)
		printf("%s pending %s\n", h->label, errname(errno));
	else
		printf("%s pending %s\n", h->label, n == 0 ? "EOF" : "data");
}

static int sockets(int argc, char **argv)
{
	struct held held[MAX_HELD];
	char line[128], *arg;
	int i, n = argc / 4;

	if (argc % 4 || n == 0 || n > MAX_HELD)
		return 2;
	for (i = 0; i < n; i++) {
		const char *kind = argv[4 * i + 1];

		held[i].label = argv[4 * i];
		if (strcmp(kind, "udpc") == 0)
			held[i].kind = HELD_UDP_CONNECTED;
		else if (strcmp(kind, "udp") == 0)
			held[i].kind = HELD_UDP;
		else if (strcmp(kind, "tcp") == 0)
			held[i].kind = HELD_TCP;
		else
			return 2;
		if (parse_sockaddr(argv[4 * i + 2], argv[4 * i + 3], &held[i].dst, &held[i].dst_len))
			return 2;
		held_open(&held[i]);
		held_exchange(&held[i]);
	}
	printf("done\n");
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		arg = strchr(line, ' ');
		if (arg)
			*arg++ = '\0';
		if (strcmp(line, "quit") == 0)
			break;
		for (i = 0; i < n; i++) {
			if (strcmp(line, "check") == 0) {
				held_pending(&held[i]);
				held_exchange(&held[i]);
			} else if (strcmp(line, "reconnect") == 0 && arg && strcmp(arg, held[i].label) == 0) {
				if (held[i].fd >= 0)
					close(held[i].fd);
				held_open(&held[i]);
				held_exchange(&held[i]);
			}
		}
		printf("done\n");
	}
	return 0;
}

/* ---- a DNS-style client ----------------------------------------------------- */

#define DNS_INTERVAL_NS 10000000LL

static int dns_loop(const struct sockaddr_storage *dst, socklen_t len, int ms)
{
	long long end = now_ns() + ms * 1000000LL, next, wait;
	char name[256];
	int fd = -1;
	ssize_t n;

	while (now_ns() < end) {
		if (fd < 0) {
			fd = socket(dst->ss_family, SOCK_DGRAM, 0);
			if (fd < 0 || connect(fd, (const struct sockaddr *)dst, len)) {
				printf("error %lld connect %s\n", now_ns(), errname(errno));
				if (fd >= 0)
					close(fd);
				fd = -1;
				usleep(DNS_INTERVAL_NS / 1000);
				continue;
			}
			printf("connected %lld\n", now_ns());
		}
		next = now_ns() + DNS_INTERVAL_NS;
		if (send(fd, "q", 1, 0) < 0) {
			printf("error %lld send %s\n", now_ns(), errname(errno));
			close(fd);
			fd = -1;
			continue;
		}
		/* Answers to earlier queries count too: a silent backend answers none. */
		while ((wait = next - now_ns()) > 0) {
			if (wait_readable(fd, (int)((wait + 999999) / 1000000)))
				break;
			n = recv(fd, name, sizeof(name) - 1, MSG_DONTWAIT);
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n < 0) {
				printf("error %lld recv %s\n", now_ns(), errname(errno));
				close(fd);
				fd = -1;
				break;
			}
			name[n] = '\0';
			printf("answer %lld %s\n", now_ns(), name);
		}
		if (fd >= 0 && (wait = next - now_ns()) > 0)
			usleep((useconds_t)(wait / 1000));
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

/* ---- the daemon's code path ------------------------------------------------- */

/* SOCKLB_TERMINATION_METHOD, or the automatic choice; -EOPNOTSUPP (why written) when it cannot be used. */
static int pick_method(const char *root, enum socklb_term_method *m, char *why, size_t len)
{
	const char *name = getenv("SOCKLB_TERMINATION_METHOD");
	bool automatic = !name || !*name || strcmp(name, "auto") == 0;
	struct socklb_term_probe p;
	int err;

	*m = SOCKLB_TERM_OFF;
	if (!automatic && (socklb_term_method_parse(name, m) || *m == SOCKLB_TERM_OFF)) {
		snprintf(why, len, "SOCKLB_TERMINATION_METHOD=%s: not a method", name);
		return -EINVAL;
	}
	err = socklb_term_probe(root, &p);
	if (err) {
		snprintf(why, len, "probing: %s", strerror(-err));
		return err;
	}
	if (automatic)
		*m = socklb_term_method_choose(&p, why, len);
	else if (socklb_term_method_check(&p, *m, why, len))
		return -EOPNOTSUPP;
	return *m == SOCKLB_TERM_OFF ? -EOPNOTSUPP : 0;
}

static int parse_protocols(const char *s, __u8 *protocols)
{
	if (strcmp(s, "udp") == 0)
		*protocols = SOCKLB_TERM_UDP;
	else if (strcmp(s, "tcp") == 0)
		*protocols = SOCKLB_TERM_TCP;
	else if (strcmp(s, "udp,tcp") == 0 || strcmp(s, "tcp,udp") == 0)
		*protocols = SOCKLB_TERM_UDP | SOCKLB_TERM_TCP;
	else
		return -EINVAL;
	return 0;
}

/* Without the backend: what the daemon writes when an endpoint leaves. */
static int service_remove_backend(struct socklb_maps *m, const struct socklb_frontend *fe,
				  const struct socklb_endpoint *gone, const struct socklb_svc *svc,
				  struct socklb_endpoint *cur, __u32 ncur)
{
	__u32 i, kept = 0;

	for (i = 0; i < ncur; i++)
		if (cur[i].port != gone->port || memcmp(cur[i].addr, gone->addr, sizeof(gone->addr)) != 0)
			cur[kept++] = cur[i];
	if (kept == ncur) {
		fprintf(stderr, "the backend is not in the service\n");
		return -ENOENT;
	}
	return socklb_service_upsert(m, fe, cur, kept, svc->affinity_timeout);
}

static int remove_and_terminate(char **argv, bool remove)
{
	struct socklb_term_result res = {};
	struct socklb_term_target target = {};
	struct socklb_endpoint gone, *cur = NULL;
	struct socklb_frontend fe = {};
	struct socklb_term *term = NULL;
	struct socklb_maps m;
	struct socklb_svc svc;
	enum socklb_term_method method;
	char why[SOCKLB_TERM_WHY_LEN] = "";
	long long start, end;
	__u32 ncur;
	int proto, err;

	proto = socklb_proto_parse(argv[3]);
	if (socklb_addr_parse(argv[1], fe.addr) || proto < 0 || parse_endpoint(argv[4], &gone) ||
	    parse_protocols(argv[5], &target.protocols)) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	fe.port = (__u16)atoi(argv[2]);
	fe.proto = (__u8)proto;

	err = socklb_maps_open(argv[0], NULL, &m);
	if (err)
		goto out;
	err = socklb_service_get(&m, &fe, &svc, &cur, &ncur);
	/* opened before the change, as the daemon holds it open */
	if (!err)
		err = pick_method(argv[0], &method, why, sizeof(why));
	if (!err)
		err = socklb_term_open(argv[0], method, &term, why, sizeof(why));
	if (err)
		goto out_maps;

	start = now_ns();
	if (remove)
		err = service_remove_backend(&m, &fe, &gone, &svc, cur, ncur);
	if (!err) {
		target.svc_id = svc.id;
		memcpy(target.backend, gone.addr, sizeof(target.backend));
		target.backend_port = gone.port;
		err = socklb_term_run(term, &target, 1, &res, why, sizeof(why));
	}
	end = now_ns();
	if (!err)
		printf("destroyed %u failed %u start_ns %lld end_ns %lld\n", res.destroyed, res.failed, start, end);
	socklb_term_close(term);
out_maps:
	free(cur);
	socklb_maps_close(&m);
out:
	if (err == -EOPNOTSUPP) {
		fprintf(stderr, "%s\n", why);
		return EXIT_UNSUPPORTED;
	}
	if (err) {
		fprintf(stderr, "slb-term %s: %s\n", remove ? "remove" : "terminate", *why ? why : strerror(-err));
		return 1;
	}
	return 0;
}

static int probe(const char *root, const char *method)
{
	char why[SOCKLB_TERM_WHY_LEN];
	struct socklb_term_probe p;
	enum socklb_term_method m;
	int part;

	if (socklb_term_probe(root, &p))
		return 1;
	if (method) {
		if (socklb_term_method_parse(method, &m) || m == SOCKLB_TERM_OFF)
			return 2;
		if (socklb_term_method_check(&p, m, why, sizeof(why))) {
			printf("%s\n", why);
			return EXIT_UNSUPPORTED;
		}
		return 0;
	}
	for (part = 0; part < SOCKLB_TERM_PARTS; part++)
		printf("%-8s %s\n", socklb_term_part_name(part), p.err[part] ? p.why[part] : "ok");
	m = socklb_term_method_choose(&p, why, sizeof(why));
	printf("auto     %s (%s)\n", socklb_term_method_name(m), why);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: see the comment at the top of test/tools/slb-term.c\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;

	setvbuf(stdout, NULL, _IOLBF, 0);
	socklb_log_init("slb-term", SOCKLB_LOG_INFO, NULL, true);
	if (argc == 5 && strcmp(argv[1], "server") == 0)
		return server(argv[2], argv[3], argv[4]);
	if (argc >= 6 && strcmp(argv[1], "sockets") == 0)
		return sockets(argc - 2, argv + 2);
	if (argc == 5 && strcmp(argv[1], "dnsloop") == 0) {
		if (parse_sockaddr(argv[2], argv[3], &ss, &len))
			return 2;
		return dns_loop(&ss, len, atoi(argv[4]));
	}
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "probe") == 0)
		return probe(argv[2], argc == 4 ? argv[3] : NULL);
	if (argc == 8 && (strcmp(argv[1], "remove") == 0 || strcmp(argv[1], "terminate") == 0))
		return remove_and_terminate(argv + 2, argv[1][0] == 'r');
	return usage();
}
