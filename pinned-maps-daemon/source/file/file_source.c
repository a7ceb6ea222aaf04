// SPDX-License-Identifier: Apache-2.0
#include "file_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
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
#include <time.h>
#include <unistd.h>

#include "intern.h"
#include "json_scan.h"
#include "log.h"
#include "object_list.h"
#include "providers.h"

/* Writes closer together than this are one change; a burst is cut off after the maximum. */
#define SETTLE_MS 2
#define SETTLE_MAX_MS 200
/* How often to look for the watched directory again after it disappeared. */
#define REWATCH_MS 1000
/* A load that parsed this much JSON freed trees that large: give the memory back. */
#define TRIM_AFTER_BYTES (4UL << 20)
/* list_kind of a document read whole (not a list), or of a file not loaded yet. */
#define NOT_A_LIST INT_MIN

/*
 * What one item of a file's list provided at the last load (or one object of
 * a document read whole), so that the next load parses only the items whose
 * bytes changed.
 */
struct item_record {
	uint64_t hash;
	const char *ns; /* of the object it defines (interned), when provides */
	const char *name;
	uint32_t len; /* of the item's bytes; 0 for an object of a document read whole (or huge): never matched */
	uint8_t kind;
	bool provides; /* it names an object the daemon reads */
};

static struct object_key record_key(const struct item_record *rec)
{
	return (struct object_key){ .kind = (enum k8s_kind)rec->kind, .ns = rec->ns, .name = rec->name };
}

/* An item of the load that runs: the same bytes as a record of the last load, or decoded. */
struct load_item {
	struct json_item bytes; /* len 0 for an object of a document read whole */
	long same_as; /* that record, or -1 */
	struct k8s_object *obj; /* decoded (NULL: a kind the daemon does not read), until it goes into the store */
};

/* An array kept from one load to the next. */
struct kept_array {
	void *p;
	size_t size;
};

/* A changed file's new content while a load runs, until it is applied or dropped. */
struct file_load {
	char *text; /* NUL-terminated */
	size_t len;
	size_t cap;
	int list_kind; /* the kind its list implies (-1: a List), NOT_A_LIST */
	size_t n_items;
	struct load_item *items;
	bool *kept; /* per record of the last load: an item of this load has its bytes */
	/* Once applied: the last load's records no item of this load repeats. */
	size_t n_gone;
	struct item_record *gone;
};

/* A file as last loaded: its identity (a rename or a write changes it) and what it provided. */
struct loaded_file {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int list_kind; /* the kind the last load's list implied, NOT_A_LIST */
	size_t n_records;
	struct item_record *records;
	bool seen; /* still there at this load */
	bool changed; /* read again at this load */
	struct file_load load;
};

struct file_source {
	char *path;
	char *watch_dir;
	char *file_name; /* the file's name in watch_dir; NULL for a directory */
	struct store *store;
	struct metrics *metrics;
	bool loaded; /* one complete load went into the store */
	size_t n_files;
	struct loaded_file *files;
	struct providers *providers;
	struct object_parser parser;
	/* The largest buffer a load after the first read into: a large file is read again without page faults. */
	char *spare;
	size_t spare_cap;
	/*
	 * The same for the arrays a load of a large file needs (allocations that
	 * large are mapped apart and given back, see main.c): the scan's items,
	 * the load's items, the record index and the records.
	 */
	struct json_list scan;
	struct kept_array kept_items, kept_index, kept_records;
	/* A load writes to the store; the daemon's main thread waits for it to finish (file_source_wait_written). */
	pthread_mutex_t lock;
	pthread_cond_t written;
	bool writing;
	pthread_t thread;
	bool running;
	int stop_fd;
};

int file_source_new(const char *path, struct store *s, struct metrics *metrics, struct file_source **out)
{
	struct file_source *fs = calloc(1, sizeof(*fs));
	pthread_condattr_t attr;
	bool is_dir;
	char *copy = NULL;
	struct stat st;

	if (!fs)
		return -ENOMEM;
	fs->stop_fd = -1;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->written, &attr);
	pthread_condattr_destroy(&attr);
	fs->path = strdup(path);
	copy = strdup(path);
	fs->providers = providers_new(s);
	if (!fs->path || !copy || !fs->providers || object_parser_init(&fs->parser))
		goto nomem;
	/* A directory is watched itself; a file through its directory, which survives renames over the file. */
	is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
	fs->watch_dir = strdup(is_dir ? path : dirname(copy));
	strcpy(copy, path);
	fs->file_name = is_dir ? NULL : strdup(basename(copy));
	free(copy);
	copy = NULL;
	if (!fs->watch_dir || (!is_dir && !fs->file_name))
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

