// SPDX-License-Identifier: Apache-2.0
/*
 * Socket termination: see terminate.h. A run has two steps (see term.bpf.c):
 * an iterator over the socket records of every namespace names the network
 * namespaces that hold doomed sockets; then, since BPF socket iterators walk
 * only the namespace of the thread that creates them, a short-lived thread
 * enters each of those namespaces and runs the destroying iterators there. The
 * namespaces are found from our pinned links (link → cgroup id → processes in
 * that cgroup → their network namespace). The caller's thread never changes
 * namespace, and a run where no socket is doomed walks no namespace at all.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "datapath.h"
#include "lbmap.h"
#include "log.h"
#include "term.skel.h"
#include "terminate.h"

/* Kubernetes puts processes at most a few levels below the pod cgroup. */
#define CGROUP_SEARCH_DEPTH 4

struct socklb_term {
	struct term *skel;
	struct bpf_link *find_iter;
	struct bpf_link *tcp_iter;
	struct bpf_link *udp_iter;
	int cgroup_mount_fd;
	char links_dir[PATH_MAX];
};

/* ---- parts (exposed for the unit tests) ------------------------------------ */

int socklb_term_key_build(const struct socklb_term_target *target, struct socklb_term_key *key)
{
	if (!target->protocols || (target->protocols & ~(SOCKLB_TERM_UDP | SOCKLB_TERM_TCP)))
		return -EINVAL;
	memset(key, 0, sizeof(*key));
	memcpy(key->backend, target->backend, sizeof(key->backend));
	key->svc_id = target->svc_id;
	key->backend_port = htons(target->backend_port);
	return 0;
}

/*
 * Iterator output: lines "UNSIGNED SIGNED", handed to pair(). -EBADMSG on
 * anything else, or pair()'s error. Returns the number of lines.
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

/* Mount points escape space, tab, newline and backslash as \ooo. */
static void mountinfo_unescape(const char *s, size_t n, char *buf, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < len; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3') {
			buf[o++] = (char)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
			i += 3;
		} else {
			buf[o++] = s[i];
		}
	}
	buf[o] = '\0';
}

int socklb_term_cgroup2_mount(const char *mountinfo_path, char *buf, size_t len)
{
	char *line = NULL, *sep, *mnt, *mnt_end;
	size_t cap = 0;
	int i, err = -ENOENT;
	FILE *f;

	f = fopen(mountinfo_path, "re");
	if (!f)
		return -errno;
	while (err && getline(&line, &cap, f) > 0) {
		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPER" */
		sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		mnt = line;
		for (i = 0; i < 4 && mnt; i++) {
			mnt = strchr(mnt, ' ');
			if (mnt)
				mnt++;
		}
		mnt_end = mnt ? strchr(mnt, ' ') : NULL;
		if (!mnt_end)
			continue;
		mountinfo_unescape(mnt, (size_t)(mnt_end - mnt), buf, len);
		err = 0;
	}
	free(line);
	fclose(f);
	return err;
}

void socklb_term_summary(const struct socklb_term_target *targets, const struct socklb_term_result *res, size_t n,
			 char *buf, size_t len)
{
	char ep[SOCKLB_ENDPOINT_STRLEN];
	size_t i, j, off = 0;
	__u32 total;
	bool listed;

	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++) {
		if (!res[i].destroyed && !res[i].failed)
			continue;
		/* each service once, at its first target with sockets */
		listed = false;
		for (j = 0; j < i && !listed; j++)
			listed = targets[j].svc_id == targets[i].svc_id && (res[j].destroyed || res[j].failed);
		if (listed)
			continue;
		total = 0;
		for (j = i; j < n; j++)
			if (targets[j].svc_id == targets[i].svc_id)
				total += res[j].destroyed;
		off += snprintf(buf + off, len - off, "%sservice %u: %u (", off ? ", " : "", targets[i].svc_id, total);
		for (j = i; j < n && off < len; j++) {
			if (targets[j].svc_id != targets[i].svc_id || (!res[j].destroyed && !res[j].failed))
				continue;
			socklb_endpoint_format(targets[j].backend, targets[j].backend_port, ep, sizeof(ep));
			off += snprintf(buf + off, len - off, "%s%s %u", buf[off - 1] == '(' ? "" : ", ", ep,
					res[j].destroyed);
			if (res[j].failed && off < len)
				off += snprintf(buf + off, len - off, " + %u failed", res[j].failed);
		}
		if (off < len)
			off += snprintf(buf + off, len - off, ")");
	}
	if (!buf[0])
		snprintf(buf, len, "none");
}

