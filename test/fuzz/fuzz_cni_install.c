// SPDX-License-Identifier: Apache-2.0
/*
 * The conflist installer's text edits (cni_conflist.h) on whatever a node's
 * CNI config directory may hold. The input is the file's text, so the config
 * fixtures seed it as they are. What the header promises is checked:
 *   - put yields a valid conflist with exactly one socklb entry, and putting
 *     again changes nothing;
 *   - drop after put gives back the original bytes;
 *   - wrap yields a conflist that put and drop accept;
 *   - every refusal comes with a message.
 */
#include <stdint.h>
#include <string.h>

#include "cni_conflist.h"
#include "fuzz_common.h"

#define FILE_NAME "/etc/cni/net.d/10-fuzz.conflist"

/* A refusal says what is wrong: its error context holds the code returned and a message. */
static void check_refusal(int ret, const struct socklb_err *err)
{
	if (ret > 0 || (ret < 0 && (!err->msg[0] || err->code != ret)))
		abort();
}

static void check_put(const char *text, const char *entry, enum cni_entry_mode mode)
{
	struct socklb_err err = { 0 };
	enum cni_conf_change change, again_change;
	char *out = NULL, *again = NULL, *dropped = NULL;
	int count = -1, ret;

	ret = cni_conflist_put(FILE_NAME, text, entry, mode, &out, &change, &err);
	check_refusal(ret, &err);
	if (ret)
		return;
	if ((change == CNI_CONF_UNCHANGED) != (out == NULL))
		abort();
	if (!out)
		return;
	memset(&err, 0, sizeof(err));
	if (cni_conflist_count_socklb(FILE_NAME, out, &count, &err) != 0 || count != 1)
		abort();
	if (cni_conflist_put(FILE_NAME, out, entry, mode, &again, &again_change, &err) != 0 || again ||
	    again_change != CNI_CONF_UNCHANGED)
		abort();
	/* inserted into a file without an entry: removing it restores the file byte for byte */
	if (change == CNI_CONF_INSERTED) {
		if (cni_conflist_drop(FILE_NAME, out, &dropped, &err) != 0 || !dropped || strcmp(dropped, text) != 0)
			abort();
		free(dropped);
	}
	free(out);
}

static void check_drop(const char *text)
{
	struct socklb_err err = { 0 };
	char *out = NULL;
	int count = -1;
	int ret = cni_conflist_drop(FILE_NAME, text, &out, &err);

	check_refusal(ret, &err);
	if (ret || !out)
		return;
	if (cni_conflist_count_socklb(FILE_NAME, out, &count, &err) != 0 || count != 0)
		abort();
	free(out);
}

static void check_wrap(const char *text, const char *entry)
{
	struct socklb_err err = { 0 };
	char *out = NULL;
	int count = -1;
	int ret = cni_conf_wrap("/etc/cni/net.d/10-fuzz.conf", text, &out, &err);

	check_refusal(ret, &err);
	if (ret)
		return;
	if (!out || cni_conflist_count_socklb(FILE_NAME, out, &count, &err) != 0)
		abort();
	check_put(out, entry, CNI_ENTRY_KEEP);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const extras[] = { NULL, "{\"logLevel\":\"debug\",\"namespaces\":[\"*\"]}" };
	char *text = fuzz_strndup(data, size);
	struct socklb_err err = { 0 };
	char *entry = NULL;
	int count;

	fuzz_logs_quiet();
	/* the entry's extra keys: the input itself too, as --config would pass them */
	if (cni_entry_build(text, &entry, &err) == 0)
		free(entry);
	else if (!err.msg[0])
		abort();
	for (size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (cni_entry_build(extras[i], &entry, &err) != 0)
			abort();
		check_put(text, entry, CNI_ENTRY_KEEP);
		check_put(text, entry, CNI_ENTRY_REPLACE);
		check_wrap(text, entry);
		free(entry);
	}
	check_drop(text);
	memset(&err, 0, sizeof(err));
	check_refusal(cni_conflist_count_socklb(FILE_NAME, text, &count, &err), &err);
	free(text);
	return 0;
}
