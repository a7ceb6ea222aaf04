// SPDX-License-Identifier: Apache-2.0
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kube_exec.h"
#include "log.h"

extern char **environ;

/* A stderr line longer than this is logged in pieces. */
#define STDERR_LINE_MAX 1024
#define POLL_MS 200

struct plugin_run {
	const struct kube_exec_config *x;
	pid_t pid;
	int out_fd, err_fd;
	char *out;
	size_t out_len;
	char line[STDERR_LINE_MAX + 1];
	size_t line_len;
	char last_line[256]; /* the last stderr line: the reason, when it fails */
};

/* NAME of "NAME=value" is set by exec.env or by us: the daemon's own value gives way. */
static bool overridden(const struct kube_exec_config *x, const char *entry)
{
	size_t n = strcspn(entry, "=");

	if (n == strlen("KUBERNETES_EXEC_INFO") && strncmp(entry, "KUBERNETES_EXEC_INFO", n) == 0)
		return true;
	for (char **e = x->env; *e; e++)
		if (strncmp(*e, entry, n) == 0 && (*e)[n] == '=')
			return true;
	return false;
}

/* The daemon's environment, exec.env over it, and KUBERNETES_EXEC_INFO (as client-go builds it). */
static char **plugin_env(const struct kube_exec_config *x, char **info)
{
	size_t n = 0, extra = 0;
	char **env;

	for (char **e = environ; *e; e++)
		n++;
	for (char **e = x->env; *e; e++)
		extra++;
	env = calloc(n + extra + 2, sizeof(*env));
	if (!env || asprintf(info, "KUBERNETES_EXEC_INFO=%s", x->exec_info) < 0) {
		free(env);
		*info = NULL;
		return NULL;
	}
	n = 0;
	for (char **e = environ; *e; e++)
		if (!overridden(x, *e))
			env[n++] = *e;
	for (char **e = x->env; *e; e++)
		env[n++] = *e;
	env[n] = *info;
	return env;
}

static int spawn(struct plugin_run *r, struct socklb_err *e)
{
	int out[2] = { -1, -1 }, err[2] = { -1, -1 };
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char **env, *info = NULL;
	int rc;

	env = plugin_env(r->x, &info);
	if (!env)
		return -ENOMEM;
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		rc = errno;
		socklb_err_set(e, -rc, "cannot make a pipe: %s", strerror(rc));
		goto out;
	}
	posix_spawn_file_actions_init(&actions);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, out[1], 1);
	posix_spawn_file_actions_adddup2(&actions, err[1], 2);
	/* our blocked (signalfd) and ignored (SIGPIPE) signals are not the plugin's business */
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	/* its own process group: a timeout kills whatever it started too */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	/* PATH is the daemon's, as in client-go: exec.env configures the plugin, not where it is found */
	rc = posix_spawnp(&r->pid, r->x->argv[0], &actions, &attr, r->x->argv, env);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	if (rc == ENOENT)
		socklb_err_set(e, -rc, "executable %s not found%s%s", r->x->argv[0],
			       r->x->install_hint ? "; its install hint: " : "",
			       r->x->install_hint ? r->x->install_hint : "");
	else if (rc)
		socklb_err_set(e, -rc, "cannot run %s: %s", r->x->argv[0], strerror(rc));
out:
	close(out[1]);
	close(err[1]);
	if (rc) {
		close(out[0]);
		close(err[0]);
	} else {
		r->out_fd = out[0];
		r->err_fd = err[0];
	}
	free(env);
	free(info);
	return -rc;
}

static void log_line(struct plugin_run *r)
{
	r->line[r->line_len] = '\0';
	if (r->line_len) {
		pr_info("exec credential plugin %s: stderr: %s", r->x->argv[0], r->line);
		snprintf(r->last_line, sizeof(r->last_line), "%s", r->line);
	}
	r->line_len = 0;
}

/* Pass what the plugin wrote to stderr on to our log, a line at a time. */
static void read_stderr(struct plugin_run *r, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			log_line(r);
			continue;
		}
		if (r->line_len == STDERR_LINE_MAX)
			log_line(r);
		r->line[r->line_len++] = buf[i] == '\r' ? ' ' : buf[i];
	}
}

