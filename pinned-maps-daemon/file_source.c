// SPDX-License-Identifier: Apache-2.0
#include "file_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hashmap.h"
#include "k8s_object.h"
#include "log.h"
#include "object_list.h"

/* Writes closer together than this are one change; a burst is cut off after the maximum. */
#define SETTLE_MS 2
#define SETTLE_MAX_MS 200
/* How often to look for the watched directory again after it disappeared. */
#define REWATCH_MS 1000

/* One object a file provided, to delete it when the file stops providing it. */
struct object_key {
	enum k8s_kind kind;
	char *ns;
	char *name;
};

/* A file as last loaded: its identity (a rename or a write changes it) and what it provided. */
struct loaded_file {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	size_t n_keys;
	size_t cap_keys;
	struct object_key *keys;
	size_t n_old_keys; /* what it provided before this load */
	struct object_key *old_keys;
	bool seen; /* still there at this load */
	bool changed; /* parsed again at this load */
	struct object_batch batch; /* the new objects, while a load runs */
};

struct file_source {
	char *path;
	char *watch_dir;
	struct store *store;
	struct metrics *metrics;
	bool loaded; /* one complete load went into the store */
	size_t n_files;
	struct loaded_file *files;
	struct hashmap *providers; /* "kind/namespace/name" → number of files providing it (size_t) */
	pthread_t thread;
	bool running;
	int stop_fd;
};

int file_source_new(const char *path, struct store *s, struct metrics *metrics, struct file_source **out)
{
	struct file_source *fs = calloc(1, sizeof(*fs));
	char *copy = NULL;
	struct stat st;

	if (!fs)
		return -ENOMEM;
	fs->stop_fd = -1;
	fs->path = strdup(path);
	copy = strdup(path);
	fs->providers = hashmap_new();
	if (!fs->path || !copy || !fs->providers)
		goto nomem;
	/* A directory is watched itself; a file through its directory, which survives renames over the file. */
	fs->watch_dir = strdup(stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? path : dirname(copy));
	free(copy);
	copy = NULL;
	if (!fs->watch_dir)
		goto nomem;
	fs->store = s;
	fs->metrics = metrics;
	*out = fs;
	return 0;
nomem:
	free(copy);
	file_source_free(fs);
	return -ENOMEM;
}

static int read_file(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	int err = 0;

	if (!f)
		return -errno;
	for (;;) {
		size_t got;

		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nbuf = realloc(buf, ncap);

			if (!nbuf) {
				err = -ENOMEM;
				break;
			}
			buf = nbuf;
			cap = ncap;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0) {
			if (ferror(f))
				err = -EIO;
			break;
		}
	}
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

static int parse_file(struct loaded_file *lf)
{
	char *text = NULL;
	size_t len = 0;
	int err = read_file(lf->path, &text, &len);

	if (err) {
		pr_err("cannot read %s: %s", lf->path, strerror(-err));
		return err;
	}
	err = object_batch_init(&lf->batch);
	if (!err)
		err = object_list_parse(text, len, lf->path, &lf->batch);
	free(text);
	return err;
}

static void keys_free(struct object_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(keys[i].ns);
		free(keys[i].name);
	}
	free(keys);
}

static void loaded_file_release(struct loaded_file *lf)
{
	keys_free(lf->keys, lf->n_keys);
	object_batch_release(&lf->batch);
	free(lf->path);
}

static int json_file(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	/* Hidden files are editors' and tools' temporaries (and ConfigMap internals). */
	return d->d_name[0] != '.' && len > 5 && strcmp(d->d_name + len - 5, ".json") == 0;
}

static struct loaded_file *find_file(struct file_source *fs, const char *path)
{
	for (size_t i = 0; i < fs->n_files; i++) {
		if (strcmp(fs->files[i].path, path) == 0)
			return &fs->files[i];
	}
	return NULL;
}