/* A zeroed array of size bytes: the kept one when it is large enough. */
static void *array_take(struct kept_array *k, size_t size)
{
	void *p = k->p;

	if (!p || k->size < size)
		return calloc(1, size);
	k->p = NULL;
	k->size = 0;
	return memset(p, 0, size);
}

/* An array a load is done with: kept when a load after the first used it and it is the largest. */
static void array_give(struct file_source *fs, struct kept_array *k, void *p, size_t size)
{
	if (!fs->loaded || size <= k->size) {
		free(p);
		return;
	}
	free(k->p);
	k->p = p;
	k->size = size;
}

/* The whole file into ld->text, in the spare buffer when it is large enough. */
static int read_file(struct file_source *fs, const char *path, struct file_load *ld)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	ld->cap = (size_t)st.st_size + 4096;
	if (fs->spare_cap >= ld->cap) {
		ld->text = fs->spare;
		ld->cap = fs->spare_cap;
	} else {
		/* Too small: never two buffers of a large file at once. */
		free(fs->spare);
		ld->text = malloc(ld->cap);
	}
	fs->spare = NULL;
	fs->spare_cap = 0;
	ld->len = 0;
	while (ld->text) {
		ssize_t got;

		/* The file grew since fstat. */
		if (ld->len + 1 == ld->cap) {
			char *bigger = realloc(ld->text, ld->cap * 2);

			if (!bigger)
				break;
			ld->text = bigger;
			ld->cap *= 2;
		}
		got = read(fd, ld->text + ld->len, ld->cap - ld->len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			err = got < 0 ? -errno : 0;
			break;
		}
		ld->len += (size_t)got;
	}
	close(fd);
	if (!err && (!ld->text || ld->len + 1 == ld->cap))
		err = -ENOMEM;
	if (ld->text)
		ld->text[ld->len] = '\0';
	return err;
}

static void keys_put(struct item_record *records, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		intern_put(records[i].ns);
		intern_put(records[i].name);
	}
}

/* A load's text, once nothing reads it any more. */
static void file_load_drop_text(struct file_source *fs, struct file_load *ld)
{
	/* Only a file read again is worth a buffer kept: the first load reads every file once. */
	if (fs->loaded && ld->cap > fs->spare_cap) {
		free(fs->spare);
		fs->spare = ld->text;
		fs->spare_cap = ld->cap;
	} else {
		free(ld->text);
	}
	ld->text = NULL;
	ld->len = 0;
	ld->cap = 0;
}

static void file_load_release(struct file_source *fs, struct file_load *ld)
{
	for (size_t i = 0; i < ld->n_items; i++)
		k8s_object_free(ld->items[i].obj);
	array_give(fs, &fs->kept_items, ld->items, (ld->n_items + 1) * sizeof(*ld->items));
	free(ld->kept);
	keys_put(ld->gone, ld->n_gone);
	array_give(fs, &fs->kept_records, ld->gone, (ld->n_gone + 1) * sizeof(*ld->gone));
	file_load_drop_text(fs, ld);
	memset(ld, 0, sizeof(*ld));
}

