/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON documents as kubectl and the API server print them, sorted by kind:
 * a `List` (kubectl get a,b -o json), a typed list (`ServiceList`,
 * `EndpointSliceList`, `NamespaceList`, `NodeList`, whose items may omit
 * their kind) or a single object. Kinds the daemon does not read are skipped.
 */
#ifndef SOCKLB_OBJECT_LIST_H
#define SOCKLB_OBJECT_LIST_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "json_scan.h"
#include "store.h"

struct object_batch {
	cJSON *items[K8S_KIND_COUNT]; /* one JSON array per kind */
};

int object_batch_init(struct object_batch *b);
void object_batch_release(struct object_batch *b);

/*
 * Parse one document and move its objects into b. origin names the input in
 * errors ("services.json: invalid JSON at line 3, column 7"). -EINVAL (logged)
 * when the document is not JSON (or more than one document) or not a
 * Kubernetes object or list; b may then hold part of the document.
 */
int object_list_parse(const char *text, size_t len, const char *origin, struct object_batch *b);

/*
 * A list read item by item, after json_scan_list() found its items. The
 * document less its items says what they are: 1 for a List or a typed list
 * (*implied: the kind of items that name none, -1 for a List), 0 when the
 * document is something else, to be parsed whole (object_list_parse says
 * what is wrong with it, if anything), -EINVAL (logged) when it is not JSON.
 */
int object_list_header(const char *text, size_t len, const struct json_list *list, const char *origin, int *implied);
/*
 * Parse one item of that list (its bytes in text) as object_list_parse()
 * would: *obj and *kind, or *obj NULL for kinds and versions the daemon does
 * not read. -EINVAL (logged, with the item's index) when it is not JSON, not
 * an object or names no kind.
 */
int object_list_parse_item(const char *text, const struct json_item *item, size_t index, int implied,
			   const char *origin, cJSON **obj, int *kind);

/*
 * Log "origin: invalid JSON at line L, column C (byte B[, items[I]])[: what]"
 * for the byte at offset of text; item -1 and what NULL leave those out.
 */
void object_list_report_invalid(const char *origin, const char *text, size_t offset, long item, const char *what);

#endif /* SOCKLB_OBJECT_LIST_H */