/* Note one file of this load: known and unchanged, changed, or new. */
static int visit_file(struct file_source *fs, const char *path)
{
	struct loaded_file *lf = find_file(fs, path);
	struct stat st;

	if (stat(path, &st)) {
		int err = -errno;

		pr_err("cannot read %s: %s", path, strerror(-err));
		return err;
	}
	if (!lf) {
		struct loaded_file *files = realloc(fs->files, (fs->n_files + 1) * sizeof(*files));

		if (!files)
			return -ENOMEM;
		fs->files = files;
		lf = &fs->files[fs->n_files];
		memset(lf, 0, sizeof(*lf));
		lf->path = strdup(path);
		if (!lf->path)
			return -ENOMEM;
		fs->n_files++;
	}
	lf->seen = true;
	/* A rename gives a new inode, a write a new size or mtime: only then is the file parsed again. */
	lf->changed = !fs->loaded || lf->dev != st.st_dev || lf->ino != st.st_ino || lf->size != st.st_size ||
		      lf->mtime.tv_sec != st.st_mtim.tv_sec || lf->mtime.tv_nsec != st.st_mtim.tv_nsec;
	if (!lf->changed)
		return 0;
	lf->dev = st.st_dev;
	lf->ino = st.st_ino;
	lf->size = st.st_size;
	lf->mtime = st.st_mtim;
	return parse_file(lf);
}

static int visit_files(struct file_source *fs)
{
	struct dirent **names;
	struct stat st;
	int n, err = 0;

	if (stat(fs->path, &st)) {
		err = -errno;
		pr_err("cannot read %s: %s", fs->path, strerror(-err));
		return err;
	}
	if (!S_ISDIR(st.st_mode))
		return visit_file(fs, fs->path);
	n = scandir(fs->path, &names, json_file, alphasort);
	if (n < 0) {
		err = -errno;
		pr_err("cannot list %s: %s", fs->path, strerror(-err));
		return err;
	}
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", fs->path, names[i]->d_name);
		if (!err)
			err = visit_file(fs, path);
		free(names[i]);
	}
	free(names);
	return err;
}

