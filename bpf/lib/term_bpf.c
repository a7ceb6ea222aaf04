// SPDX-License-Identifier: Apache-2.0
/*
 * The BPF parts of socket termination (bpf/term.bpf.c): the finders (records,
 * tasks), the destroying socket iterators and those that name the doomed
 * sockets for sock_diag. Only the programs a method uses are loaded: each
 * needs its own kernel facility.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lbmap.h"
#include "term.skel.h"
#include "term_internal.h"

struct term_bpf {
	struct term *skel;
	unsigned int progs; /* TERM_BPF_* */
	struct bpf_link *find_iter; /* records or tasks */
	struct bpf_link *tcp_iter; /* destroy or ids */
	struct bpf_link *udp_iter;
};

/* ---- iterator output ----------------------------------------------------------------- */

/*
 * Lines "UNSIGNED SIGNED", handed to pair(). -EBADMSG on anything else, or
 * pair()'s error. Returns the number of lines.
 */
static int parse_pairs(const char *buf, size_t len, int (*pair)(unsigned long a, long b, void *ctx), void *ctx)
{
	const char *p = buf, *end = buf + len, *nl;
	char line[64], *after;
	unsigned long a;
	long b;
	int lines = 0, err;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		if (!nl || (size_t)(nl - p) >= sizeof(line))
			return -EBADMSG;
		memcpy(line, p, nl - p);
		line[nl - p] = '\0';
		errno = 0;
		a = strtoul(line, &after, 10);
		if (errno || after == line || line[0] == '-' || *after != ' ')
			return -EBADMSG;
		b = strtol(after + 1, &after, 10);
		if (errno || *after != '\0')
			return -EBADMSG;
		err = pair(a, b, ctx);
		if (err)
			return err;
		lines++;
	}
	return lines;
}

struct results {
	struct socklb_term_result *res;
	size_t n;
};

static int count_destroyed(unsigned long index, long err, void *ctx)
{
	struct results *r = ctx;

	if (index >= r->n)
		return -EBADMSG;
	if (err == 0)
		r->res[index].destroyed++;
	else
		r->res[index].failed++;
	return 0;
}

int socklb_term_parse(const char *buf, size_t len, struct socklb_term_result *res, size_t n)
{
	struct results r = { res, n };

	return parse_pairs(buf, len, count_destroyed, &r);
}

int term_socks_parse(const void *buf, size_t len, struct term_socks *s)
{
	size_t count = len / sizeof(struct socklb_term_sock), cap;
	struct socklb_term_sock *ne;

	if (len % sizeof(struct socklb_term_sock))
		return -EBADMSG;
	if (!count)
		return 0;
	if (s->n + count > s->cap) {
		cap = s->cap ? s->cap : 16;
		while (cap < s->n + count)
			cap *= 2;
		ne = realloc(s->e, cap * sizeof(*s->e));
		if (!ne)
			return -ENOMEM;
		s->e = ne;
		s->cap = cap;
	}
	memcpy(s->e + s->n, buf, len);
	s->n += count;
	return 0;
}

void term_socks_free(struct term_socks *s)
{
	free(s->e);
	memset(s, 0, sizeof(*s));
}

/* Run an iterator in the calling thread's namespace: its whole output, in *out (to free). */
static int iter_read(struct bpf_link *link, char **out, size_t *out_len)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nbuf;
	ssize_t r;
	int fd, err = 0;

	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return -errno;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 8192;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				err = -ENOMEM;
				break;
			}
			buf = nbuf;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : 0;
			break;
		}
		len += (size_t)r;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

/* An iterator printing struct socklb_term_sock records: appended to s. */
static int iter_socks(struct bpf_link *link, struct term_socks *s)
{
	size_t len = 0;
	char *buf = NULL;
	int err = iter_read(link, &buf, &len);

	if (err)
		return err;
	err = term_socks_parse(buf, len, s);
	free(buf);
	return err;
}

/* An iterator printing "INDEX ERR" lines: counted into r. */
static int iter_counts(struct bpf_link *link, struct results *r)
{
	size_t len = 0;
	char *buf = NULL;
	int err = iter_read(link, &buf, &len);

	if (err)
		return err;
	err = parse_pairs(buf, len, count_destroyed, r);
	free(buf);
	return err < 0 ? err : 0;
}

/* ---- loading ------------------------------------------------------------------------- */

void term_bpf_close(struct term_bpf *b)
{
	if (!b)
		return;
	bpf_link__destroy(b->udp_iter);
	bpf_link__destroy(b->tcp_iter);
	bpf_link__destroy(b->find_iter);
	term__destroy(b->skel);
	free(b);
}