/* ---- opening ---------------------------------------------------------------- */

static bool kernel_has_sock_destroy(void)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool found;

	if (!vmlinux)
		return false;
	found = btf__find_by_name_kind(vmlinux, "bpf_sock_destroy", BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	return found;
}

void socklb_term_close(struct socklb_term *t)
{
	if (!t)
		return;
	bpf_link__destroy(t->udp_iter);
	bpf_link__destroy(t->tcp_iter);
	bpf_link__destroy(t->find_iter);
	term__destroy(t->skel);
	if (t->cgroup_mount_fd >= 0)
		close(t->cgroup_mount_fd);
	free(t);
}

/* Load the iterators with the datapath's socket records map pinned under root. */
static int term_load(struct socklb_term *t, const char *root)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	union bpf_iter_link_info linfo;
	char path[PATH_MAX];
	int fd, err;

	t->skel = term__open();
	if (!t->skel) {
		err = -errno;
		pr_err("cannot open the socket termination object: %s", strerror(-err));
		return err;
	}
	snprintf(path, sizeof(path), "%s/%s", root, SOCKLB_MAP_SOCKETS);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
		pr_err("cannot open the socket records map %s: %s", path, strerror(-err));
		return err;
	}
	err = bpf_map__reuse_fd(t->skel->maps.socklb_sock_v1, fd);
	close(fd);
	if (err) {
		pr_err("cannot reuse the socket records map %s: %s", path, strerror(-err));
		return err;
	}
	err = term__load(t->skel);
	if (err) {
		pr_err("cannot load the socket termination programs: %s", strerror(-err));
		return err;
	}
	memset(&linfo, 0, sizeof(linfo));
	linfo.map.map_fd = bpf_map__fd(t->skel->maps.socklb_sock_v1);
	opts.link_info = &linfo;
	opts.link_info_len = sizeof(linfo);
	t->find_iter = bpf_program__attach_iter(t->skel->progs.socklb_term_find, &opts);
	if (!t->find_iter) {
		err = -errno;
		pr_err("cannot attach the socket records iterator: %s", strerror(-err));
		return err;
	}
	t->tcp_iter = bpf_program__attach_iter(t->skel->progs.socklb_term_tcp, NULL);
	if (!t->tcp_iter) {
		err = -errno;
		pr_err("cannot attach the TCP socket iterator: %s", strerror(-err));
		return err;
	}
	t->udp_iter = bpf_program__attach_iter(t->skel->progs.socklb_term_udp, NULL);
	if (!t->udp_iter) {
		err = -errno;
		pr_err("cannot attach the UDP socket iterator: %s", strerror(-err));
		return err;
	}
	return 0;
}

int socklb_term_open(const char *root, struct socklb_term **out)
{
	static bool unavailable_logged;
	char mnt[PATH_MAX];
	struct socklb_term *t;
	int err;

	*out = NULL;
	if (!kernel_has_sock_destroy()) {
		if (!unavailable_logged)
			pr_warn("socket termination unavailable: kernel lacks bpf_sock_destroy (needs 6.5 with BTF)");
		unavailable_logged = true;
		return -EOPNOTSUPP;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cgroup_mount_fd = -1;
	snprintf(t->links_dir, sizeof(t->links_dir), "%s/links", root);

	err = socklb_term_cgroup2_mount("/proc/self/mountinfo", mnt, sizeof(mnt));
	if (err) {
		pr_err("socket termination: cannot find the cgroup v2 mount in /proc/self/mountinfo: %s",
		       strerror(-err));
		goto fail;
	}
	t->cgroup_mount_fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->cgroup_mount_fd < 0) {
		err = -errno;
		pr_err("socket termination: cannot open the cgroup v2 mount %s: %s", mnt, strerror(-err));
		goto fail;
	}
	err = term_load(t, root);
	if (err)
		goto fail;
	*out = t;
	return 0;
fail:
	socklb_term_close(t);
	return err;
}

