// SPDX-License-Identifier: Apache-2.0
/*
 * The network namespaces of socket termination: see term_internal.h. A pod's
 * namespace is found from our pinned links (link → cgroup id → the processes
 * in that cgroup and below → their /proc/PID/ns/net), and entered by a
 * short-lived helper thread (setns changes only the calling thread), so the
 * caller's thread never changes namespace.
 */
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "datapath.h"
#include "log.h"
#include "term_internal.h"

/* Kubernetes puts processes at most a few levels below the pod cgroup. */
#define CGROUP_SEARCH_DEPTH 4

/* ---- the cgroup v2 mount ----------------------------------------------------------- */

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

int term_pods_init(struct term_pods *p, const char *root, char *why, size_t len)
{
	int err;

	p->cgroup_mount_fd = -1;
	snprintf(p->links_dir, sizeof(p->links_dir), "%s/links", root);
	err = socklb_term_cgroup2_mount("/proc/self/mountinfo", p->cgroup_mount, sizeof(p->cgroup_mount));
	if (err)
		return term_fail(why, len, err, "finding the cgroup v2 mount in /proc/self/mountinfo");
	p->cgroup_mount_fd = open(p->cgroup_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->cgroup_mount_fd < 0)
		return term_fail(why, len, -errno, "opening the cgroup v2 mount %s", p->cgroup_mount);
	return 0;
}

void term_pods_release(struct term_pods *p)
{
	if (p->cgroup_mount_fd >= 0)
		close(p->cgroup_mount_fd);
	p->cgroup_mount_fd = -1;
}

/* ---- the list ------------------------------------------------------------------------ */

static struct term_netns *netns_find(const struct term_netns_list *l, ino_t ino)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->e[i].ino == ino)
			return &l->e[i];
	return NULL;
}

static struct term_netns *netns_add(struct term_netns_list *l, ino_t ino, __u32 protocols)
{
	struct term_netns *ne;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		ne = realloc(l->e, l->cap * sizeof(*l->e));
		if (!ne)
			return NULL;
		l->e = ne;
	}
	l->e[l->n] = (struct term_netns){ .ino = ino, .protocols = protocols, .fd = -1 };
	return &l->e[l->n++];
}

int term_netns_want(struct term_netns_list *l, ino_t ino, __u32 protocols)
{
	struct term_netns *e = netns_find(l, ino);

	if (e) {
		e->protocols |= protocols;
		return 0;
	}
	return netns_add(l, ino, protocols) ? 0 : -ENOMEM;
}

void term_netns_list_free(struct term_netns_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->e[i].fd >= 0)
			close(l->e[i].fd);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

/* ---- the pods ------------------------------------------------------------------------- */

struct pods_scan {
	struct term_netns_list *l;
	__u32 every; /* list every namespace found, for these protocols; 0: open only the listed ones */
};

static bool scan_done(const struct pods_scan *s)
{
	return !s->every && s->l->opened == s->l->n;
}

/* The namespace at path (a /proc/.../ns/net link): open it if it is listed (or every) and not open yet. */
static int netns_open(struct pods_scan *s, const char *path)
{
	struct term_netns *e;
	struct stat st;

	if (stat(path, &st))
		return -errno;
	e = netns_find(s->l, st.st_ino);
	if (!e && s->every) {
		e = netns_add(s->l, st.st_ino, s->every);
		if (!e)
			return -ENOMEM;
	}
	if (!e || e->fd >= 0)
		return 0;
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0)
		return -errno;
	s->l->opened++;
	return 0;
}

/*
 * The namespaces of the processes in the cgroup and below it. Every process,
 * not just the first: one may still be on its way into the pod's namespace.
 */
static int cgroup_netns_open(int cg_fd, int depth, struct pods_scan *s)
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
	while (!err && !scan_done(s) && fscanf(procs, "%d", &pid) == 1) {
		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		err = netns_open(s, path);
		if (err == -ENOENT || err == -ESRCH)
			err = 0; /* exited meanwhile */
	}
	fclose(procs);
	if (err || depth == 0 || scan_done(s))
		return err;

	fd = dup(cg_fd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (!err && !scan_done(s) && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		fd = openat(cg_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		err = cgroup_netns_open(fd, depth - 1, s);
		close(fd);
	}
	closedir(d);
	return err;
}

int term_pods_open(const struct term_pods *p, struct term_netns_list *l, __u32 every, char *why, size_t len)
{
	struct pods_scan s = { .l = l, .every = every };
	char path[PATH_MAX];
	struct dirent *e;
	__u64 id;
	DIR *d;
	int cg, err = 0;

	d = opendir(p->links_dir);
	if (!d) {
		if (errno == ENOENT)
			return 0; /* no pod attached */
		return term_fail(why, len, -errno, "listing the attached pods in %s", p->links_dir);
	}
	while (!err && !scan_done(&s) && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->links_dir, e->d_name);
		id = socklb_attachment_cgroup_id(path);
		if (!id)
			continue; /* being attached or detached, or its cgroup is gone */
		cg = socklb_cgroup_open_by_id(p->cgroup_mount_fd, id);
		if (cg < 0) {
			pr_debug("socket termination: cgroup %llu of %s: %s", (unsigned long long)id, e->d_name,
				 strerror(-cg));
			continue;
		}
		err = cgroup_netns_open(cg, CGROUP_SEARCH_DEPTH, &s);
		close(cg);
		if (err)
			term_fail(why, len, err, "finding the network namespace of the processes of cgroup %llu (%s)",
				  (unsigned long long)id, e->d_name);
	}
	closedir(d);
	return err;
}