static const char *progs_what(unsigned int progs)
{
	switch (progs) {
	case TERM_BPF_RECORDS:
		return "the socket records iterator (iter/bpf_sk_storage_map)";
	case TERM_BPF_TASKS:
		return "the open files iterator (iter/task_file with bpf_sock_from_file)";
	case TERM_BPF_DESTROY:
		return "the TCP and UDP socket iterators with bpf_sock_destroy (iter/tcp, iter/udp)";
	case TERM_BPF_IDS:
		return "the TCP and UDP socket iterators that name doomed sockets (iter/tcp, iter/udp)";
	default:
		return "the socket termination programs";
	}
}

/* After a failed load: name a missing kernel function, which only BTF can tell. */
static void explain_missing_kfunc(unsigned int progs, char *why, size_t len)
{
	struct btf *vmlinux;
	bool found;

	if (!(progs & TERM_BPF_DESTROY))
		return;
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux) {
		snprintf(why + strlen(why), len - strlen(why), " (the kernel has no BTF)");
		return;
	}
	found = btf__find_by_name_kind(vmlinux, "bpf_sock_destroy", BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	if (!found)
		snprintf(why + strlen(why), len - strlen(why), " (the kernel has no bpf_sock_destroy: Linux >= 6.5)");
}

static int reuse_records_map(struct term_bpf *b, const char *root, bool private_records, char *why, size_t len)
{
	char path[PATH_MAX];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", root, SOCKLB_MAP_SOCKETS);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT && private_records)
			return 0; /* libbpf creates a private one */
		return term_fail(why, len, err, "opening the socket records map %s", path);
	}
	err = bpf_map__reuse_fd(b->skel->maps.socklb_sock_v1, fd);
	close(fd);
	if (err)
		return term_fail(why, len, err, "sharing the socket records map %s", path);
	return 0;
}

static int attach(struct bpf_program *prog, struct bpf_link **out, const struct bpf_iter_attach_opts *opts,
		  const char *what, char *why, size_t len)
{
	*out = bpf_program__attach_iter(prog, opts);
	if (!*out)
		return term_fail(why, len, -errno, "attaching %s", what);
	return 0;
}

int term_bpf_open(const char *root, unsigned int progs, bool private_records, struct term_bpf **out, char *why,
		  size_t len)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	union bpf_iter_link_info linfo;
	struct term_bpf *b;
	int err;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->progs = progs;
	b->skel = term__open();
	if (!b->skel) {
		err = term_fail(why, len, -errno, "opening the socket termination object");
		goto fail;
	}
	bpf_program__set_autoload(b->skel->progs.socklb_term_records, progs & TERM_BPF_RECORDS);
	bpf_program__set_autoload(b->skel->progs.socklb_term_tasks, progs & TERM_BPF_TASKS);
	bpf_program__set_autoload(b->skel->progs.socklb_term_tcp, progs & TERM_BPF_DESTROY);
	bpf_program__set_autoload(b->skel->progs.socklb_term_udp, progs & TERM_BPF_DESTROY);
	bpf_program__set_autoload(b->skel->progs.socklb_ids_tcp, progs & TERM_BPF_IDS);
	bpf_program__set_autoload(b->skel->progs.socklb_ids_udp, progs & TERM_BPF_IDS);
	err = reuse_records_map(b, root, private_records, why, len);
	if (err)
		goto fail;
	err = term__load(b->skel);
	if (err) {
		term_fail(why, len, err, "loading %s", progs_what(progs));
		explain_missing_kfunc(progs, why, len);
		goto fail;
	}
	if (progs & TERM_BPF_RECORDS) {
		memset(&linfo, 0, sizeof(linfo));
		linfo.map.map_fd = bpf_map__fd(b->skel->maps.socklb_sock_v1);
		opts.link_info = &linfo;
		opts.link_info_len = sizeof(linfo);
		err = attach(b->skel->progs.socklb_term_records, &b->find_iter, &opts, progs_what(TERM_BPF_RECORDS),
			     why, len);
	} else if (progs & TERM_BPF_TASKS) {
		err = attach(b->skel->progs.socklb_term_tasks, &b->find_iter, NULL, progs_what(TERM_BPF_TASKS), why,
			     len);
	}
	if (!err && (progs & (TERM_BPF_DESTROY | TERM_BPF_IDS)))
		err = attach(progs & TERM_BPF_DESTROY ? b->skel->progs.socklb_term_tcp : b->skel->progs.socklb_ids_tcp,
			     &b->tcp_iter, NULL, "the TCP socket iterator", why, len);
	if (!err && (progs & (TERM_BPF_DESTROY | TERM_BPF_IDS)))
		err = attach(progs & TERM_BPF_DESTROY ? b->skel->progs.socklb_term_udp : b->skel->progs.socklb_ids_udp,
			     &b->udp_iter, NULL, "the UDP socket iterator", why, len);
	if (err)
		goto fail;
	*out = b;
	return 0;