/* ---- which network namespaces ------------------------------------------------ */

/* A namespace that holds doomed sockets (per the records), and a way into it once found. */
struct netns {
	ino_t ino;
	__u32 protocols; /* SOCKLB_TERM_* of its doomed sockets */
	int fd; /* -1 until a process in it is found */
};

struct netns_list {
	struct netns *e;
	size_t n, cap;
	size_t opened;
};

static void netns_list_free(struct netns_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->e[i].fd >= 0)
			close(l->e[i].fd);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

static struct netns *netns_find(const struct netns_list *l, ino_t ino)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->e[i].ino == ino)
			return &l->e[i];
	return NULL;
}

static int netns_want(unsigned long ino, long protocols, void *ctx)
{
	struct netns_list *l = ctx;
	struct netns *e = netns_find(l, (ino_t)ino), *ne;

	if (protocols <= 0 || (protocols & ~(long)(SOCKLB_TERM_UDP | SOCKLB_TERM_TCP)))
		return -EBADMSG;
	if (e) {
		e->protocols |= (__u32)protocols;
		return 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		ne = realloc(l->e, l->cap * sizeof(*l->e));
		if (!ne)
			return -ENOMEM;
		l->e = ne;
	}
	l->e[l->n++] = (struct netns){ .ino = (ino_t)ino, .protocols = (__u32)protocols, .fd = -1 };
	return 0;
}

/* Open the namespace at path (a /proc/.../ns/net link) if it is wanted and not open yet. */
static int netns_open_if_wanted(struct netns_list *l, const char *path)
{
	struct netns *e;
	struct stat st;

	if (stat(path, &st))
		return -errno;
	e = netns_find(l, st.st_ino);
	if (!e || e->fd >= 0)
		return 0;
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0)
		return -errno;
	l->opened++;
	return 0;
}

static bool netns_all_open(const struct netns_list *l)
{
	return l->opened == l->n;
}

/*
 * The namespaces of the processes in the cgroup and below it. Every process,
 * not just the first: one may still be on its way into the pod's namespace.
 */
static int cgroup_netns_open(int cg_fd, int depth, struct netns_list *l)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	FILE *procs;
	int fd, pid, err = 0;

	fd = openat(cg_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	procs = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!procs) {
		if (fd >= 0)
			close(fd);
		return 0; /* removed meanwhile */
	}
	while (!err && !netns_all_open(l) && fscanf(procs, "%d", &pid) == 1) {
		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		err = netns_open_if_wanted(l, path);
		if (err == -ENOENT || err == -ESRCH)
			err = 0; /* exited meanwhile */
	}
	fclose(procs);
	if (err || depth == 0 || netns_all_open(l))
		return err;

	fd = dup(cg_fd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (!err && !netns_all_open(l) && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		fd = openat(cg_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		err = cgroup_netns_open(fd, depth - 1, l);
		close(fd);
	}
	closedir(d);
	return err;
}

/* Open the wanted namespaces from the pods our links are attached to: <root>/links/<attachment>/<connect4>. */
static int pods_netns_open(const struct socklb_term *t, struct netns_list *l)
{
	char path[PATH_MAX];
	struct dirent *e;
	__u64 id;
	DIR *d;
	int cg, err = 0;

	d = opendir(t->links_dir);
	if (!d) {
		if (errno == ENOENT)
			return 0; /* no pod attached */
		err = -errno;
		pr_err("socket termination: cannot list %s: %s", t->links_dir, strerror(-err));
		return err;
	}
	while (!err && !netns_all_open(l) && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", t->links_dir, e->d_name);
		id = socklb_attachment_cgroup_id(path);
		if (!id)
			continue; /* being attached or detached, or its cgroup is gone */
		cg = socklb_cgroup_open_by_id(t->cgroup_mount_fd, id);
		if (cg < 0) {
			pr_debug("socket termination: cgroup %llu of %s: %s", (unsigned long long)id, e->d_name,
				 strerror(-cg));
			continue;
		}
		err = cgroup_netns_open(cg, CGROUP_SEARCH_DEPTH, l);
		close(cg);
		if (err)
			pr_err("socket termination: cannot list the processes of cgroup %llu (%s): %s",
			       (unsigned long long)id, e->d_name, strerror(-err));
	}
	closedir(d);
	return err;
}

/* ---- running the iterators ----------------------------------------------------- */

/* Run an iterator in the calling thread's namespace; parse its lines with pair(). */
static int iter_run(struct bpf_link *link, int (*pair)(unsigned long a, long b, void *ctx), void *ctx)
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
	if (!err && len) {
		err = parse_pairs(buf, len, pair, ctx);
		err = err < 0 ? err : 0;
	}
	free(buf);
	return err;
}