static void loaded_file_release(struct file_source *fs, struct loaded_file *lf)
{
	keys_put(lf->records, lf->n_records);
	free(lf->records);
	file_load_release(fs, &lf->load);
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

/* What a load parsed: items (or objects of documents read whole) and their bytes. */
struct parse_counts {
	size_t items;
	size_t bytes;
};

/* The last load's records by their bytes, to find the one an item of this load repeats. */
struct record_index {
	size_t mask;
	size_t *slots; /* record index + 1; 0: empty */
};

static int record_index_build(struct file_source *fs, struct record_index *ix, const struct item_record *records,
			      size_t n)
{
	size_t size = 16;

	while (size < 2 * n)
		size *= 2;
	ix->mask = size - 1;
	ix->slots = array_take(&fs->kept_index, size * sizeof(*ix->slots));
	if (!ix->slots)
		return -ENOMEM;
	for (size_t r = 0; r < n; r++) {
		size_t i = records[r].hash & ix->mask;

		if (!records[r].len)
			continue;
		while (ix->slots[i])
			i = (i + 1) & ix->mask;
		ix->slots[i] = r + 1;
	}
	return 0;
}

/* The first record not yet taken with the item's bytes (hash and length), or -1. */
static long record_index_take(const struct record_index *ix, const struct item_record *records, bool *kept,
			      const struct json_item *item)
{
	for (size_t i = item->hash & ix->mask; ix->slots[i]; i = (i + 1) & ix->mask) {
		size_t r = ix->slots[i] - 1;

		if (!kept[r] && records[r].hash == item->hash && records[r].len == item->len) {
			kept[r] = true;
			return (long)r;
		}
	}
	return -1;
}

/*
 * A list: items with the bytes of one the last load parsed are that item
 * again; only the others are parsed. The same bytes under another kind of
 * list are another object, so a list of another kind is parsed whole.
 */
static int load_list(struct file_source *fs, struct loaded_file *lf, const struct json_list *list, int implied,
		     struct parse_counts *parsed)
{
	struct file_load *ld = &lf->load;
	struct record_index ix = { 0 };
	bool match = lf->list_kind == implied && lf->n_records;
	int err = 0;

	ld->list_kind = implied;
	ld->items = array_take(&fs->kept_items, (list->n_items + 1) * sizeof(*ld->items));
	ld->kept = calloc(lf->n_records + 1, sizeof(*ld->kept));
	if (!ld->items || !ld->kept || (match && record_index_build(fs, &ix, lf->records, lf->n_records)))
		err = -ENOMEM;
	for (size_t i = 0; i < list->n_items && !err; i++) {
		struct load_item *li = &ld->items[ld->n_items++];

		li->bytes = list->items[i];
		li->same_as = match ? record_index_take(&ix, lf->records, ld->kept, &li->bytes) : -1;
		if (li->same_as >= 0)
			continue;
		err = object_list_parse_item(&fs->parser, ld->text, &li->bytes, i, implied, lf->path, &li->obj);
		parsed->items++;
		parsed->bytes += li->bytes.len;
	}
	if (ix.slots)
		array_give(fs, &fs->kept_index, ix.slots, (ix.mask + 1) * sizeof(*ix.slots));
	return err;
}

/* Anything but a list is parsed whole: its objects match nothing of the last load. */
static int load_document(struct file_source *fs, struct loaded_file *lf, struct parse_counts *parsed)
{
	struct file_load *ld = &lf->load;
	struct object_batch b = { 0 };
	size_t n = 0;
	int err = object_list_parse(&fs->parser, ld->text, ld->len, lf->path, &b);

	for (int k = 0; k < K8S_KIND_COUNT && !err; k++)
		n += b.n[k];
	ld->list_kind = NOT_A_LIST;
	ld->items = calloc(n + 1, sizeof(*ld->items));
	ld->kept = calloc(lf->n_records + 1, sizeof(*ld->kept));
	if (!err && (!ld->items || !ld->kept))
		err = -ENOMEM;
	for (int k = 0; k < K8S_KIND_COUNT && !err; k++) {
		for (size_t i = 0; i < b.n[k]; i++) {
			struct load_item *li = &ld->items[ld->n_items++];

			li->same_as = -1;
			li->obj = b.items[k][i];
		}
		b.n[k] = 0;
	}
	object_batch_release(&b);
	parsed->items += ld->n_items;
	parsed->bytes += ld->len;
	return err;
}

static bool load_repeats(const struct file_load *ld)
{
	for (size_t i = 0; i < ld->n_items; i++) {
		if (ld->items[i].same_as >= 0)
			return true;
	}
	return false;
}

/* Read a changed file and parse what changed in it; nothing is applied yet. */
static int parse_file(struct file_source *fs, struct loaded_file *lf, struct parse_counts *parsed)
{
	struct file_load *ld = &lf->load;
	struct json_scan_error where;
	struct json_list *list = &fs->scan;
	int implied, is_list, err;

	err = read_file(fs, lf->path, ld);
	if (err) {
		pr_err("cannot read %s: %s", lf->path, strerror(-err));
		return err;
	}
	err = json_scan_list(ld->text, ld->len, list, &where);
	if (err == -EINVAL)
		object_list_report_invalid(lf->path, ld->text, where.offset, where.item, where.what);
	if (err)
		return err;
	is_list = list->found ? object_list_header(&fs->parser, ld->text, ld->len, list, lf->path, &implied) : 0;
	if (is_list < 0)
		err = is_list;
	else if (is_list)
		err = load_list(fs, lf, list, implied, parsed);
	else
		err = load_document(fs, lf, parsed);
	/* Its items buffer serves the next file; kept past this load only when a load after the first needed it. */
	if (!fs->loaded)
		json_list_release(list);
	/*
	 * The text is read again only for an item with a last load's bytes that
	 * turns out contested (store_file); without one, it goes now, so that a
	 * load of many files holds one file's text at a time.
	 */
	if (!err && !load_repeats(ld))
		file_load_drop_text(fs, ld);
	return err;
}

/* Note one file of this load: known and unchanged, changed, or new. */
static int visit_file(struct file_source *fs, const char *path, struct parse_counts *parsed)
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
		lf->list_kind = NOT_A_LIST;
		lf->path = strdup(path);
		if (!lf->path)
			return -ENOMEM;
		fs->n_files++;
	}
	lf->seen = true;
	/* A rename gives a new inode, a write a new size or mtime: only then is the file read again. */
	lf->changed = !fs->loaded || lf->dev != st.st_dev || lf->ino != st.st_ino || lf->size != st.st_size ||
		      lf->mtime.tv_sec != st.st_mtim.tv_sec || lf->mtime.tv_nsec != st.st_mtim.tv_nsec;
	if (!lf->changed)
		return 0;
	lf->dev = st.st_dev;
	lf->ino = st.st_ino;
	lf->size = st.st_size;
	lf->mtime = st.st_mtim;
	/* Until a load went into the store, what the records say is not in it: parse everything. */
	if (!fs->loaded)
		lf->list_kind = NOT_A_LIST;
	return parse_file(fs, lf, parsed);
}

