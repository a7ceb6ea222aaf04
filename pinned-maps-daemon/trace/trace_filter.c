// SPDX-License-Identifier: Apache-2.0
#include "trace_filter.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lbmap.h"
#include "trace.h"

static int parse_service(struct trace_filter *f, const char *s, struct socklb_err *e)
{
	char host[SOCKLB_ADDR_STRLEN];
	const char *colon = strrchr(s, ':'), *port = NULL;
	size_t n;
	unsigned long p;
	char *end;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || (close[1] && (close[1] != ':' || !close[2])))
			goto bad;
		n = (size_t)(close - s - 1);
		if (n >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		port = close[1] ? close + 2 : NULL;
	} else if (colon && strchr(s, ':') == colon) {
		/* One colon: IPv4 and port. More: a bare IPv6 address. */
		n = (size_t)(colon - s);
		if (n >= sizeof(host) || !colon[1])
			goto bad;
		memcpy(host, s, n);
		host[n] = '\0';
		port = colon + 1;
	} else {
		if (strlen(s) >= sizeof(host))
			goto bad;
		strcpy(host, s);
	}
	if (socklb_addr_parse(host, f->vip))
		goto bad;
	f->has_vip = true;
	if (port) {
		errno = 0;
		p = strtoul(port, &end, 10);
		if (*end || errno || p == 0 || p > 65535 || port[0] == '-' || port[0] == '+')
			goto bad;
		f->port = (__u16)p;
	}
	return 0;
bad:
	return socklb_fail(e, -EINVAL,
			   "--service \"%s\": expected a VIP with or without a port (10.96.0.10, 10.96.0.10:80, "
			   "fd00::10, [fd00::10]:80)",
			   s);
}

static int parse_verdicts(struct trace_filter *f, const char *list, struct socklb_err *e)
{
	char *copy = strdup(list), *save = NULL, *name;
	int v, err_ret = 0;

	if (!copy)
		return socklb_fail(e, -ENOMEM, "out of memory parsing --verdict");
	for (name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		v = socklb_verdict_parse(name);
		if (v < 0) {
			err_ret = socklb_fail(
				e, -EINVAL,
				"--verdict \"%s\": expected translated, refused-no-endpoints, affinity-hit, "
				"sticky-udp or reverse-translated (comma-separated)",
				name);
			break;
		}
		f->verdicts |= 1U << v;
	}
	free(copy);
	if (!err_ret && !f->verdicts)
		err_ret = socklb_fail(e, -EINVAL, "--verdict must name at least one verdict");
	return err_ret;
}

int trace_filter_parse(struct trace_filter *f, const char *pod, const char *service, const char *verdicts,
		       struct socklb_err *e)
{
	int ret;

	memset(f, 0, sizeof(*f));
	if (pod && !*pod)
		return socklb_fail(e, -EINVAL, "--pod must not be empty");
	f->pod = pod;
	if (service) {
		ret = parse_service(f, service, e);
		if (ret)
			return ret;
	}
	return verdicts ? parse_verdicts(f, verdicts, e) : 0;
}

static bool pod_matches(const char *want, const struct trace_pod *pod)
{
	size_t n = strlen(want);
	const char *slash = strchr(pod->attachment, '/');

	if (strcmp(want, pod->uid) == 0 || strcmp(want, pod->attachment) == 0)
		return true;
	/* A container id prefix, as `crictl` and `docker` abbreviate them. */
	return slash && !strchr(want, '/') && n <= (size_t)(slash - pod->attachment) &&
	       strncmp(want, pod->attachment, n) == 0;
}

bool trace_filter_match(const struct trace_filter *f, const struct socklb_trace_event *ev, const struct trace_pod *pod)
{
	if (f->verdicts && !(ev->verdict < 32 && (f->verdicts & (1U << ev->verdict))))
		return false;
	if (f->has_vip && memcmp(f->vip, ev->vip, sizeof(f->vip)) != 0)
		return false;
	if (f->port && ntohs(ev->vip_port) != f->port)
		return false;
	return !f->pod || (pod && pod_matches(f->pod, pod));
}

static void format_time(__u64 wall_ns, char *buf, size_t len, bool utc)
{
	time_t secs = (time_t)(wall_ns / 1000000000ULL);
	unsigned long usec = (unsigned long)(wall_ns % 1000000000ULL / 1000);
	struct tm tm;
	char base[32];

	if (utc) {
		gmtime_r(&secs, &tm);
		strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(buf, len, "%s.%06luZ", base, usec);
	} else {
		localtime_r(&secs, &tm);
		strftime(base, sizeof(base), "%H:%M:%S", &tm);
		snprintf(buf, len, "%s.%06lu", base, usec);
	}
}

