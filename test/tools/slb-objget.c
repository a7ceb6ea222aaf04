// SPDX-License-Identifier: Apache-2.0
/*
 * What an unprivileged process can reach of the pinned objects, for the
 * security tests: one line per attempt, "opened ..." or "denied <errno> ...".
 *
 *   slb-objget pin PATH...   bpf_obj_get() read-write and read-only, and open(2)
 *   slb-objget ids           walk the kernel's map, program and link ids
 *                            (bpf_*_get_next_id + get_fd_by_id)
 * Exit status 0 when every attempt was denied, 1 when one succeeded.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int opened;

static void report(const char *what, const char *object, int fd)
{
	if (fd >= 0) {
		printf("opened %s %s\n", what, object);
		opened = 1;
		close(fd);
		return;
	}
	printf("denied %s %s %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?", what, object);
}

static void try_pin(const char *path)
{
	LIBBPF_OPTS(bpf_obj_get_opts, ro, .file_flags = BPF_F_RDONLY);

	report("bpf_obj_get", path, bpf_obj_get(path));
	report("bpf_obj_get(RDONLY)", path, bpf_obj_get_opts(path, &ro));
	report("open", path, open(path, O_RDONLY | O_CLOEXEC));
}

static void try_ids(const char *kind, int (*next)(__u32, __u32 *), int (*get)(__u32))
{
	__u32 id = 0;
	char name[32];

	if (next(id, &id)) {
		report(kind, "next_id", -1);
		return;
	}
	snprintf(name, sizeof(name), "id %u", id);
	report(kind, name, get(id));
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "pin") == 0) {
		for (int i = 2; i < argc; i++)
			try_pin(argv[i]);
	} else if (argc == 2 && strcmp(argv[1], "ids") == 0) {
		try_ids("map", bpf_map_get_next_id, bpf_map_get_fd_by_id);
		try_ids("prog", bpf_prog_get_next_id, bpf_prog_get_fd_by_id);
		try_ids("link", bpf_link_get_next_id, bpf_link_get_fd_by_id);
	} else {
		fprintf(stderr, "usage: slb-objget pin PATH... | slb-objget ids\n");
		return 2;
	}
	return opened;
}