static int read_stdout(struct plugin_run *r, const char *buf, size_t n)
{
	char *grown;

	if (r->out_len + n > KUBE_EXEC_STDOUT_MAX)
		return -EFBIG;
	grown = realloc(r->out, r->out_len + n + 1);
	if (!grown)
		return -ENOMEM;
	r->out = grown;
	memcpy(r->out + r->out_len, buf, n);
	r->out_len += n;
	r->out[r->out_len] = '\0';
	return 0;
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* Both pipes to their end, then the exit status; a timeout or stop kills the process group. */
static int collect(struct plugin_run *r, const atomic_bool *stop, int *status, struct socklb_err *e)
{
	struct pollfd pfd[2] = { { .fd = r->out_fd, .events = POLLIN }, { .fd = r->err_fd, .events = POLLIN } };
	struct timespec deadline;
	char buf[4096];
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += KUBE_EXEC_TIMEOUT_S;
	for (;;) {
		pid_t done = pfd[0].fd < 0 && pfd[1].fd < 0 ? waitpid(r->pid, status, WNOHANG) : 0;

		if (done == r->pid)
			break;
		if (stop && atomic_load(stop)) {
			err = -ECANCELED;
			socklb_err_set(e, err, "stopped while %s was running", r->x->argv[0]);
		} else if (ms_left(&deadline) <= 0) {
			err = -ETIMEDOUT;
			socklb_err_set(e, err, "%s did not finish within %d s; killed", r->x->argv[0],
				       KUBE_EXEC_TIMEOUT_S);
		}
		if (err)
			break;
		/* both pipes closed: only the exit is awaited, which comes at once */
		if (poll(pfd, 2, pfd[0].fd < 0 && pfd[1].fd < 0 ? 5 : POLL_MS) < 0 && errno != EINTR) {
			err = -errno;
			socklb_err_set(e, err, "waiting for %s: %s", r->x->argv[0], strerror(-err));
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				continue;
			}
			if (i == 1) {
				read_stderr(r, buf, (size_t)n);
			} else if (read_stdout(r, buf, (size_t)n)) {
				err = -EPROTO;
				socklb_err_set(e, err, "%s printed more than %u bytes", r->x->argv[0],
					       KUBE_EXEC_STDOUT_MAX);
			}
		}
		if (err)
			break;
	}
	if (err) {
		kill(-r->pid, SIGKILL);
		waitpid(r->pid, status, 0);
	}
	for (int i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	log_line(r);
	return err;
}

static int two_digits(const char *s)
{
	return s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
}

int kube_rfc3339_parse(const char *s, time_t *t)
{
	struct tm tm = { 0 };
	const char *p;
	long offset = 0;
	int hh, mm;

	p = strptime(s, "%Y-%m-%d", &tm);
	if (!p || strlen(s) < 10 || (*p != 'T' && *p != 't' && *p != ' '))
		return -EINVAL;
	hh = two_digits(p + 1);
	mm = hh >= 0 && p[3] == ':' ? two_digits(p + 4) : -1;
	if (mm < 0 || p[6] != ':' || two_digits(p + 7) < 0 || hh > 23 || mm > 59 || two_digits(p + 7) > 60)
		return -EINVAL;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = two_digits(p + 7);
	p += 9;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -EINVAL;
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	}
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		offset = 0;
	} else if ((*p == '+' || *p == '-') && (hh = two_digits(p + 1)) >= 0 && p[3] == ':' &&
		   (mm = two_digits(p + 4)) >= 0 && !p[6] && hh < 24 && mm < 60) {
		offset = (hh * 60L + mm) * 60 * (*p == '-' ? -1 : 1);
	} else {
		return -EINVAL;
	}
	*t = timegm(&tm) - offset;
	return 0;
}

/* The token and key the parsed document held do not outlive it. */
static void wipe_strings(cJSON *item)
{
	for (; item; item = item->next) {
		if (cJSON_IsString(item))
			explicit_bzero(item->valuestring, strlen(item->valuestring));
		wipe_strings(item->child);
	}
}

