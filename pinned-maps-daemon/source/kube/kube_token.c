// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_token.h"
#include "log.h"

#define TOKEN_MAX_LEN (64u << 10)

static void secret_free(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

/* The file's content without surrounding whitespace; never logs it. */
static int read_token_file(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	char *buf, *start, *end;
	size_t len;
	int err = 0;

	*out = NULL;
	if (!f)
		return -errno;
	buf = malloc(TOKEN_MAX_LEN + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(buf, 1, TOKEN_MAX_LEN + 1, f);
	if (ferror(f))
		err = -EIO;
	else if (len > TOKEN_MAX_LEN)
		err = -EFBIG;
	fclose(f);
	if (err)
		goto out;
	buf[len] = '\0';
	for (start = buf; *start == ' ' || *start == '\t' || *start == '\n' || *start == '\r'; start++)
		;
	for (end = buf + len; end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r');
	     end--)
		;
	if (end == start) {
		err = -ENODATA;
		goto out;
	}
	*out = strndup(start, end - start);
	if (!*out)
		err = -ENOMEM;
out:
	explicit_bzero(buf, len <= TOKEN_MAX_LEN ? len : TOKEN_MAX_LEN);
	free(buf);
	return err;
}

static const char *token_error(int err)
{
	return err == -ENODATA ? "the file is empty" : strerror(-err);
}

int kube_token_init(struct kube_token *t, const char *value, const char *file)
{
	int err;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	if (file) {
		t->file = strdup(file);
		err = t->file ? read_token_file(file, &t->value) : -ENOMEM;
		if (err) {
			pr_err("bearer token file %s: %s", file, token_error(err));
			kube_token_free(t);
			return err;
		}
		clock_gettime(CLOCK_MONOTONIC, &t->read_at);
	} else if (value) {
		t->value = strdup(value);
		if (!t->value) {
			kube_token_free(t);
			return -ENOMEM;
		}
	}
	return 0;
}

static void refresh(struct kube_token *t, bool reload)
{
	struct timespec now;
	char *fresh = NULL;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!reload && now.tv_sec - t->read_at.tv_sec < KUBE_TOKEN_REFRESH_S)
		return;
	t->read_at = now;
	err = read_token_file(t->file, &fresh);
	if (err || !fresh) {
		pr_warn("bearer token file %s: %s; keeping the previous token", t->file, token_error(err));
		return;
	}
	if (reload && t->value && strcmp(fresh, t->value) == 0)
		pr_debug("bearer token file %s: unchanged after the API server refused the token", t->file);
	else if (reload)
		pr_info("bearer token file %s: read a new token", t->file);
	secret_free(t->value);
	t->value = fresh;
}

char *kube_token_header(struct kube_token *t, bool reload, int *err)
{
	char *header = NULL;

	*err = 0;
	pthread_mutex_lock(&t->lock);
	if (t->file)
		refresh(t, reload);
	if (t->value && asprintf(&header, "Authorization: Bearer %s", t->value) < 0) {
		header = NULL;
		*err = -ENOMEM;
	}
	pthread_mutex_unlock(&t->lock);
	return header;
}

void kube_token_header_free(char *header)
{
	secret_free(header);
}

void kube_token_free(struct kube_token *t)
{
	secret_free(t->value);
	free(t->file);
	pthread_mutex_destroy(&t->lock);
	memset(t, 0, sizeof(*t));
}
