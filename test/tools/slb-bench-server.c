// SPDX-License-Identifier: Apache-2.0
/*
 * The benchmark's backend: one process per backend pod, one thread, one
 * epoll loop serving three listeners so that all backends together fit on
 * the one CPU the benchmark gives them (the caller pins it with taskset).
 *
 *   slb-bench-server NAME [--rr PORT] [--sink PORT] [--udp PORT] [--reply BYTES]
 *
 *   rr    TCP request/response: read a request up to its '\n', write the
 *         reply, close. The server closes first, so TIME_WAIT stays here and
 *         the client's ephemeral ports never run out.
 *   sink  TCP stream sink: read and discard until the peer closes.
 *   udp   UDP request/response: every datagram gets the reply.
 *
 * A reply starts with "NAME\n" (so `slb-bench spread` can tell backends
 * apart) and is padded to --reply bytes (default 64).
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum endpoint_kind {
	KIND_RR_LISTEN,
	KIND_SINK_LISTEN,
	KIND_UDP,
	KIND_RR_CONN,
	KIND_SINK_CONN,
};

#define MAX_REPLY 65000
#define EVENTS 256

struct server {
	int epoll_fd;
	char reply[MAX_REPLY];
	size_t reply_len;
};

static int watch_fd(struct server *s, int fd, enum endpoint_kind kind)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)kind << 32) | (uint32_t)fd };

	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		fprintf(stderr, "slb-bench-server: epoll_ctl add fd %d: %s\n", fd, strerror(errno));
		return -errno;
	}
	return 0;
}

static int listen_on(struct server *s, int type, int port, enum endpoint_kind kind)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = INADDR_ANY };
	int fd, one = 1, err;

	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "slb-bench-server: socket for port %d: %s\n", port, strerror(errno));
		return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || (type == SOCK_STREAM && listen(fd, 4096))) {
		err = -errno;
		fprintf(stderr, "slb-bench-server: listen on port %d: %s\n", port, strerror(errno));
		close(fd);
		return err;
	}
	err = watch_fd(s, fd, kind);
	if (err)
		close(fd);
	return err;
}

static void accept_all(struct server *s, int listen_fd, enum endpoint_kind conn_kind)
{
	int fd;

	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (watch_fd(s, fd, conn_kind))
			close(fd);
	}
}

/* Reply once the request's last byte ('\n') arrived; the request is small and never pipelined. */
static void serve_rr(struct server *s, int fd)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			if (memchr(buf, '\n', n)) {
				if (write(fd, s->reply, s->reply_len) < 0 && errno != EPIPE && errno != ECONNRESET)
					fprintf(stderr, "slb-bench-server: reply: %s\n", strerror(errno));
				close(fd);
				return;
			}
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return;
		close(fd); /* peer gone before its request was complete */
		return;
	}
}

static void drain_sink(int fd)
{
	static char buf[1 << 18];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n == 0 || errno != EAGAIN)
		close(fd);
}

static void serve_udp(struct server *s, int fd)
{
	struct sockaddr_storage peer;
	socklen_t plen;
	char buf[MAX_REPLY];

	for (;;) {
		plen = sizeof(peer);
		if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen) < 0)
			return;
		if (sendto(fd, s->reply, s->reply_len, 0, (struct sockaddr *)&peer, plen) < 0 && errno != EAGAIN)
			fprintf(stderr, "slb-bench-server: udp reply: %s\n", strerror(errno));
	}
}

static int parse_port(const char *s, int *port)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end || v <= 0 || v > 65535)
		return -EINVAL;
	*port = (int)v;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: slb-bench-server NAME [--rr PORT] [--sink PORT] [--udp PORT] [--reply BYTES]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rr", required_argument, NULL, 'r' },
		{ "sink", required_argument, NULL, 's' },
		{ "udp", required_argument, NULL, 'u' },
		{ "reply", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	static struct server s;
	struct epoll_event events[EVENTS];
	int rr_port = 0, sink_port = 0, udp_port = 0, reply = 64, opt, i, n;
	const char *name;
	size_t name_len;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if (parse_port(optarg, &rr_port))
				return usage();
			break;
		case 's':
			if (parse_port(optarg, &sink_port))
				return usage();
			break;
		case 'u':
			if (parse_port(optarg, &udp_port))
				return usage();
			break;
		case 'b':
			reply = atoi(optarg);
			break;
		default:
			return usage();
		}
	}
	if (optind != argc - 1 || (!rr_port && !sink_port && !udp_port))
		return usage();
	name = argv[optind];
	name_len = strlen(name);
	if (reply < (int)name_len + 1 || reply > MAX_REPLY) {
		fprintf(stderr, "slb-bench-server: --reply %d must hold the name and a newline, at most %d\n", reply,
			MAX_REPLY);
		return 2;
	}
	memset(s.reply, 'x', reply);
	memcpy(s.reply, name, name_len);
	s.reply[name_len] = '\n';
	s.reply_len = reply;

	signal(SIGPIPE, SIG_IGN);
	s.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (s.epoll_fd < 0) {
		perror("slb-bench-server: epoll_create1");
		return 1;
	}
	if ((rr_port && listen_on(&s, SOCK_STREAM, rr_port, KIND_RR_LISTEN)) ||
	    (sink_port && listen_on(&s, SOCK_STREAM, sink_port, KIND_SINK_LISTEN)) ||
	    (udp_port && listen_on(&s, SOCK_DGRAM, udp_port, KIND_UDP)))
		return 1;

	for (;;) {
		n = epoll_wait(s.epoll_fd, events, EVENTS, -1);
		if (n < 0 && errno != EINTR) {
			perror("slb-bench-server: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			int fd = (int)(uint32_t)events[i].data.u64;

			switch ((enum endpoint_kind)(events[i].data.u64 >> 32)) {
			case KIND_RR_LISTEN:
				accept_all(&s, fd, KIND_RR_CONN);
				break;
			case KIND_SINK_LISTEN:
				accept_all(&s, fd, KIND_SINK_CONN);
				break;
			case KIND_UDP:
				serve_udp(&s, fd);
				break;
			case KIND_RR_CONN:
				serve_rr(&s, fd);
				break;
			case KIND_SINK_CONN:
				drain_sink(fd);
				break;
			}
		}
	}
}
