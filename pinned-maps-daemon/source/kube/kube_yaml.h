/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A YAML document (what kubectl, kubeadm, kind and the clouds write) as a
 * cJSON tree, so that the kubeconfig reader has one form to read, parsed by
 * libyaml. Scalars are typed as client-go's YAML reader types them: quoted
 * ones are strings; plain `null`, `~` or nothing is null, `true`/`false`
 * (YAML 1.1's yes/no/on/off too) a boolean, a JSON number a number kept as
 * written (cJSON raw), anything else a string. Aliases are expanded within
 * bounds (a kubeconfig has no use for them; the bounds stop a
 * "billion laughs" document).
 */
#ifndef SOCKLB_KUBE_YAML_H
#define SOCKLB_KUBE_YAML_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Nodes one document may expand to, and how deep it may nest. */
#define KUBE_YAML_MAX_NODES 100000
#define KUBE_YAML_MAX_DEPTH 64

/*
 * The one document in text[0..len), or NULL with why set ("invalid YAML at
 * line 3, column 7: ...", "more than one YAML document", ...).
 */
cJSON *kube_yaml_parse(const char *text, size_t len, char *why, size_t why_len);

#endif /* SOCKLB_KUBE_YAML_H */
