// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "kube_exec.h"
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
	char *buf, *start, *end;
	size_t len;
	int err;

	*out = NULL;
	err = socklb_file_read(path, TOKEN_MAX_LEN, &buf, &len, NULL);
	if (err)
		return err;
	for (start = buf; *start == ' ' || *start == '\t' || *start == '\n' || *start == '\r'; start++)
		;
	for (end = buf + len; end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r');
	     end--)
		;
	if (end == start)
		err = -ENODATA;
	else if (!(*out = strndup(start, end - start)))
		err = -ENOMEM;
	explicit_bzero(buf, len);
	free(buf);
	return err;
}

static const char *token_error(int err)
{
	return err == -ENODATA ? "the file is empty" : strerror(-err);
}

static void blob_wipe(struct kube_blob *b)
{
	if (b->data)
		explicit_bzero(b->data, b->len);
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static int blob_copy(struct kube_blob *dst, const struct kube_blob *src)
{
	if (!src->data)
		return 0;
	dst->data = malloc(src->len);
	if (!dst->data)
		return -ENOMEM;
	memcpy(dst->data, src->data, src->len);
	dst->len = src->len;
	return 0;
}

static const char *credential_kind(const struct kube_exec_cred *c)
{
	if (c->token && c->cert.data)
		return "token and client certificate";
	return c->token ? "token" : "client certificate";
}

/* Run the plugin; on success its credential replaces ours, on failure ours stays and e says what failed. */
static int run_plugin(struct kube_token *t, const atomic_bool *stop, struct socklb_err *e)
{
	struct kube_exec_cred cred;
	char expiry[64] = "does not expire";
	struct tm tm;
	int err;

	err = kube_exec_run(t->exec, stop, &cred, e);
	if (err)
		return err;
	secret_free(t->value);
	blob_wipe(&t->cert);
	blob_wipe(&t->key);
	t->value = cred.token;
	t->cert = cred.cert;
	t->key = cred.key;
	t->expires = cred.expires;
	t->generation++;
	if (cred.expires && gmtime_r(&cred.expires, &tm))
		strftime(expiry, sizeof(expiry), "expires %Y-%m-%dT%H:%M:%SZ", &tm);
	pr_info("exec credential plugin %s: a new %s, %s", t->exec->argv[0], credential_kind(&cred), expiry);
	if (cred.expires && cred.expires - time(NULL) <= KUBE_EXEC_RENEW_S)
		pr_warn("exec credential plugin %s: the credential expires in less than %d s: it is renewed for "
			"every request",
			t->exec->argv[0], KUBE_EXEC_RENEW_S);
	return 0;
}

int kube_token_init(struct kube_token *t, const char *value, const char *file, const struct kube_exec_config *exec,
		    struct socklb_err *e)
{
	int err;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->generation = 1;
	if (file) {
		t->file = strdup(file);
		err = t->file ? read_token_file(file, &t->value) : -ENOMEM;
		if (err) {
			kube_token_free(t);
			return socklb_fail(e, err, "bearer token file %s: %s", file, token_error(err));
		}
		clock_gettime(CLOCK_MONOTONIC, &t->read_at);
	} else if (value) {
		t->value = strdup(value);
		if (!t->value) {
			kube_token_free(t);
			return socklb_fail(e, -ENOMEM, "out of memory copying the bearer token");
		}
	} else if (exec) {
		t->exec = exec;
		err = run_plugin(t, NULL, e);
		if (err) {
			socklb_err_prefix(e, "exec credential plugin");
			kube_token_free(t);
			return err;
		}
	}
	return 0;
}

static void refresh_file(struct kube_token *t, bool reload)
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
	t->generation++;
}

/*
 * Re-run the plugin when its credential nears expiry or was just refused (and
 * no other thread has renewed it since). 0 when there is a credential to use.
 */
static int refresh_exec(struct kube_token *t, unsigned long refused, const atomic_bool *stop, struct socklb_err *e)
{
	time_t now = time(NULL);
	bool expiring = t->expires && now >= t->expires - KUBE_EXEC_RENEW_S;
	bool was_refused = refused && refused == t->generation;
	struct socklb_err why;
	int err;

	if (!expiring && !was_refused)
		return 0;
	pr_info("exec credential plugin %s: %s; running it again", t->exec->argv[0],
		was_refused ? "the API server refused the credential (401)" : "the credential is about to expire");
	err = run_plugin(t, stop, &why);
	if (!err)
		return 0;
	if (err == -ECANCELED)
		return socklb_fail(e, err, "exec credential plugin: %s", why.msg);
	now = time(NULL);
	if (t->expires && now >= t->expires)
		return socklb_fail(e, -ENOKEY, "exec credential plugin: %s; the previous credential has expired",
				   why.msg);
	pr_warn("exec credential plugin: %s; keeping the previous credential", why.msg);
	return 0;
}

int kube_token_get(struct kube_token *t, unsigned long refused, const atomic_bool *stop, struct kube_credential *out,
		   struct socklb_err *e)
{
	int err = 0;

	memset(out, 0, sizeof(*out));
	socklb_err_clear(e);
	pthread_mutex_lock(&t->lock);
	if (t->exec)
		err = refresh_exec(t, refused, stop, e);
	else if (t->file)
		refresh_file(t, refused != 0);
	if (err)
		goto out;
	out->generation = t->generation;
	if (t->value && asprintf(&out->header, "Authorization: Bearer %s", t->value) < 0) {
		out->header = NULL;
		err = -ENOMEM;
	}
	if (!err)
		err = blob_copy(&out->cert, &t->cert);
	if (!err)
		err = blob_copy(&out->key, &t->key);
out:
	pthread_mutex_unlock(&t->lock);
	if (err)
		kube_credential_free(out);
	return socklb_err_fallback(e, err, "out of memory copying the credential");
}

void kube_credential_free(struct kube_credential *c)
{
	secret_free(c->header);
	blob_wipe(&c->cert);
	blob_wipe(&c->key);
	memset(c, 0, sizeof(*c));
}

void kube_token_free(struct kube_token *t)
{
	secret_free(t->value);
	free(t->file);
	blob_wipe(&t->cert);
	blob_wipe(&t->key);
	pthread_mutex_destroy(&t->lock);
	memset(t, 0, sizeof(*t));
}