struct term_pass {
	const struct socklb_term *t;
	const struct netns_list *ns;
	struct results results;
	int err;
};

static void *term_pass_thread(void *arg)
{
	struct term_pass *p = arg;
	const struct netns *e;
	size_t i;
	int err;

	for (i = 0; i < p->ns->n; i++) {
		e = &p->ns->e[i];
		if (e->fd < 0)
			continue;
		if (setns(e->fd, CLONE_NEWNET)) {
			err = -errno;
			pr_warn("socket termination: cannot enter network namespace %lu: %s", (unsigned long)e->ino,
				strerror(-err));
			p->err = p->err ? p->err : err;
			continue;
		}
		err = e->protocols & SOCKLB_TERM_UDP ? iter_run(p->t->udp_iter, count_destroyed, &p->results) : 0;
		if (!err && (e->protocols & SOCKLB_TERM_TCP))
			err = iter_run(p->t->tcp_iter, count_destroyed, &p->results);
		if (err) {
			pr_warn("socket termination: iterating network namespace %lu: %s", (unsigned long)e->ino,
				strerror(-err));
			p->err = p->err ? p->err : err;
		}
	}
	return NULL;
}

/* Destroy in every opened namespace, from a thread of its own: setns changes only the calling thread. */
static int term_pass_run(const struct socklb_term *t, const struct netns_list *ns, struct socklb_term_result *res,
			 size_t n)
{
	struct term_pass p = { .t = t, .ns = ns, .results = { res, n } };
	pthread_t th;
	int err;

	err = pthread_create(&th, NULL, term_pass_thread, &p);
	if (err) {
		pr_err("socket termination: cannot start a thread: %s", strerror(err));
		return -err;
	}
	pthread_join(th, NULL);
	return p.err;
}

/* Put targets [from, to) in the doomed map. */
static int doomed_fill(int map_fd, const struct socklb_term_target *targets, size_t from, size_t to)
{
	struct socklb_term_verdict v;
	struct socklb_term_key key;
	size_t i;

	for (i = from; i < to; i++) {
		socklb_term_key_build(&targets[i], &key);
		if (bpf_map_lookup_elem(map_fd, &key, &v) == 0) {
			v.protocols |= targets[i].protocols; /* a repeated target: the first one counts */
		} else {
			v.index = (__u32)i;
			v.protocols = targets[i].protocols;
		}
		if (bpf_map_update_elem(map_fd, &key, &v, BPF_ANY))
			return -errno;
	}
	return 0;
}

static void doomed_clear(int map_fd, const struct socklb_term_target *targets, size_t from, size_t to)
{
	struct socklb_term_key key;
	size_t i;

	for (i = from; i < to; i++) {
		socklb_term_key_build(&targets[i], &key);
		bpf_map_delete_elem(map_fd, &key);
	}
}

