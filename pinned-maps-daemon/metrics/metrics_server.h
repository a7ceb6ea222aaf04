/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A deliberately tiny HTTP/1.x server for /metrics and /healthz, on its own
 * thread with plain sockets: one short request per connection, answered
 * and closed. A slow or silent client is dropped after a timeout.
 */
#ifndef SOCKLB_METRICS_SERVER_H
#define SOCKLB_METRICS_SERVER_H

#include <sys/socket.h>

#include "err.h"
#include "metrics.h"

#define SOCKLB_DEFAULT_METRICS_ADDR "127.0.0.1:9466"

/* "127.0.0.1:9466", "[::1]:9466", ":9466" (every address) → socket address. -EINVAL otherwise. */
int metrics_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len);

struct metrics_server;

/* Logs the address it listens on: with port 0, the port the kernel chose. */
int metrics_server_start(const char *addr, struct metrics *m, struct metrics_server **out, struct socklb_err *e);
void metrics_server_stop(struct metrics_server *srv);

#endif /* SOCKLB_METRICS_SERVER_H */