static int provider_key(char *buf, size_t len, enum k8s_kind kind, const char *ns, const char *name)
{
	int n = snprintf(buf, len, "%d/%s/%s", (int)kind, ns, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

/* Count one more file providing the object; record it among the file's keys. */
static int add_key(struct file_source *fs, struct loaded_file *lf, enum k8s_kind kind, const cJSON *obj)
{
	const char *ns = k8s_namespace(obj), *name = k8s_name(obj);
	struct object_key *keys;
	size_t *count;
	char key[600];
	int len;

	if (!name || (len = provider_key(key, sizeof(key), kind, ns, name)) < 0)
		return 0;
	if (lf->n_keys == lf->cap_keys) {
		size_t cap = lf->cap_keys ? lf->cap_keys * 2 : 16;

		keys = realloc(lf->keys, cap * sizeof(*keys));
		if (!keys)
			return -ENOMEM;
		lf->keys = keys;
		lf->cap_keys = cap;
	}
	keys = &lf->keys[lf->n_keys];
	*keys = (struct object_key){ .kind = kind, .ns = strdup(ns), .name = strdup(name) };
	if (!keys->ns || !keys->name) {
		free(keys->ns);
		free(keys->name);
		return -ENOMEM;
	}
	lf->n_keys++;
	count = hashmap_get(fs->providers, key, len);
	if (!count) {
		count = calloc(1, sizeof(*count));
		if (!count || hashmap_put(fs->providers, key, len, count, NULL)) {
			free(count);
			return -ENOMEM;
		}
	}
	(*count)++;
	return 0;
}

/* One file less provides these objects; those no file provides any more leave the store. */
static void drop_keys(struct file_source *fs, struct object_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char key[600];
		int len = provider_key(key, sizeof(key), keys[i].kind, keys[i].ns, keys[i].name);
		size_t *count;

		if (len < 0)
			continue;
		count = hashmap_get(fs->providers, key, len);
		if (count && --*count > 0)
			continue;
		free(hashmap_remove(fs->providers, key, len));
		store_delete(fs->store, keys[i].kind, keys[i].ns, keys[i].name);
	}
}

/* Move a changed file's objects to the store (or to the first load's lists) and count them as its keys. */
static int take_objects(struct file_source *fs, struct loaded_file *lf, struct object_batch *all)
{
	int err = 0;

	for (int k = 0; k < K8S_KIND_COUNT && !err; k++) {
		cJSON *item;

		while (!err && (item = lf->batch.items[k]->child)) {
			cJSON_DetachItemViaPointer(lf->batch.items[k], item);
			err = add_key(fs, lf, (enum k8s_kind)k, item);
			if (all)
				cJSON_AddItemToArray(all->items[k], item);
			else
				store_upsert(fs->store, (enum k8s_kind)k, item);
		}
	}
	return err;
}

/*
 * Objects of changed files go into the store one by one (the store ignores
 * identical ones): a change costs what changed, not the whole input. Every
 * addition comes before any removal, so an object moving between files never
 * leaves the store. The first load is a complete list of every kind instead.
 */
static int apply(struct file_source *fs)
{
	struct object_batch all;
	int err = 0;

	if (!fs->loaded) {
		err = object_batch_init(&all);
		if (err)
			return err;
	}
	for (size_t f = 0; f < fs->n_files && !err; f++) {
		struct loaded_file *lf = &fs->files[f];

		if (!lf->changed)
			continue;
		lf->old_keys = lf->keys;
		lf->n_old_keys = lf->n_keys;
		lf->keys = NULL;
		lf->n_keys = 0;
		lf->cap_keys = 0;
		err = take_objects(fs, lf, fs->loaded ? NULL : &all);
	}
	for (size_t f = 0; f < fs->n_files; f++) {
		struct loaded_file *lf = &fs->files[f];

		drop_keys(fs, lf->old_keys, lf->n_old_keys);
		keys_free(lf->old_keys, lf->n_old_keys);
		lf->old_keys = NULL;
		lf->n_old_keys = 0;
	}
	if (fs->loaded)
		return err;
	for (int k = 0; k < K8S_KIND_COUNT && !err; k++)
		store_replace(fs->store, (enum k8s_kind)k, all.items[k]);
	object_batch_release(&all);
	return err;
}

/* Files gone since the last load take their objects with them; returns how many went. */
static size_t forget_unseen(struct file_source *fs)
{
	size_t k = 0, gone = fs->n_files;

	for (size_t i = 0; i < fs->n_files; i++) {
		struct loaded_file *lf = &fs->files[i];

		if (lf->seen) {
			fs->files[k++] = *lf;
			continue;
		}
		drop_keys(fs, lf->keys, lf->n_keys);
		loaded_file_release(lf);
	}
	fs->n_files = k;
	return gone - k;
}

int file_source_load(struct file_source *fs)
{
	size_t changed = 0, removed = 0;
	int err;

	for (size_t i = 0; i < fs->n_files; i++)
		fs->files[i].seen = fs->files[i].changed = false;
	err = visit_files(fs);
	if (err) {
		/* Nothing parsed so far is applied: the next load reads those files again. */
		for (size_t i = 0; i < fs->n_files; i++) {
			if (fs->files[i].changed)
				fs->files[i].ino = 0;
			object_batch_release(&fs->files[i].batch);
		}
		if (fs->metrics)
			metrics_sync_error(fs->metrics, "loading the file source failed; keeping the previous state");
		pr_warn("%s: keeping the previous state", fs->path);
		return err;
	}
	for (size_t i = 0; i < fs->n_files; i++)
		changed += fs->files[i].changed;
	err = apply(fs);
	if (!err && fs->loaded)
		removed = forget_unseen(fs);
	for (size_t i = 0; i < fs->n_files; i++)
		object_batch_release(&fs->files[i].batch);
	if (err) {
		pr_err("%s: loading failed: %s", fs->path, strerror(-err));
		return err;
	}
	if (!fs->loaded || changed || removed)
		pr_info("loaded %s (%zu of %zu files changed, %zu removed)", fs->path, changed, fs->n_files, removed);
	fs->loaded = true;
	/* Parsing freed large buffers: give them back rather than keep the peak. */
	malloc_trim(0);
	return 0;
}

static int add_watch(int ino, const char *dir)
{
	int wd = inotify_add_watch(ino, dir,
				   IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
					   IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);

	if (wd < 0)
		return -errno;
	return wd;
}

/* Drain pending events; 1 when the watched directory (watch wd) itself went away. */
static int drain(int ino, int wd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	int gone = 0;

	while ((n = read(ino, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->wd == wd && (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)))
				gone = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	return gone;
}

static bool stop_requested(const struct file_source *fs, int timeout_ms, int ino)
{
	struct pollfd pfd[2] = { { .fd = fs->stop_fd, .events = POLLIN }, { .fd = ino, .events = POLLIN } };

	return poll(pfd, ino >= 0 ? 2 : 1, timeout_ms) > 0 && (pfd[0].revents & POLLIN);
}

/* Wait until writes have been quiet for SETTLE_MS, at most SETTLE_MAX_MS; false when asked to stop. */
static bool settle(struct file_source *fs, int ino, int wd, int *gone)
{
	struct pollfd pfd[2] = { { .fd = fs->stop_fd, .events = POLLIN }, { .fd = ino, .events = POLLIN } };

	for (int waited = 0; waited < SETTLE_MAX_MS; waited += SETTLE_MS) {
		int ret = poll(pfd, 2, SETTLE_MS);

		if (ret > 0 && (pfd[0].revents & POLLIN))
			return false;
		if (ret <= 0)
			break;
		*gone |= drain(ino, wd);
	}
	return true;
}

static void *watch_thread(void *arg)
{
	struct file_source *fs = arg;
	int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	int wd = -1;

	if (ino < 0) {
		pr_err("inotify_init1: %s; %s will not be reloaded", strerror(errno), fs->path);
		return NULL;
	}
	for (;;) {
		int gone = 0;

		if (wd < 0) {
			wd = add_watch(ino, fs->watch_dir);
			if (wd < 0) {
				if (stop_requested(fs, REWATCH_MS, -1))
					break;
				continue;
			}
			/* What changed while nothing watched is picked up here. */
			file_source_load(fs);
		}
		if (stop_requested(fs, -1, ino))
			break;
		gone = drain(ino, wd);
		if (!settle(fs, ino, wd, &gone))
			break;
		if (gone) {
			pr_warn("%s disappeared; watching for it to come back", fs->watch_dir);
			inotify_rm_watch(ino, wd);
			wd = -1;
			continue;
		}
		file_source_load(fs);
	}
	close(ino);
	return NULL;
}

int file_source_watch(struct file_source *fs)
{
	int err;

	if (fs->running)
		return -EALREADY;
	fs->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fs->stop_fd < 0)
		return -errno;
	err = pthread_create(&fs->thread, NULL, watch_thread, fs);
	if (err) {
		pr_err("cannot start the file watcher: %s", strerror(err));
		close(fs->stop_fd);
		fs->stop_fd = -1;
		return -err;
	}
	fs->running = true;
	return 0;
}

void file_source_free(struct file_source *fs)
{
	if (!fs)
		return;
	if (fs->running) {
		uint64_t one = 1;

		if (write(fs->stop_fd, &one, sizeof(one)) < 0)
			pr_warn("stopping the file watcher: %s", strerror(errno));
		pthread_join(fs->thread, NULL);
	}
	if (fs->stop_fd >= 0)
		close(fs->stop_fd);
	for (size_t i = 0; i < fs->n_files; i++)
		loaded_file_release(&fs->files[i]);
	free(fs->files);
	hashmap_free(fs->providers, free);
	free(fs->watch_dir);
	free(fs->path);
	free(fs);
}
