/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `--source file:PATH`: Services, EndpointSlices, Namespaces and Nodes from a
 * JSON file (see object_list.h) or from every *.json file of a directory.
 * The first load lists every kind in the store. Later loads read only the
 * files that changed (new inode, size or mtime), and of a list only the items
 * whose bytes changed: a scan (json_scan.h) cuts the file into its items and
 * hashes each, and only items with bytes no item of the last load had are
 * parsed. The store gets the changes a parse of the whole file would give it,
 * object by object: what changed is upserted, what no item defines any more
 * is deleted (see providers.h for objects defined twice). So one edit in a
 * 26 MB file costs a read and a scan of it, not a parse. A load that fails
 * (unreadable file, bad JSON) changes nothing: the maps keep the previous
 * state. The watcher watches the directory, so editors' and tools' atomic
 * renames and ConfigMap-style symlink swaps are seen.
 */
#ifndef SOCKLB_FILE_SOURCE_H
#define SOCKLB_FILE_SOURCE_H

#include "metrics.h"
#include "store.h"

struct file_source;

/* metrics may be NULL. */
int file_source_new(const char *path, struct store *s, struct metrics *metrics, struct file_source **out);
/* Stops the watcher if it runs. */
void file_source_free(struct file_source *fs);

/* Read everything now: 0 when loaded (or unchanged since the last load), negative errno (logged) otherwise. */
int file_source_load(struct file_source *fs);
/*
 * Start the watcher thread: it reloads at once when the file is renamed into
 * place, otherwise a few milliseconds after the writes settle.
 */
int file_source_watch(struct file_source *fs);
/*
 * Wait, at most timeout_ms, until no load is writing to the store: a load
 * writes everything it changed at once, so the changes that woke the caller
 * are then all in.
 */
void file_source_wait_written(struct file_source *fs, int timeout_ms);

#endif /* SOCKLB_FILE_SOURCE_H */
