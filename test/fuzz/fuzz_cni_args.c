// SPDX-License-Identifier: Apache-2.0
/*
 * The plugin's environment: CNI_ARGS, CNI_CONTAINERID, CNI_IFNAME and the
 * runtime's cgroupPath, then a second CNI_CONTAINERID and CNI_IFNAME, one per
 * line of the input. What is accepted must be safe to use in paths: the pod
 * UID and the container id never lead out of the cgroup root or the links
 * directory, two different attachments never share a directory, and a
 * systemd slice expands into nested slices under the root.
 */
#include <stdint.h>
#include <string.h>

#include "cni_env.h"
#include "datapath.h"
#include "fuzz_common.h"
#include "pod_cgroup.h"
#include "request.h"

#define ROOT "/sys/fs/cgroup"
#define BPFFS "/sys/fs/bpf/socklb"

static void check_candidates(const char *uid, const char *cgroup_path)
{
	struct pod_cgroup_query q = {
		.root = ROOT "/kubelet", .mount = ROOT, .pod_uid = uid, .cgroup_path = cgroup_path
	};
	struct pod_cgroup_candidates *c = malloc(sizeof(*c));
	struct cni_error err = { 0 };

	if (!c)
		abort();
	if (pod_cgroup_candidates(&q, c, &err) == 0) {
		if (c->count > POD_CGROUP_MAX_CANDIDATES)
			abort();
		for (size_t i = 0; i < c->count; i++)
			if (strncmp(c->path[i], ROOT "/", strlen(ROOT "/")) != 0 || strstr(c->path[i], "/../") ||
			    (strlen(c->path[i]) >= 3 && strcmp(c->path[i] + strlen(c->path[i]) - 3, "/..") == 0))
				abort();
	} else if (!err.code || !err.msg[0]) {
		abort();
	}
	free(c);
}

static void check_slice(const char *leaf)
{
	char buf[512];
	size_t n;

	if (systemd_slice_expand(leaf, buf, sizeof(buf)) != 0)
		return;
	/* "/a.slice/a-b.slice/...": ends with the leaf, every component a slice */
	n = strlen(leaf);
	if (buf[0] != '/' || strlen(buf) < n + 1 || strcmp(buf + strlen(buf) - n, leaf) != 0 ||
	    buf[strlen(buf) - n - 1] != '/')
		abort();
}

/* The attachment directory of a valid (container id, ifname), or 0 when the pair is refused. */
static int attachment_dir(const char *container_id, const char *ifname, char *dir, size_t len)
{
	struct cni_request req = { .conf = { .bpffs_root = BPFFS } };
	struct cni_error err = { 0 };

	if (!container_id[0] || cni_container_id_validate(container_id, &err) || !ifname[0] ||
	    cni_ifname_validate(ifname, &err))
		return 0;
	req.env.container_id = container_id;
	req.env.ifname = ifname;
	if (request_attachment_dir(&req, dir, len, &err))
		return 0;
	/* one directory right under links/, with nothing bpffs refuses */
	if (strncmp(dir, BPFFS "/links/", strlen(BPFFS "/links/")) != 0 || strchr(dir + strlen(BPFFS "/links/"), '/') ||
	    strchr(dir + strlen(BPFFS "/links/"), '.'))
		abort();
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *args_text = fuzz_next_field(&data, &size, '\n');
	char *container_id = fuzz_next_field(&data, &size, '\n');
	char *ifname = fuzz_next_field(&data, &size, '\n');
	char *cgroup_path = fuzz_next_field(&data, &size, '\n');
	char *container_id2 = fuzz_next_field(&data, &size, '\n');
	char *ifname2 = fuzz_next_field(&data, &size, '\n');
	struct cni_request req = { .conf = { .bpffs_root = BPFFS } };
	struct cni_error err = { 0 };
	char dir[PATH_MAX], dir2[PATH_MAX];

	fuzz_logs_quiet();
	if (cni_args_parse(args_text, &req.args, &err) == 0) {
		if (req.args.pod_uid && strspn(req.args.pod_uid, "0123456789abcdefABCDEF-") != strlen(req.args.pod_uid))
			abort();
		request_pod(&req);
		check_candidates(req.args.pod_uid, cgroup_path[0] ? cgroup_path : NULL);
		cni_args_free(&req.args);
	} else if (err.code != CNI_ERR_INVALID_ENV || req.args.buf) {
		abort();
	}

	if (attachment_dir(container_id, ifname, dir, sizeof(dir)) &&
	    attachment_dir(container_id2, ifname2, dir2, sizeof(dir2)) &&
	    (strcmp(container_id, container_id2) != 0 || strcmp(ifname, ifname2) != 0) && strcmp(dir, dir2) == 0)
		abort(); /* two attachments, one directory: a DEL of one would remove the other */
	check_slice(cgroup_path);

	free(args_text);
	free(container_id);
	free(ifname);
	free(cgroup_path);
	free(container_id2);
	free(ifname2);
	return 0;
}