/* One batch of targets, already in the doomed map: find the namespaces, enter them, destroy. */
static int term_batch(const struct socklb_term *t, struct socklb_term_result *res, size_t n, size_t *walked)
{
	struct netns_list ns = {};
	size_t i;
	int err;

	err = iter_run(t->find_iter, netns_want, &ns);
	if (err) {
		pr_err("socket termination: cannot iterate the socket records: %s", strerror(-err));
		goto out;
	}
	if (!ns.n)
		goto out; /* nothing doomed anywhere: no namespace to walk */
	err = pods_netns_open(t, &ns);
	if (err)
		goto out;
	for (i = 0; i < ns.n; i++)
		if (ns.e[i].fd < 0)
			pr_debug("socket termination: doomed sockets in network namespace %lu, which holds no "
				 "attached pod's process: left alone",
				 (unsigned long)ns.e[i].ino);
	*walked += ns.opened;
	err = term_pass_run(t, &ns, res, n);
out:
	netns_list_free(&ns);
	return err;
}

static double elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static void term_log(const struct socklb_term_target *targets, const struct socklb_term_result *res, size_t n,
		     size_t walked, double ms)
{
	__u32 destroyed = 0, failed = 0;
	char summary[1024];
	size_t i;

	for (i = 0; i < n; i++) {
		destroyed += res[i].destroyed;
		failed += res[i].failed;
	}
	if (!destroyed && !failed && !socklb_log_enabled(SOCKLB_LOG_DEBUG))
		return;
	socklb_term_summary(targets, res, n, summary, sizeof(summary));
	socklb_log(destroyed || failed ? SOCKLB_LOG_INFO : SOCKLB_LOG_DEBUG,
		   "socket termination: %u sockets destroyed (%u failed) for %zu removed backends, %zu network "
		   "namespaces walked, %.1f ms: %s",
		   destroyed, failed, n, walked, ms, summary);
}

int socklb_term_run(struct socklb_term *t, const struct socklb_term_target *targets, size_t n,
		    struct socklb_term_result *res)
{
	struct socklb_term_result *counts = res;
	struct socklb_term_key key;
	struct timespec start;
	char ep[SOCKLB_ENDPOINT_STRLEN];
	int map_fd = bpf_map__fd(t->skel->maps.term_doomed);
	size_t i, from, to, walked = 0;
	int err = 0, batch_err, first_batch_err = 0;

	for (i = 0; i < n; i++) {
		if (socklb_term_key_build(&targets[i], &key)) {
			socklb_endpoint_format(targets[i].backend, targets[i].backend_port, ep, sizeof(ep));
			pr_err("socket termination: target %zu (service %u, backend %s): bad protocols 0x%x", i,
			       targets[i].svc_id, ep, targets[i].protocols);
			return -EINVAL;
		}
	}
	if (!n)
		return 0;
	if (!counts) {
		counts = calloc(n, sizeof(*counts));
		if (!counts)
			return -ENOMEM;
	} else {
		memset(counts, 0, n * sizeof(*counts));
	}
	clock_gettime(CLOCK_MONOTONIC, &start);

	for (from = 0; !err && from < n; from = to) {
		to = n - from > SOCKLB_TERM_MAX_TARGETS ? from + SOCKLB_TERM_MAX_TARGETS : n;
		err = doomed_fill(map_fd, targets, from, to);
		if (err) {
			pr_err("socket termination: cannot fill the doomed map: %s", strerror(-err));
		} else {
			/* A namespace that fails does not spare the others: go on, keep the error. */
			batch_err = term_batch(t, counts, n, &walked);
			first_batch_err = first_batch_err ? first_batch_err : batch_err;
		}
		doomed_clear(map_fd, targets, from, to);
	}
	term_log(targets, counts, n, walked, elapsed_ms(&start));
	if (counts != res)
		free(counts);
	return err ? err : first_batch_err;
}