static int visit_files(struct file_source *fs, struct parse_counts *parsed)
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
		return visit_file(fs, fs->path, parsed);
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
			err = visit_file(fs, path, parsed);
		free(names[i]);
	}
	free(names);
	return err;
}

/* The record of an item parsed at this load: the object it defines, counted. */
static int record_parsed(struct file_source *fs, struct item_record *rec, const struct load_item *li)
{
	const struct k8s_object *obj = li->obj;
	struct object_key key;
	int err;

	rec->hash = li->bytes.hash;
	rec->len = li->bytes.len <= UINT32_MAX ? (uint32_t)li->bytes.len : 0;
	if (!obj || !obj->name)
		return 0;
	rec->kind = obj->kind;
	rec->ns = intern_ref(obj->ns);
	rec->name = intern_ref(obj->name);
	key = record_key(rec);
	err = providers_add(fs->providers, &key);
	rec->provides = !err;
	return err;
}

/*
 * A changed file's new records: those of the last load its items repeat,
 * and those of the items parsed, whose objects are counted. The last load's
 * records no item repeats wait in load.gone.
 */
static int count_file(struct file_source *fs, struct loaded_file *lf)
{
	struct file_load *ld = &lf->load;
	struct item_record *records = array_take(&fs->kept_records, (ld->n_items + 1) * sizeof(*records));
	int err = 0;

	if (!records)
		return -ENOMEM;
	for (size_t i = 0; i < ld->n_items; i++) {
		const struct load_item *li = &ld->items[i];

		if (li->same_as >= 0) {
			records[i] = lf->records[li->same_as];
			lf->records[li->same_as] = (struct item_record){ 0 };
		} else if (!err) {
			err = record_parsed(fs, &records[i], li);
		}
	}
	ld->gone = lf->records;
	ld->n_gone = lf->n_records;
	lf->records = records;
	lf->n_records = ld->n_items;
	lf->list_kind = ld->list_kind;
	return err;
}

