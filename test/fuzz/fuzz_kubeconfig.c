// SPDX-License-Identifier: Apache-2.0
/*
 * The kubeconfig (YAML as kubectl writes it, through libyaml, or JSON) and
 * the base64 decoder of its "-data" fields. A kubeconfig either fails
 * (logged, nothing kept) or yields an https:// server without a trailing '/'
 * and consistent credentials (an exec plugin has a command and its
 * KUBERNETES_EXEC_INFO); base64 that decodes must encode back to the same
 * bits, and the encoder's output must decode to the input.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "kube_config.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The input without white space and padding must be the canonical encoding of what it decoded to. */
static void check_base64_roundtrip(const char *in, const struct kube_blob *out)
{
	size_t n = 0, i;
	char *want = malloc(strlen(in) + 1), *got = malloc(out->len / 3 * 4 + 8);
	const unsigned char *b = (const unsigned char *)out->data;

	if (!want || !got)
		abort();
	for (const char *p = in; *p; p++)
		if (!strchr(" \n\r\t=", *p))
			want[n++] = *p;
	want[n] = '\0';
	for (i = 0, n = 0; i < out->len; i += 3) {
		unsigned int v = (unsigned int)b[i] << 16 | (i + 1 < out->len ? (unsigned int)b[i + 1] << 8 : 0) |
				 (i + 2 < out->len ? b[i + 2] : 0);

		got[n++] = alphabet[v >> 18 & 63];
		got[n++] = alphabet[v >> 12 & 63];
		if (i + 1 < out->len)
			got[n++] = alphabet[v >> 6 & 63];
		if (i + 2 < out->len)
			got[n++] = alphabet[v & 63];
	}
	got[n] = '\0';
	if (strcmp(want, got) != 0)
		abort();
	free(want);
	free(got);
}

static void check_conn(const struct kube_conn *c)
{
	size_t n;

	if (!c->server || strncasecmp(c->server, "https://", 8) != 0 || !c->origin)
		abort();
	n = strlen(c->server);
	if (n <= 8 || c->server[n - 1] == '/')
		abort();
	/* a client certificate comes with its key */
	if ((c->cert_file || c->cert.data) != (c->key_file || c->key.data))
		abort();
	if (c->exec &&
	    (!c->exec->argv || !c->exec->argv[0] || !c->exec->argv[0][0] || !c->exec->exec_info || !c->exec->env))
		abort();
	if (c->exec && (c->token || c->token_file || c->cert_file || c->cert.data))
		abort(); /* given credentials win: the plugin is not kept */
	if (!c->token && !c->token_file && !c->cert_file && !c->cert.data && !c->exec)
		abort();
	if (c->insecure && (c->ca_file || c->ca.data))
		abort();
}

static void check_base64_encode(const struct kube_blob *b)
{
	char *text = kube_base64_encode(b->data, b->len);
	struct kube_blob back = { 0 };

	if (!text || kube_base64_decode(text, &back) != 0 || back.len != b->len ||
	    memcmp(back.data, b->data, b->len) != 0)
		abort();
	free(back.data);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	struct kube_blob blob = { 0 };
	struct socklb_err e;
	struct kube_conn c;
	int ret;

	fuzz_logs_quiet();
	ret = kube_conn_parse_kubeconfig(text, strlen(text), "/nonexistent/kubeconfig", NULL, &c, &e);
	/* A refusal says why, in the error context, with the code it returns. */
	if (ret && (e.code != ret || !e.msg[0]))
		abort();
	if (ret == 0) {
		check_conn(&c);
		if (kube_conn_set_server(&c, "https://127.0.0.1:6443///", "fuzz", &e) != 0 ||
		    strcmp(c.server, "https://127.0.0.1:6443") != 0)
			abort();
	}
	kube_conn_free(&c);

	if (kube_base64_decode(text, &blob) == 0) {
		check_base64_roundtrip(text, &blob);
		check_base64_encode(&blob);
		free(blob.data);
	}
	free(text);
	return 0;
}
