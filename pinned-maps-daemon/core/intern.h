/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interned strings: one refcounted copy of each distinct string (namespace,
 * name, node name, zone, port name ...), shared by every object that holds
 * it. Two interned strings are equal exactly when their pointers are, for as
 * long as their holders keep their references. Each carries the hash of its
 * bytes, so tables keyed by them hash without reading the string.
 * Thread-safe: the sources intern while they decode, each in its thread.
 */
#ifndef SOCKLB_INTERN_H
#define SOCKLB_INTERN_H

#include <stddef.h>
#include <stdint.h>

/* The interned copy of s[0, len) (len bytes, no NUL among them), one more reference; NULL when out of memory. */
const char *intern(const char *s, size_t len);
/* One more reference to an interned string (NULL stays NULL); returns s. */
const char *intern_ref(const char *s);
/* One reference fewer (NULL is fine): the last one frees the string. */
void intern_put(const char *s);
/* The hash of an interned string: str_hash() of its bytes. */
uint32_t intern_hash(const char *s);
/* The hash interned strings carry, of any bytes. */
uint32_t str_hash(const char *s, size_t len);

#endif /* SOCKLB_INTERN_H */