static bool has_backend(const struct socklb_trace_event *ev)
{
	return ev->verdict != SOCKLB_VERDICT_REFUSED;
}

/* The event's process as "PID/COMM" (unprintable bytes of the name as '?'), or "-" when unknown. */
static void format_process(const struct socklb_trace_event *ev, char *buf, size_t len)
{
	char comm[SOCKLB_COMM_LEN];
	size_t i;

	if (!ev->pid) {
		snprintf(buf, len, "-");
		return;
	}
	for (i = 0; i < sizeof(comm) - 1 && ev->comm[i]; i++)
		comm[i] = ev->comm[i] > ' ' && ev->comm[i] < 0x7f ? ev->comm[i] : '?';
	comm[i] = '\0';
	snprintf(buf, len, "%u/%s", ev->pid, comm);
}

static const char *verdict_text(__u8 verdict)
{
	const char *name = socklb_verdict_name(verdict);

	return name ? name : "?";
}

void trace_print_header(FILE *out)
{
	fprintf(out, "%-15s %-11s %-5s %-23s %-23s %-20s %-23s %s\n", "TIME", "HOOK", "PROTO", "SERVICE", "BACKEND",
		"VERDICT", "PROCESS", "POD (ATTACHMENT)");
}

void trace_print_text(FILE *out, const struct trace_line *l)
{
	const struct socklb_trace_event *ev = l->ev;
	char when[40], vip[SOCKLB_ENDPOINT_STRLEN], be[SOCKLB_ENDPOINT_STRLEN] = "-", proc[32];

	format_time(l->wall_ns, when, sizeof(when), false);
	socklb_endpoint_format(ev->vip, ntohs(ev->vip_port), vip, sizeof(vip));
	if (has_backend(ev))
		socklb_endpoint_format(ev->backend, ntohs(ev->backend_port), be, sizeof(be));
	format_process(ev, proc, sizeof(proc));
	fprintf(out, "%-15s %-11s %-5s %-23s %-23s %-20s %-23s ", when, socklb_trace_hook_name(ev->hook),
		socklb_proto_name(ev->proto), vip, be, verdict_text(ev->verdict), proc);
	if (l->pod)
		fprintf(out, "%s (%s)\n", l->pod->uid[0] ? l->pod->uid : "-", l->pod->attachment);
	else
		fprintf(out, "- (cgroup %llu)\n", (unsigned long long)ev->cgroup_id);
}

int trace_print_json(FILE *out, const struct trace_line *l)
{
	const struct socklb_trace_event *ev = l->ev;
	char buf[PATH_MAX];
	cJSON *o = cJSON_CreateObject(), *pod;
	char *text;

	if (!o)
		return -ENOMEM;
	format_time(l->wall_ns, buf, sizeof(buf), true);
	cJSON_AddStringToObject(o, "time", buf);
	cJSON_AddStringToObject(o, "hook", socklb_trace_hook_name(ev->hook));
	cJSON_AddStringToObject(o, "protocol", socklb_proto_name(ev->proto));
	socklb_endpoint_format(ev->vip, ntohs(ev->vip_port), buf, sizeof(buf));
	cJSON_AddStringToObject(o, "service", buf);
	if (has_backend(ev)) {
		socklb_endpoint_format(ev->backend, ntohs(ev->backend_port), buf, sizeof(buf));
		cJSON_AddStringToObject(o, "backend", buf);
	} else {
		cJSON_AddNullToObject(o, "backend");
	}
	cJSON_AddStringToObject(o, "verdict", verdict_text(ev->verdict));
	if (ev->pid) {
		cJSON *process = cJSON_AddObjectToObject(o, "process");

		if (process) {
			cJSON_AddNumberToObject(process, "pid", ev->pid);
			snprintf(buf, sizeof(buf), "%.*s", SOCKLB_COMM_LEN, ev->comm);
			cJSON_AddStringToObject(process, "comm", buf);
		}
	} else {
		cJSON_AddNullToObject(o, "process");
	}
	if (l->pod) {
		pod = cJSON_AddObjectToObject(o, "pod");
		if (pod) {
			cJSON_AddStringToObject(pod, "attachment", l->pod->attachment);
			if (l->pod->uid[0])
				cJSON_AddStringToObject(pod, "uid", l->pod->uid);
			cJSON_AddStringToObject(pod, "cgroup", l->pod->cgroup);
		}
	} else {
		cJSON_AddNullToObject(o, "pod");
	}
	cJSON_AddNumberToObject(o, "cgroupId", (double)ev->cgroup_id);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text)
		return -ENOMEM;
	fprintf(out, "%s\n", text);
	free(text);
	return 0;
}