/* ---- entering ----------------------------------------------------------------------- */

struct netns_pass {
	const struct term_netns_list *l;
	term_netns_fn fn;
	void *ctx;
	char *why;
	size_t len;
	int err;
};

static void pass_fail(struct netns_pass *p, int err, const char *why)
{
	if (p->err)
		return;
	p->err = err;
	snprintf(p->why, p->len, "%s", why);
}

static void *netns_pass_thread(void *arg)
{
	struct netns_pass *p = arg;
	char why[SOCKLB_TERM_WHY_LEN], what[SOCKLB_TERM_WHY_LEN];
	const struct term_netns *e;
	size_t i;
	int err;

	for (i = 0; i < p->l->n; i++) {
		e = &p->l->e[i];
		if (e->fd < 0)
			continue;
		if (setns(e->fd, CLONE_NEWNET)) {
			err = term_fail(why, sizeof(why), -errno, "entering network namespace %lu",
					(unsigned long)e->ino);
			pass_fail(p, err, why);
			continue;
		}
		err = p->fn(e, p->ctx, what, sizeof(what));
		if (err) {
			snprintf(why, sizeof(why), "network namespace %lu: %s", (unsigned long)e->ino, what);
			pass_fail(p, err, why);
		}
	}
	return NULL;
}

int term_netns_each(const struct term_netns_list *l, term_netns_fn fn, void *ctx, char *why, size_t len)
{
	struct netns_pass p = { .l = l, .fn = fn, .ctx = ctx, .why = why, .len = len };
	pthread_t th;
	int err;

	if (!l->opened)
		return 0;
	err = pthread_create(&th, NULL, netns_pass_thread, &p);
	if (err)
		return term_fail(why, len, -err, "starting a thread to enter network namespaces");
	pthread_join(th, NULL);
	return p.err;
}

/* ---- probe ----------------------------------------------------------------------------- */

struct setns_probe {
	int fd;
	int err;
};

static void *setns_probe_thread(void *arg)
{
	struct setns_probe *sp = arg;

	sp->err = setns(sp->fd, CLONE_NEWNET) ? -errno : 0;
	return NULL;
}

int term_netns_probe(const struct term_pods *p, char *why, size_t len)
{
	union {
		struct file_handle fh;
		char raw[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	struct setns_probe sp = { .fd = -1 };
	pthread_t th;
	int mount_id, fd, err;

	/* The handle of the mount's root names a cgroup as a link's cgroup id does. */
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(p->cgroup_mount_fd, "", &h.fh, &mount_id, AT_EMPTY_PATH))
		return term_fail(why, len, -errno, "name_to_handle_at on the cgroup v2 mount %s", p->cgroup_mount);
	fd = open_by_handle_at(p->cgroup_mount_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = term_fail(why, len, -errno, "open_by_handle_at on the cgroup v2 mount %s", p->cgroup_mount);
		if (err == -EPERM)
			snprintf(why + strlen(why), len - strlen(why), " (needs CAP_DAC_READ_SEARCH)");
		return err;
	}
	close(fd);

	/* Entering our own namespace takes the same privilege as entering a pod's. */
	sp.fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (sp.fd < 0)
		return term_fail(why, len, -errno, "opening /proc/self/ns/net");
	err = pthread_create(&th, NULL, setns_probe_thread, &sp);
	if (err) {
		close(sp.fd);
		return term_fail(why, len, -err, "starting a thread to enter a network namespace");
	}
	pthread_join(th, NULL);
	close(sp.fd);
	if (sp.err) {
		err = term_fail(why, len, sp.err, "setns into a network namespace");
		if (err == -EPERM)
			snprintf(why + strlen(why), len - strlen(why), " (needs CAP_SYS_ADMIN)");
		return err;
	}
	return 0;
}
