/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON documents as kubectl and the API server print them, sorted by kind:
 * a `List` (kubectl get a,b -o json), a typed list (`ServiceList`,
 * `EndpointSliceList`, `NamespaceList`, `NodeList`, whose items may omit
 * their kind) or a single object. Kinds the daemon does not read are skipped.
 * Objects are decoded straight into their compact form (k8s_decode.h).
 */
#ifndef SOCKLB_OBJECT_LIST_H
#define SOCKLB_OBJECT_LIST_H

#include <stddef.h>

#include "json_reader.h"
#include "json_scan.h"
#include "k8s_decode.h"
#include "k8s_object.h"

/* Objects by kind, each kind's in document order. */
struct object_batch {
	struct k8s_object **items[K8S_KIND_COUNT];
	size_t n[K8S_KIND_COUNT];
	size_t cap[K8S_KIND_COUNT];
};

/* Takes ownership of obj (freed when it cannot be added): 0 or -ENOMEM. */
int object_batch_add(struct object_batch *b, struct k8s_object *obj);
/* Frees the objects still in it. */
void object_batch_release(struct object_batch *b);

/* What parsing needs beside the text: a decoder and a reader, reused from document to document. */
struct object_parser {
	struct k8s_decoder *decoder;
	struct json_reader reader;
};

int object_parser_init(struct object_parser *p);
void object_parser_release(struct object_parser *p);

/*
 * Parse one document and add its objects to b. origin names the input in
 * errors ("services.json: invalid JSON at line 3, column 7"). -EINVAL (logged)
 * when the document is not JSON (or more than one document) or not a
 * Kubernetes object or list, -ENOMEM; b may then hold part of the document.
 */
int object_list_parse(struct object_parser *p, const char *text, size_t len, const char *origin,
		      struct object_batch *b);

/*
 * A list read item by item, after json_scan_list() found its items. The
 * document less its items says what they are: 1 for a List or a typed list
 * (*implied: the kind of items that name none, -1 for a List), 0 when the
 * document is something else, to be parsed whole (object_list_parse says
 * what is wrong with it, if anything), -EINVAL (logged) when it is not JSON.
 */
int object_list_header(struct object_parser *p, const char *text, size_t len, const struct json_list *list,
		       const char *origin, int *implied);
/*
 * Decode one item of that list (its bytes in text) as object_list_parse()
 * would: *obj, or NULL for kinds and versions the daemon does not read.
 * -EINVAL (logged, with the item's index) when it is not JSON, not an object
 * or names no kind; -ENOMEM.
 */
int object_list_parse_item(struct object_parser *p, const char *text, const struct json_item *item, size_t index,
			   int implied, const char *origin, struct k8s_object **obj);

/*
 * Log "origin: invalid JSON at line L, column C (byte B[, items[I]])[: what]"
 * for the byte at offset of text; item -1 and what NULL leave those out.
 */
void object_list_report_invalid(const char *origin, const char *text, size_t offset, long item, const char *what);

#endif /* SOCKLB_OBJECT_LIST_H */