static int decode_credential(const struct plugin_run *r, struct kube_exec_cred *out, struct socklb_err *e)
{
	cJSON *doc = cJSON_ParseWithLength(r->out ? r->out : "", r->out_len);
	const cJSON *api_version = cJSON_GetObjectItemCaseSensitive(doc, "apiVersion");
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(doc, "kind");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(doc, "status");
	const cJSON *token = cJSON_GetObjectItemCaseSensitive(status, "token");
	const cJSON *cert = cJSON_GetObjectItemCaseSensitive(status, "clientCertificateData");
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(status, "clientKeyData");
	const cJSON *expiry = cJSON_GetObjectItemCaseSensitive(status, "expirationTimestamp");
	const char *name = r->x->argv[0];
	int err = -EPROTO;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(doc)) {
		socklb_err_set(e, err, "%s printed no JSON object on stdout (%zu bytes)", name, r->out_len);
		goto out;
	}
	if (!cJSON_IsString(api_version) || strcmp(api_version->valuestring, r->x->api_version) != 0) {
		socklb_err_set(e, err, "%s returned apiVersion \"%s\", the kubeconfig asks for %s", name,
			       cJSON_IsString(api_version) ? api_version->valuestring : "", r->x->api_version);
		goto out;
	}
	if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "ExecCredential") != 0) {
		socklb_err_set(e, err, "%s returned kind \"%s\", not ExecCredential", name,
			       cJSON_IsString(kind) ? kind->valuestring : "");
		goto out;
	}
	if (!cJSON_IsObject(status)) {
		socklb_err_set(e, err, "%s returned an ExecCredential without status", name);
		goto out;
	}
	if ((token && !cJSON_IsString(token)) || (cert && !cJSON_IsString(cert)) || (key && !cJSON_IsString(key))) {
		socklb_err_set(e, err, "%s returned a status.%s that is not a string", name,
			       token && !cJSON_IsString(token) ? "token"
			       : cert && !cJSON_IsString(cert) ? "clientCertificateData"
							       : "clientKeyData");
		goto out;
	}
	token = token && token->valuestring[0] ? token : NULL;
	cert = cert && cert->valuestring[0] ? cert : NULL;
	key = key && key->valuestring[0] ? key : NULL;
	if (!cert != !key) {
		socklb_err_set(e, err, "%s returned status.%s without status.%s", name,
			       cert ? "clientCertificateData" : "clientKeyData",
			       cert ? "clientKeyData" : "clientCertificateData");
		goto out;
	}
	if (!token && !cert) {
		socklb_err_set(e, err,
			       "%s returned neither status.token nor status.clientCertificateData/clientKeyData", name);
		goto out;
	}
	if (expiry && !cJSON_IsNull(expiry) &&
	    (!cJSON_IsString(expiry) || kube_rfc3339_parse(expiry->valuestring, &out->expires))) {
		socklb_err_set(e, err, "%s returned a status.expirationTimestamp that is not an RFC 3339 time", name);
		goto out;
	}
	err = -ENOMEM;
	if (token && !(out->token = strdup(token->valuestring)))
		goto out;
	if (cert) {
		out->cert.len = strlen(cert->valuestring);
		out->key.len = strlen(key->valuestring);
		out->cert.data = strdup(cert->valuestring);
		out->key.data = strdup(key->valuestring);
		if (!out->cert.data || !out->key.data)
			goto out;
	}
	err = 0;
out:
	wipe_strings(doc);
	cJSON_Delete(doc);
	if (err)
		kube_exec_cred_free(out);
	return err;
}

int kube_exec_run(const struct kube_exec_config *x, const atomic_bool *stop, struct kube_exec_cred *out,
		  struct socklb_err *e)
{
	struct plugin_run r = { .x = x, .out_fd = -1, .err_fd = -1 };
	int status = 0, err;

	memset(out, 0, sizeof(*out));
	socklb_err_clear(e);
	/* the other watchers, waiting for the credential while the daemon stops, start nothing */
	if (stop && atomic_load(stop)) {
		return socklb_fail(e, -ECANCELED, "stopped before %s ran", x->argv[0]);
	}
	err = spawn(&r, e);
	if (err)
		return err;
	err = collect(&r, stop, &status, e);
	if (!err && WIFSIGNALED(status)) {
		err = -EPROTO;
		socklb_err_set(e, err, "%s was killed by signal %d%s%s", x->argv[0], WTERMSIG(status),
			       r.last_line[0] ? ": " : "", r.last_line);
	} else if (!err && WEXITSTATUS(status)) {
		err = -EPROTO;
		socklb_err_set(e, err, "%s exited with status %d%s%s", x->argv[0], WEXITSTATUS(status),
			       r.last_line[0] ? ": " : "", r.last_line);
	}
	if (!err)
		err = decode_credential(&r, out, e);
	if (r.out) {
		explicit_bzero(r.out, r.out_len);
		free(r.out);
	}
	return socklb_err_fallback(e, err, "running %s: %s", x->argv[0], strerror(-err));
}

static void blob_wipe(struct kube_blob *b)
{
	if (b->data)
		explicit_bzero(b->data, b->len);
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

void kube_exec_cred_free(struct kube_exec_cred *c)
{
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	blob_wipe(&c->cert);
	blob_wipe(&c->key);
	memset(c, 0, sizeof(*c));
}
