/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes objects from JSON straight into their compact form
 * (k8s_object.h): one pass over the object's text, strings interned as they
 * are read, one allocation per object. The JSON is checked whole, as cJSON
 * checks it (json_reader.h). What the object says is judged as translation
 * judges it; the decoder only fails on what is not JSON, or not an object.
 *
 * Each source keeps one decoder and reuses its scratch space for every
 * object: decoding allocates nothing but the object and its new strings.
 */
#ifndef SOCKLB_K8S_DECODE_H
#define SOCKLB_K8S_DECODE_H

#include <stdbool.h>

#include "json_reader.h"
#include "k8s_object.h"

struct k8s_decoder;

struct k8s_decoder *k8s_decoder_new(void);
void k8s_decoder_free(struct k8s_decoder *d);

/* What a caller may want besides the object. */
struct k8s_decode_info {
	bool want_resource_version; /* in */
	char *resource_version; /* out: metadata.resourceVersion (malloc'ed) when wanted and a string */
	/* out: an EndpointSlice of an apiVersion other than discovery.k8s.io/v1 (its first bytes in api_version) */
	bool other_api_version;
	char api_version[128];
};

/*
 * The object at r (an object of kind) into *out, which may lack a name (the
 * store refuses it). -EINVAL when the value is not JSON or not an object
 * (the reader says what and where), -ENOMEM.
 */
int k8s_decode(struct k8s_decoder *d, struct json_reader *r, enum k8s_kind kind, struct k8s_decode_info *info,
	       struct k8s_object **out);
/*
 * The kind the object at r names (its first member "kind", when a string)
 * into buf (truncated to len), r left where it was: 1 when named, 0 when not
 * (or r is not at an object), -EINVAL when the JSON before it is invalid.
 */
int k8s_decode_kind_name(struct json_reader *r, char *buf, size_t len);

#endif /* SOCKLB_K8S_DECODE_H */
