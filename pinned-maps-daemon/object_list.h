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

#include "store.h"

struct object_batch {
	cJSON *items[K8S_KIND_COUNT]; /* one JSON array per kind */
};

int object_batch_init(struct object_batch *b);
void object_batch_release(struct object_batch *b);

/*
 * Parse one document and move its objects into b. origin names the input in
 * errors ("services.json: invalid JSON at line 3, column 7"). -EINVAL (logged)
 * when the document is not JSON or not a Kubernetes object or list; b may
 * then hold part of the document.
 */
int object_list_parse(const char *text, size_t len, const char *origin, struct object_batch *b);

#endif /* SOCKLB_OBJECT_LIST_H */