/*
 * A changed file's objects into the store (or into the first load's lists,
 * all), in the file's order: those parsed, and those contested, parsed
 * again as reading the whole file would have put them in again.
 */
static int store_file(struct file_source *fs, struct loaded_file *lf, struct object_batch *all)
{
	struct file_load *ld = &lf->load;
	int err = 0;

	for (size_t i = 0; i < ld->n_items && providers_any_contested(fs->providers) && !err; i++) {
		struct load_item *li = &ld->items[i];
		const struct item_record *rec = &lf->records[i];
		struct object_key key = record_key(rec);

		if (li->same_as >= 0 && rec->provides && providers_contested(fs->providers, &key)) {
			err = object_list_parse_item(&fs->parser, ld->text, &li->bytes, i, ld->list_kind, lf->path,
						     &li->obj);
			if (!err)
				providers_stored(fs->providers, &key);
		}
	}
	for (size_t i = 0; i < ld->n_items && !err; i++) {
		struct load_item *li = &ld->items[i];

		if (!li->obj)
			continue;
		if (all)
			err = object_batch_add(all, li->obj);
		else
			store_upsert(fs->store, li->obj);
		li->obj = NULL;
	}
	return err;
}

/* Definitions that went away; with unused, the objects no item defines any more leave the store. */
static void release_records(struct file_source *fs, const struct item_record *records, size_t n, bool unused)
{
	for (size_t i = 0; i < n; i++) {
		struct object_key key = record_key(&records[i]);

		if (!records[i].provides)
			continue;
		if (unused)
			providers_forget_unused(fs->providers, &key);
		else
			providers_release(fs->providers, &key);
	}
}

/*
 * What changed goes into the store object by object (the store ignores
 * identical ones): a change costs what changed, not the whole input. Every
 * file's definitions are counted before any object is stored, so that the
 * contested ones are known, and every addition comes before any removal, so
 * an object moving between files never leaves the store. The first load is
 * a complete list of every kind instead.
 */
static int apply(struct file_source *fs)
{
	struct object_batch all = { 0 };
	bool first = !fs->loaded;
	int err = 0;

	for (size_t f = 0; f < fs->n_files; f++) {
		struct loaded_file *lf = &fs->files[f];

		if (lf->changed && count_file(fs, lf) && !err)
			err = -ENOMEM;
		release_records(fs, lf->load.gone, lf->load.n_gone, false);
	}
	for (size_t f = 0; f < fs->n_files && !err; f++) {
		if (fs->files[f].changed)
			err = store_file(fs, &fs->files[f], first ? &all : NULL);
	}
	for (size_t f = 0; f < fs->n_files; f++) {
		struct loaded_file *lf = &fs->files[f];

		release_records(fs, lf->load.gone, lf->load.n_gone, true);
		/* After a failure the records may not match the store: the next load parses the files whole. */
		if (err && lf->changed) {
			lf->list_kind = NOT_A_LIST;
			lf->ino = 0;
		}
	}
	if (!first)
		return err;
	for (int k = 0; k < K8S_KIND_COUNT && !err; k++) {
		store_replace(fs->store, (enum k8s_kind)k, all.items[k], all.n[k]);
		all.n[k] = 0;
	}
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
		release_records(fs, lf->records, lf->n_records, false);
		release_records(fs, lf->records, lf->n_records, true);
		loaded_file_release(fs, lf);
	}
	fs->n_files = k;
	return gone - k;
}

static void set_writing(struct file_source *fs, bool writing)
{
	pthread_mutex_lock(&fs->lock);
	fs->writing = writing;
	if (!writing)
		pthread_cond_broadcast(&fs->written);
	pthread_mutex_unlock(&fs->lock);
}

