// SPDX-License-Identifier: Apache-2.0
/*
 * Real sockets for the tests and the demo: small servers that answer with
 * their name, and clients that print what the application sees (reply,
 * peer, source) one line per operation, easy to match in shell.
 *
 *   slb-probe server tcp|udp ADDR PORT NAME
 *   slb-probe tcp ADDR PORT [COUNT]        connect, read the name, print name and getpeername
 *   slb-probe udp ADDR PORT [COUNT]        unconnected sendto/recvfrom, print name and source
 *   slb-probe udpc ADDR PORT [COUNT]       connected UDP, print name, getpeername and source
 *   slb-probe loop ADDR PORT MILLISECONDS  TCP connects in a loop, for MILLISECONDS or until
 *                                         SIGTERM; print attempts and failures
 *   slb-probe spread ADDR PORT COUNT       TCP connects; print how many reached each name
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sockaddr_text.h"
#include "tool_util.h"

static int server(const char *proto, const char *host, const char *port, const char *name)
{
	struct sockaddr_storage ss, peer = { 0 };
	socklen_t len, plen;
	bool udp = strcmp(proto, "udp") == 0;
	char buf[512];
	int fd, c, one = 1;

	if (parse_sockaddr(host, port, &ss, &len))
		return 2;
	fd = socket(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || (!udp && listen(fd, 1024))) {
		perror("server");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		plen = sizeof(peer);
		if (udp) {
			ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);

			if (n >= 0)
				sendto(fd, name, strlen(name), 0, (struct sockaddr *)&peer, plen);
			continue;
		}
		c = accept(fd, (struct sockaddr *)&peer, &plen);
		if (c < 0)
			continue;
		if (write(c, name, strlen(name)) < 0)
			perror("write");
		close(c);
	}
}

/* One TCP connect + read; returns 0 and the name, or -errno. */
static int tcp_once(const struct sockaddr_storage *ss, socklen_t len, char *name, size_t nlen, char *peer, size_t plen)
{
	struct sockaddr_storage p = { 0 };
	socklen_t pl = sizeof(p);
	ssize_t n;
	int fd, err;

	fd = socket(ss->ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)ss, len)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (peer) {
		if (getpeername(fd, (struct sockaddr *)&p, &pl) == 0)
			fmt_sockaddr(&p, peer, plen);
		else
			snprintf(peer, plen, "?");
	}
	if (wait_readable(fd, 2000)) {
		err = -errno;
		close(fd);
		return err;
	}
	n = read(fd, name, nlen - 1);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	name[n] = '\0';
	return 0;
}

static int client_tcp(const struct sockaddr_storage *ss, socklen_t len, int count)
{
	char name[256], peer[128];
	int i, err, failed = 0;

	for (i = 0; i < count; i++) {
		err = tcp_once(ss, len, name, sizeof(name), peer, sizeof(peer));
		if (err) {
			printf("error %s\n", errname(-err));
			failed++;
			continue;
		}
		printf("reply %s peer %s\n", name, peer);
	}
	return failed ? 1 : 0;
}

static int client_udp(const struct sockaddr_storage *ss, socklen_t len, int count, bool connected)
{
	struct sockaddr_storage from = { 0 }, p = { 0 };
	socklen_t fl, pl;
	char name[256], froms[128], peers[128];
	int i, fd, failed = 0;
	ssize_t n;

	fd = socket(ss->ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	if (connected && connect(fd, (const struct sockaddr *)ss, len)) {
		printf("error %s\n", errname(errno));
		return 1;
	}
	for (i = 0; i < count; i++) {
		n = connected ? send(fd, "q", 1, 0) : sendto(fd, "q", 1, 0, (const struct sockaddr *)ss, len);
		if (n < 0 || wait_readable(fd, 2000)) {
			printf("error %s\n", errname(errno));
			failed++;
			continue;
		}
		fl = sizeof(from);
		n = recvfrom(fd, name, sizeof(name) - 1, 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			printf("error %s\n", errname(errno));
			failed++;
			continue;
		}
		name[n] = '\0';
		fmt_sockaddr(&from, froms, sizeof(froms));
		if (connected) {
			pl = sizeof(p);
			if (getpeername(fd, (struct sockaddr *)&p, &pl)) {
				printf("error getpeername %s\n", errname(errno));
				failed++;
				continue;
			}
			printf("reply %s from %s peer %s\n", name, froms, fmt_sockaddr(&p, peers, sizeof(peers)));
		} else {
			printf("reply %s from %s\n", name, froms);
		}
	}
	close(fd);
	return failed ? 1 : 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static volatile sig_atomic_t loop_stopped;

static void loop_stop(int sig)
{
	(void)sig;
	loop_stopped = 1;
}

/* Until ms have passed or SIGTERM/SIGINT came: the counts are printed either way. */
static int client_loop(const struct sockaddr_storage *ss, socklen_t len, int ms)
{
	struct sigaction sa = { .sa_handler = loop_stop };
	long long end = now_ms() + ms, attempts = 0, failures = 0;
	char name[256];
	int err;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!loop_stopped && now_ms() < end) {
		err = tcp_once(ss, len, name, sizeof(name), NULL, 0);
		if (err == -EINTR && loop_stopped)
			break; /* the signal cut this attempt short: not a failure */
		attempts++;
		if (err) {
			failures++;
			fprintf(stderr, "connect %lld failed: %s\n", attempts, errname(-err));
		}
	}
	printf("attempts %lld failures %lld\n", attempts, failures);
	return failures ? 1 : 0;
}

static int client_spread(const struct sockaddr_storage *ss, socklen_t len, int count)
{
	struct tally t = {};
	char name[256];
	int i;

	for (i = 0; i < count; i++) {
		if (tcp_once(ss, len, name, sizeof(name), NULL, 0))
			t.errors++;
		else
			tally_add(&t, name);
	}
	return tally_print(&t);
}

static int usage(void)
{
	fprintf(stderr, "usage: slb-probe server tcp|udp ADDR PORT NAME\n"
			"       slb-probe tcp|udp|udpc ADDR PORT [COUNT]\n"
			"       slb-probe loop ADDR PORT MILLISECONDS\n"
			"       slb-probe spread ADDR PORT COUNT\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && strcmp(argv[1], "server") == 0)
		return server(argv[2], argv[3], argv[4], argv[5]);
	if (argc < 4 || argc > 5)
		return usage();
	if (parse_sockaddr(argv[2], argv[3], &ss, &len))
		return 2;
	n = argc == 5 ? atoi(argv[4]) : 1;
	if (strcmp(argv[1], "tcp") == 0)
		return client_tcp(&ss, len, n);
	if (strcmp(argv[1], "udp") == 0)
		return client_udp(&ss, len, n, false);
	if (strcmp(argv[1], "udpc") == 0)
		return client_udp(&ss, len, n, true);
	if (strcmp(argv[1], "loop") == 0 && argc == 5)
		return client_loop(&ss, len, n);
	if (strcmp(argv[1], "spread") == 0 && argc == 5)
		return client_spread(&ss, len, n);
	return usage();
}
