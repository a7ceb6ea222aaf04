// SPDX-License-Identifier: Apache-2.0
#include "metrics_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"

#define REQUEST_MAX 8192
#define CLIENT_TIMEOUT_S 2

struct metrics_server {
	struct metrics *metrics;
	int listen_fd;
	int stop_fd;
	pthread_t thread;
};

int metrics_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;
	size_t host_len;

	memset(ss, 0, sizeof(*ss));
	if (!colon || !colon[1])
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || errno || port > 65535)
		return -EINVAL;
	host_len = (size_t)(colon - s);
	if (host_len >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, host_len);
	host[host_len] = '\0';
	if (host[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		if (host_len < 2 || host[host_len - 1] != ']')
			return -EINVAL;
		host[host_len - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

	if (host_len == 0)
		a4->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
		return -EINVAL;
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	*len = sizeof(*a4);
	return 0;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void respond(int fd, int code, const char *reason, const char *type, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", code,
			 reason, type, len);

	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
}

#define TEXT "text/plain; charset=utf-8"

static void serve_path(struct metrics_server *srv, int fd, const char *path)
{
	char *text = NULL;
	size_t len = 0;

	if (strcmp(path, "/metrics") == 0) {
		int err = metrics_render(srv->metrics, &text, &len);

		if (err) {
			respond(fd, 500, "Internal Server Error", TEXT, "cannot render metrics\n", 22);
			return;
		}
		respond(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, len);
		free(text);
	} else if (strcmp(path, "/healthz") == 0) {
		if (metrics_synced(srv->metrics))
			respond(fd, 200, "OK", TEXT, "ok\n", 3);
		else
			respond(fd, 503, "Service Unavailable", TEXT, "initial sync not done\n", 22);
	} else {
		respond(fd, 404, "Not Found", TEXT, "not found\n", 10);
	}
}

static void serve(struct metrics_server *srv, int fd)
{
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };
	char req[REQUEST_MAX + 1], method[16], path[256];
	size_t len = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* Only the request line matters, but read the head so the client is not reset mid-send. */
	while (len < REQUEST_MAX) {
		ssize_t n = recv(fd, req + len, REQUEST_MAX - len, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[len] = '\0';
	if (sscanf(req, "%15s %255s HTTP/1.%*c", method, path) != 2) {
		respond(fd, 400, "Bad Request", TEXT, "bad request\n", 12);
		return;
	}
	if (strcmp(method, "GET") != 0) {
		respond(fd, 405, "Method Not Allowed", TEXT, "only GET\n", 9);
		return;
	}
	/* Ignore a query string: Prometheus may add one. */
	path[strcspn(path, "?")] = '\0';
	serve_path(srv, fd, path);
}

static void *server_thread(void *arg)
{
	struct metrics_server *srv = arg;
	struct pollfd pfd[2] = { { .fd = srv->stop_fd, .events = POLLIN }, { .fd = srv->listen_fd, .events = POLLIN } };

	for (;;) {
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("metrics server: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN)
			break;
		fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve(srv, fd);
		close(fd);
	}
	return NULL;
}

/* "127.0.0.1:9466" or "[::1]:9466": where fd listens, the port the kernel chose for port 0 included. */
static void listen_addr_format(int fd, char *buf, size_t len)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} a;
	socklen_t alen = sizeof(a);
	char host[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	memset(&a, 0, sizeof(a));
	if (getsockname(fd, &a.sa, &alen))
		return;
	if (a.sa.sa_family == AF_INET6 && inet_ntop(AF_INET6, &a.in6.sin6_addr, host, sizeof(host)))
		snprintf(buf, len, "[%s]:%u", host, ntohs(a.in6.sin6_port));
	else if (a.sa.sa_family == AF_INET && inet_ntop(AF_INET, &a.in.sin_addr, host, sizeof(host)))
		snprintf(buf, len, "%s:%u", host, ntohs(a.in.sin_port));
}

int metrics_server_start(const char *addr, struct metrics *m, struct metrics_server **out, struct socklb_err *e)
{
	char bound[INET6_ADDRSTRLEN + 8];
	struct metrics_server *srv;
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, err;

	err = metrics_addr_parse(addr, &ss, &len);
	if (err)
		return socklb_fail(
			e, err, "--metrics-addr \"%s\": expected HOST:PORT, e.g. 127.0.0.1:9466 or [::1]:9466", addr);
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return socklb_fail(e, -ENOMEM, "out of memory starting the metrics server");
	srv->metrics = m;
	srv->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	srv->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv->stop_fd < 0 || srv->listen_fd < 0) {
		err = socklb_fail(e, socklb_errno(), "metrics server: socket: %s", strerror(errno));
		goto err;
	}
	setsockopt(srv->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(srv->listen_fd, (struct sockaddr *)&ss, len) || listen(srv->listen_fd, 16)) {
		err = socklb_fail(e, socklb_errno(), "metrics server: cannot listen on %s: %s", addr, strerror(errno));
		goto err;
	}
	err = -pthread_create(&srv->thread, NULL, server_thread, srv);
	if (err) {
		socklb_fail(e, err, "metrics server: cannot start its thread: %s", strerror(-err));
		goto err;
	}
	listen_addr_format(srv->listen_fd, bound, sizeof(bound));
	pr_info("serving /metrics and /healthz on %s", bound[0] ? bound : addr);
	*out = srv;
	return 0;
err:
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->stop_fd >= 0)
		close(srv->stop_fd);
	free(srv);
	return err;
}

void metrics_server_stop(struct metrics_server *srv)
{
	uint64_t one = 1;

	if (!srv)
		return;
	if (write(srv->stop_fd, &one, sizeof(one)) < 0)
		pr_warn("metrics server: cannot signal its thread: %s", strerror(errno));
	pthread_join(srv->thread, NULL);
	close(srv->listen_fd);
	close(srv->stop_fd);
	free(srv);
}