int file_source_load(struct file_source *fs)
{
	struct parse_counts parsed = { 0 };
	size_t changed = 0, removed = 0, items = 0;
	int err;

	providers_next_load(fs->providers);
	for (size_t i = 0; i < fs->n_files; i++)
		fs->files[i].seen = fs->files[i].changed = false;
	err = visit_files(fs, &parsed);
	if (err) {
		/* Nothing read so far is applied: the next load reads those files again. */
		for (size_t i = 0; i < fs->n_files; i++) {
			if (fs->files[i].changed)
				fs->files[i].ino = 0;
			file_load_release(fs, &fs->files[i].load);
		}
		if (fs->metrics)
			metrics_sync_error(fs->metrics, "loading the file source failed; keeping the previous state");
		pr_warn("%s: keeping the previous state", fs->path);
		return err;
	}
	for (size_t i = 0; i < fs->n_files; i++) {
		changed += fs->files[i].changed;
		items += fs->files[i].load.n_items;
	}
	set_writing(fs, true);
	err = apply(fs);
	if (!err && fs->loaded)
		removed = forget_unseen(fs);
	set_writing(fs, false);
	for (size_t i = 0; i < fs->n_files; i++)
		file_load_release(fs, &fs->files[i].load);
	if (err) {
		pr_err("%s: loading failed: %s", fs->path, strerror(-err));
		return err;
	}
	if (!fs->loaded || changed || removed)
		pr_info("loaded %s (%zu of %zu files changed, %zu removed; %zu of their %zu items parsed)", fs->path,
			changed, fs->n_files, removed, parsed.items, items);
	fs->loaded = true;
	/* Parsing much freed large trees: give them back rather than keep the peak. */
	if (parsed.bytes >= TRIM_AFTER_BYTES)
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

/* What a batch of inotify events says. */
struct watch_events {
	bool gone; /* the watched directory itself went away */
	bool renamed_in; /* the last event renamed the file the source reads into place */
};

/* Drain pending events (wd: the watched directory). */
static void drain(const struct file_source *fs, int ino, int wd, struct watch_events *events)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(ino, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->wd == wd && (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)))
				events->gone = true;
			events->renamed_in = fs->file_name && (ev->mask & IN_MOVED_TO) && ev->len &&
					     strcmp(ev->name, fs->file_name) == 0;
			p += sizeof(*ev) + ev->len;
		}
	}
}

static bool stop_requested(const struct file_source *fs, int timeout_ms, int ino)
{
	struct pollfd pfd[2] = { { .fd = fs->stop_fd, .events = POLLIN }, { .fd = ino, .events = POLLIN } };

	return poll(pfd, ino >= 0 ? 2 : 1, timeout_ms) > 0 && (pfd[0].revents & POLLIN);
}

/* Wait until writes have been quiet for SETTLE_MS, at most SETTLE_MAX_MS; false when asked to stop. */
static bool settle(struct file_source *fs, int ino, int wd, struct watch_events *events)
{
	struct pollfd pfd[2] = { { .fd = fs->stop_fd, .events = POLLIN }, { .fd = ino, .events = POLLIN } };

	for (int waited = 0; waited < SETTLE_MAX_MS; waited += SETTLE_MS) {
		int ret = poll(pfd, 2, SETTLE_MS);

		if (ret > 0 && (pfd[0].revents & POLLIN))
			return false;
		if (ret <= 0)
			break;
		drain(fs, ino, wd, events);
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
		struct watch_events events = { 0 };

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
		drain(fs, ino, wd, &events);
		/*
		 * A rename puts a complete file in place: read it at once. Anything
		 * else may be one step of a write in several (a new file, a write
		 * in place, an editor's backup, one file of a directory a tool
		 * rewrites), so wait for the writes to settle.
		 */
		if (!events.renamed_in && !settle(fs, ino, wd, &events))
			break;
		if (events.gone) {
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

void file_source_wait_written(struct file_source *fs, int timeout_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&fs->lock);
	while (fs->writing && pthread_cond_timedwait(&fs->written, &fs->lock, &until) == 0)
		;
	pthread_mutex_unlock(&fs->lock);
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
		loaded_file_release(fs, &fs->files[i]);
	free(fs->files);
	providers_free(fs->providers);
	object_parser_release(&fs->parser);
	pthread_cond_destroy(&fs->written);
	pthread_mutex_destroy(&fs->lock);
	free(fs->spare);
	json_list_release(&fs->scan);
	free(fs->kept_items.p);
	free(fs->kept_index.p);
	free(fs->kept_records.p);
	free(fs->file_name);
	free(fs->watch_dir);
	free(fs->path);
	free(fs);
}
