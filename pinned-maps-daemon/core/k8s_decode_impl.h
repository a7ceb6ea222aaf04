/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the decoder: what the per-kind decoders (k8s_service.c,
 * k8s_endpoint_slice.c, k8s_namespace.c, k8s_node.c) share with the common
 * part (k8s_decode.c), which reads the metadata and calls them for the rest.
 */
#ifndef SOCKLB_K8S_DECODE_IMPL_H
#define SOCKLB_K8S_DECODE_IMPL_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "k8s_decode.h"

/* What the common part read, for the kind's finish. */
struct k8s_meta {
	const char *ns; /* interned; "" when absent */
	const char *name; /* interned; NULL when absent */
};

struct kind_decoder {
	size_t scratch_size; /* the kind's draft, kept in the decoder between objects */
	/* A new object begins: reset the draft. */
	void (*begin)(void *draft);
	/* A top-level member other than metadata: read it into the draft, or skip it. */
	int (*member)(void *draft, struct json_reader *r, const struct json_str *name, struct k8s_decode_info *info);
	/* metadata.labels[key] and metadata.annotations[key]: read or skip (NULL: skip them all). */
	int (*label)(void *draft, struct json_reader *r, const struct json_str *key);
	int (*annotation)(void *draft, struct json_reader *r, const struct json_str *key);
	/* The object is read: build it (taking the draft's and meta's strings), 0 or -ENOMEM. */
	int (*finish)(void *draft, struct json_reader *r, struct k8s_meta *meta, struct k8s_object **out);
	/* Drop the strings the draft holds: the object failed. */
	void (*release)(void *draft);
	/* The decoder goes: drop the draft's strings and scratch space. */
	void (*free)(void *draft);
};

extern const struct kind_decoder k8s_service_decoder;
extern const struct kind_decoder k8s_slice_decoder;
extern const struct kind_decoder k8s_namespace_decoder;
extern const struct kind_decoder k8s_node_decoder;

/* First occurrence of a member (as cJSON reads objects): set bit in *seen; false when it was set already. */
static inline bool first_seen(unsigned int *seen, unsigned int bit)
{
	bool first = !(*seen & bit);

	*seen |= bit;
	return first;
}

/* Out of memory: the reader fails with -ENOMEM. */
int decode_no_memory(struct json_reader *r);
/* A string value interned into *out (an earlier one released); anything else skipped, *out NULL. */
int decode_intern(struct json_reader *r, const char **out);
/* A port name: as decode_intern, but "" is NULL (unnamed) as when there is none. */
int decode_port_name(struct json_reader *r, const char **out);
/* A string value copied into buf (truncated), *is_string true; anything else skipped, *is_string false. */
int decode_copy(struct json_reader *r, char *buf, size_t len, bool *is_string);
/* A value absent to the API: JSON null (skipped). */
bool decode_null(struct json_reader *r);
/* An integral number in [min, max] (as the cJSON readers checked): *ok and *out; anything else skipped. */
int decode_int(struct json_reader *r, long min, long max, long *out, bool *ok);
/* true or false into *out (*ok); null leaves *out and *ok true; anything else skipped, *ok false. */
int decode_bool(struct json_reader *r, bool *out, bool *ok);
/* An IP address string: *valid and addr; a copy of the text into raw (for a message); *is_string. */
int decode_addr(struct json_reader *r, __be32 addr[4], bool *valid, char *raw, size_t raw_len, bool *is_string);

/* A growable array in a draft, reused from object to object. */
struct scratch {
	void *items;
	size_t n;
	size_t cap;
};

/* Room for one more item of size bytes: its address (zeroed), or NULL. */
void *scratch_push(struct scratch *s, size_t size);
/* Copy the items (each of size bytes) to dst, the part of an object that holds them; none is fine. */
void scratch_copy(void *dst, const struct scratch *s, size_t size);
void scratch_free(struct scratch *s);

/* Round up to the alignment of pointers, for the parts that follow an object's struct. */
static inline size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

#endif /* SOCKLB_K8S_DECODE_IMPL_H */
