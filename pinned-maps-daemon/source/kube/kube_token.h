/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bearer token, shared by the watcher threads. A token file is re-read
 * every KUBE_TOKEN_REFRESH_S and after a 401 (projected service account
 * tokens rotate under us). The token is never logged.
 */
#ifndef SOCKLB_KUBE_TOKEN_H
#define SOCKLB_KUBE_TOKEN_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#define KUBE_TOKEN_REFRESH_S 60

struct kube_token {
	pthread_mutex_t lock;
	char *value; /* NULL = no bearer token (client certificate only) */
	char *file; /* NULL = value is fixed */
	struct timespec read_at; /* CLOCK_MONOTONIC */
};

/*
 * value: a fixed token; file: a token file (wins, read now: an unreadable or
 * empty file is an error naming it). Both NULL = no token.
 */
int kube_token_init(struct kube_token *t, const char *value, const char *file);
/*
 * "Authorization: Bearer …" for the next request (malloc'd), or NULL with
 * *err = 0 when there is no token. Re-reads the file when the copy is older
 * than KUBE_TOKEN_REFRESH_S or reload is set (after a 401); an unreadable
 * file keeps the previous token (logged).
 */
char *kube_token_header(struct kube_token *t, bool reload, int *err);
/* Wipe and free a header from kube_token_header(). */
void kube_token_header_free(char *header);
void kube_token_free(struct kube_token *t);

#endif /* SOCKLB_KUBE_TOKEN_H */