fail:
	term_bpf_close(b);
	return err;
}

/* ---- maps ------------------------------------------------------------------------------ */

static struct socklb_sockaddr entry_peer(const struct term_doomed_entry *e)
{
	struct socklb_sockaddr peer = { .port = e->key.backend_port };

	memcpy(peer.addr, e->key.backend, sizeof(peer.addr));
	return peer;
}

int term_bpf_fill(struct term_bpf *b, const struct term_doomed *d, char *why, size_t len)
{
	int doomed_fd = bpf_map__fd(b->skel->maps.term_doomed), peers_fd = bpf_map__fd(b->skel->maps.term_peers);
	struct socklb_term_verdict v;
	struct socklb_sockaddr peer;
	__u32 protocols;
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (b->progs & (TERM_BPF_RECORDS | TERM_BPF_DESTROY | TERM_BPF_IDS)) {
			v.index = d->e[i].index;
			v.protocols = d->e[i].protocols;
			if (bpf_map_update_elem(doomed_fd, &d->e[i].key, &v, BPF_ANY))
				return term_fail(why, len, -errno, "filling the doomed map");
		}
		if (b->progs & TERM_BPF_TASKS) {
			/* two services may have lost the same backend */
			peer = entry_peer(&d->e[i]);
			if (bpf_map_lookup_elem(peers_fd, &peer, &protocols))
				protocols = 0;
			protocols |= d->e[i].protocols;
			if (bpf_map_update_elem(peers_fd, &peer, &protocols, BPF_ANY))
				return term_fail(why, len, -errno, "filling the doomed peers map");
		}
	}
	return 0;
}

void term_bpf_clear(struct term_bpf *b, const struct term_doomed *d)
{
	int doomed_fd = bpf_map__fd(b->skel->maps.term_doomed), peers_fd = bpf_map__fd(b->skel->maps.term_peers);
	struct socklb_sockaddr peer;
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (b->progs & (TERM_BPF_RECORDS | TERM_BPF_DESTROY | TERM_BPF_IDS))
			bpf_map_delete_elem(doomed_fd, &d->e[i].key);
		if (b->progs & TERM_BPF_TASKS) {
			peer = entry_peer(&d->e[i]);
			bpf_map_delete_elem(peers_fd, &peer);
		}
	}
}

/* ---- running ----------------------------------------------------------------------------- */

int term_bpf_find(const struct term_bpf *b, struct term_netns_list *l, struct term_socks *found, char *why, size_t len)
{
	size_t i;
	int err = iter_socks(b->find_iter, found);

	for (i = 0; !err && i < found->n; i++) {
		if (found->e[i].protocol != SOCKLB_TERM_UDP && found->e[i].protocol != SOCKLB_TERM_TCP)
			err = -EBADMSG;
		else
			err = term_netns_want(l, (ino_t)found->e[i].netns, found->e[i].protocol);
	}
	if (err)
		return term_fail(why, len, err, "running %s",
				 progs_what(b->progs & (TERM_BPF_RECORDS | TERM_BPF_TASKS)));
	return 0;
}

int term_bpf_destroy(const struct term_bpf *b, __u32 protocols, struct socklb_term_result *res, size_t n, char *why,
		     size_t len)
{
	struct results r = { res, n };
	int err;

	if (protocols & SOCKLB_TERM_UDP) {
		err = iter_counts(b->udp_iter, &r);
		if (err)
			return term_fail(why, len, err, "running the UDP socket iterator");
	}
	if (protocols & SOCKLB_TERM_TCP) {
		err = iter_counts(b->tcp_iter, &r);
		if (err)
			return term_fail(why, len, err, "running the TCP socket iterator");
	}
	return 0;
}

int term_bpf_ids(const struct term_bpf *b, __u32 protocols, struct term_socks *out, char *why, size_t len)
{
	int err;

	if (protocols & SOCKLB_TERM_UDP) {
		err = iter_socks(b->udp_iter, out);
		if (err)
			return term_fail(why, len, err, "running the UDP socket iterator");
	}
	if (protocols & SOCKLB_TERM_TCP) {
		err = iter_socks(b->tcp_iter, out);
		if (err)
			return term_fail(why, len, err, "running the TCP socket iterator");
	}
	return 0;
}
