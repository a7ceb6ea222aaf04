// SPDX-License-Identifier: Apache-2.0
/*
 * Invalid objects: what a Service whose objects failed translation may own
 * (frontend_scope), what the desired state remembers about it (every object
 * at fault, new rejections, the possible owner of an unclaimed frontend),
 * the missing Node, and the syncer on real pinned maps (root): a restart on
 * a bad Service keeps the frontends it may own and deletes the others.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "frontend_scope.h"
#include "k8s_object.h"
#include "log.h"
#include "syncer.h"
#include "test_syncd_fixtures.h"

static const struct translate_config node_a = { .node_name = "node-a", .service_proxy_name = "" };

static struct socklb_frontend fe_of(const char *addr, __u16 port, const char *proto)
{
	struct socklb_frontend fe;

	memset(&fe, 0, sizeof(fe));
	assert_int_equal(socklb_addr_parse(addr, fe.addr), 0);
	fe.port = port;
	fe.proto = (__u8)socklb_proto_parse(proto);
	return fe;
}

/* The scope of the Service in json, on node-a (fixtures/k8s/node.json) or on no node. */
static void scope_of(const char *json, bool on_node_a, struct frontend_scope *scope)
{
	const char *const names[] = { "node.json", NULL };
	cJSON *svc = cJSON_Parse(json);
	struct store *s = store_new();
	struct node_view node;

	assert_non_null(svc);
	assert_int_equal(load_fixtures(s, names), 0);
	assert_int_equal(node_view_init(&node, on_node_a ? store_get(s, K8S_NODE, "", "node-a") : NULL), 0);
	assert_int_equal(frontend_scope_build(svc, &node, scope), 0);
	node_view_release(&node);
	store_free(s);
	cJSON_Delete(svc);
}

static bool scope_has(const struct frontend_scope *scope, const char *addr, __u16 port, const char *proto)
{
	struct socklb_frontend fe = fe_of(addr, port, proto);

	return frontend_scope_has(scope, &fe);
}

#define SVC(spec) "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":" spec "}"

/* A bad clusterIP: its ports still say which frontends it may own, on any address. */
static void test_scope_bad_cluster_ip(void **state)
{
	struct frontend_scope sc;

	(void)state;
	scope_of(SVC("{\"clusterIP\":\"10.96.0.999\",\"ports\":[{\"port\":80},{\"port\":53,\"protocol\":\"UDP\"}]}"),
		 true, &sc);
	assert_true(scope_has(&sc, "10.96.10.20", 80, "TCP"));
	assert_true(scope_has(&sc, "fd00::1", 80, "TCP"));
	assert_true(scope_has(&sc, "10.96.10.20", 53, "UDP"));
	assert_false(scope_has(&sc, "10.96.10.20", 80, "UDP"));
	assert_false(scope_has(&sc, "10.96.10.20", 53, "TCP"));
	assert_false(scope_has(&sc, "10.96.10.20", 81, "TCP"));
	frontend_scope_release(&sc);
}

/* One bad port among good ones: the good ones stay exact, the bad one is any port of its protocol. */
static void test_scope_one_bad_port(void **state)
{
	struct frontend_scope sc;

	(void)state;
	scope_of(SVC("{\"clusterIP\":\"10.96.0.20\",\"ports\":[{\"port\":80},{\"port\":70000,\"protocol\":\"UDP\"},"
		     "{\"port\":81,\"protocol\":\"TCP\"}]}"),
		 true, &sc);
	assert_true(scope_has(&sc, "10.96.0.20", 80, "TCP"));
	assert_true(scope_has(&sc, "10.96.0.20", 81, "TCP"));
	assert_true(scope_has(&sc, "10.96.0.20", 4242, "UDP"));
	assert_false(scope_has(&sc, "10.96.0.20", 4242, "TCP"));
	assert_false(scope_has(&sc, "10.96.0.21", 80, "TCP"));
	frontend_scope_release(&sc);
}

/* Valid addresses with another fault: exact, external IPs only of the cluster IPs' families (as translation). */
static void test_scope_exact_addresses(void **state)
{
	struct frontend_scope sc;

	(void)state;
	scope_of(SVC("{\"clusterIP\":\"10.96.0.20\",\"clusterIPs\":[\"10.96.0.20\"],\"sessionAffinity\":\"Sometimes\","
		     "\"externalIPs\":[\"192.0.2.1\",\"fd00::1\"],\"ports\":[{\"port\":80}]}"),
		 true, &sc);
	assert_true(scope_has(&sc, "10.96.0.20", 80, "TCP"));
	assert_true(scope_has(&sc, "192.0.2.1", 80, "TCP"));
	assert_false(scope_has(&sc, "fd00::1", 80, "TCP"));
	assert_false(scope_has(&sc, "10.96.0.21", 80, "TCP"));
	/* Not a NodePort Service: no node port on the node's addresses. */
	assert_false(scope_has(&sc, "192.168.10.11", 80, "TCP"));
	frontend_scope_release(&sc);
}

/* Node ports on the node's addresses of the Service's families; a bad nodePort is any port there. */
static void test_scope_node_ports(void **state)
{
	struct frontend_scope sc;

	(void)state;
	scope_of(SVC("{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.20\",\"ports\":[{\"port\":80,\"nodePort\":\"x\"},"
		     "{\"port\":81,\"nodePort\":30081}]}"),
		 true, &sc);
	assert_true(scope_has(&sc, "10.96.0.20", 80, "TCP"));
	assert_true(scope_has(&sc, "192.168.10.11", 31234, "TCP"));
	assert_true(scope_has(&sc, "203.0.113.11", 30081, "TCP"));
	assert_false(scope_has(&sc, "192.168.10.11", 31234, "UDP"));
	assert_false(scope_has(&sc, "fd00:192:168:10::11", 30081, "TCP"));
	assert_false(scope_has(&sc, "192.168.10.12", 30081, "TCP"));
	frontend_scope_release(&sc);
	/* Without the Node, node ports have no address. */
	scope_of(SVC("{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.20\",\"ports\":[{\"port\":80,\"nodePort\":\"x\"}]"
		     "}"),
		 false, &sc);
	assert_false(scope_has(&sc, "192.168.10.11", 31234, "TCP"));
	assert_true(scope_has(&sc, "10.96.0.20", 80, "TCP"));
	frontend_scope_release(&sc);
}

/* A misspelt type may have been meant as LoadBalancer: its node ports and ingress IPs count. */
static void test_scope_unknown_type(void **state)
{
	struct frontend_scope sc;

	(void)state;
	scope_of("{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":{\"type\":\"LoadBalancr\","
		 "\"clusterIP\":\"10.96.0.20\",\"ports\":[{\"port\":80,\"nodePort\":30080},{\"port\":9,"
		 "\"protocol\":\"SCTP\"}]},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"198.51.100.7\"},"
		 "{\"hostname\":\"lb.example\"}]}}}",
		 true, &sc);
	assert_true(scope_has(&sc, "198.51.100.7", 80, "TCP"));
	assert_true(scope_has(&sc, "192.168.10.11", 30080, "TCP"));
	/* SCTP ports are never translated. */
	assert_false(scope_has(&sc, "10.96.0.20", 9, "TCP"));
	assert_false(scope_has(&sc, "10.96.0.20", 9, "UDP"));
	frontend_scope_release(&sc);
}

/* What cannot be read at all may be anything; what translation would program nothing for owns nothing. */
static void test_scope_unreadable(void **state)
{
	struct frontend_scope sc;

	(void)state;
	scope_of("{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":\"oops\"}", true, &sc);
	assert_true(scope_has(&sc, "10.1.2.3", 4242, "UDP"));
	frontend_scope_release(&sc);
	scope_of(SVC("{\"clusterIP\":\"10.96.0.20\",\"ports\":{\"port\":80}}"), true, &sc);
	assert_true(scope_has(&sc, "10.96.0.20", 4242, "UDP"));
	assert_false(scope_has(&sc, "10.96.0.21", 80, "TCP"));
	frontend_scope_release(&sc);
	scope_of(SVC("{\"clusterIP\":\"10.96.0.20\",\"ports\":[7]}"), true, &sc);
	assert_true(scope_has(&sc, "10.96.0.20", 4242, "UDP"));
	frontend_scope_release(&sc);
	scope_of(SVC("{\"type\":\"Bogus\",\"clusterIP\":\"None\",\"ports\":[{\"port\":80}]}"), true, &sc);
	assert_int_equal(sc.n, 0);
	frontend_scope_release(&sc);
}

/* ---- the desired state --------------------------------------------------------------------- */

static cJSON *web_service(const char *cluster_ip)
{
	cJSON *web = fixture_object("basic.json", K8S_SERVICE, "shop", "web");
	cJSON *spec;

	assert_non_null(web);
	spec = cJSON_GetObjectItemCaseSensitive(web, "spec");
	cJSON_ReplaceItemInObjectCaseSensitive(spec, "clusterIP", cJSON_CreateString(cluster_ip));
	cJSON_ReplaceItemInObjectCaseSensitive(spec, "clusterIPs", cJSON_CreateStringArray(&cluster_ip, 1));
	return web;
}

static void update(struct desired_state *d, struct store *s, struct desired_update *u)
{
	store_lock(s);
	assert_int_equal(desired_state_update(d, s, u), 0);
	store_unlock(s);
}

static int collect_invalid(const char *service, const struct invalid_object *o, void *ctx)
{
	char line[1024], why[INVALID_NAME_LEN + INVALID_WHY_LEN + 32];
	char **text = ctx;
	size_t len = *text ? strlen(*text) : 0;

	invalid_format(o, why, sizeof(why));
	snprintf(line, sizeof(line), "%s <- %s\n", why, service);
	*text = realloc(*text, len + strlen(line) + 1);
	strcpy(*text + len, line);
	return 0;
}

static char *invalid_text(const struct desired_state *d)
{
	char *text = NULL;

	assert_int_equal(desired_state_invalid_foreach(d, collect_invalid, &text), 0);
	return text ? text : strdup("");
}

static const char *owner_of(const struct desired_state *d, const char *addr, __u16 port, const char *proto)
{
	struct socklb_frontend fe = fe_of(addr, port, proto);

	return desired_state_possible_owner(d, &fe, NULL);
}

/* Never valid since we started: its readable fields name what it may own; fixed, it owns its translation. */
static void test_never_valid_service(void **state)
{
	const char *const names[] = { "basic.json", NULL };
	struct store *s = store_new();
	struct desired_state *d = desired_state_new(&node_a);
	struct desired_update u;
	char *text;

	(void)state;
	assert_int_equal(load_fixtures(s, names), 0);
	assert_int_equal(store_upsert(s, K8S_SERVICE, web_service("10.96.10.999")), 0);
	update(d, s, &u);
	assert_int_equal(u.rejected.n, 1);
	desired_update_release(&u);
	text = invalid_text(d);
	assert_string_equal(
		text,
		"invalid Service shop/web: spec.clusterIPs[0] \"10.96.10.999\" is not an IP address <- shop/web\n");
	free(text);
	assert_string_equal(owner_of(d, "10.96.10.20", 80, "TCP"), "shop/web");
	assert_string_equal(owner_of(d, "10.96.99.99", 80, "TCP"), "shop/web");
	assert_null(owner_of(d, "10.96.10.20", 443, "TCP"));
	assert_null(owner_of(d, "10.96.0.10", 53, "UDP"));

	/* Translated again, still wrong the same way: not a new rejection. */
	assert_int_equal(store_delete(s, K8S_ENDPOINTSLICE, "shop", "web-abcde"), 0);
	update(d, s, &u);
	assert_int_equal(u.retranslated, 1);
	assert_int_equal(u.rejected.n, 0);
	desired_update_release(&u);
	/* Wrong another way: a new one. */
	assert_int_equal(store_upsert(s, K8S_SERVICE, web_service("bogus")), 0);
	update(d, s, &u);
	assert_int_equal(u.rejected.n, 1);
	assert_non_null(strstr(u.rejected.items[0].why, "\"bogus\""));
	desired_update_release(&u);

	assert_int_equal(store_upsert(s, K8S_SERVICE, web_service("10.96.10.20")), 0);
	update(d, s, &u);
	desired_update_release(&u);
	assert_null(owner_of(d, "10.96.99.99", 80, "TCP"));
	text = invalid_text(d);
	assert_string_equal(text, "");
	free(text);
	desired_state_free(d);
	store_free(s);
}

/* Valid once, then not: its last good frontends are all it may own, and it still claims them. */
static void test_once_valid_service(void **state)
{
	const char *const names[] = { "basic.json", NULL };
	struct store *s = store_new();
	struct desired_state *d = desired_state_new(&node_a);
	struct socklb_frontend web = fe_of("10.96.10.20", 80, "TCP");
	struct desired_update u;

	(void)state;
	assert_int_equal(load_fixtures(s, names), 0);
	update(d, s, &u);
	desired_update_release(&u);
	assert_int_equal(store_upsert(s, K8S_SERVICE, web_service("10.96.10.999")), 0);
	update(d, s, &u);
	assert_int_equal(u.rejected.n, 1);
	desired_update_release(&u);
	assert_non_null(desired_state_lookup(d, &web, NULL));
	assert_null(owner_of(d, "10.96.99.99", 80, "TCP"));
	desired_state_free(d);
	store_free(s);
}

/* Every bad slice and the Service's own fault are named at once; a valid Service's scope is exact. */
static void test_every_fault_named(void **state)
{
	const char *const names[] = { "basic.json", NULL };
	struct store *s = store_new();
	struct desired_state *d = desired_state_new(&node_a);
	struct desired_update u;
	cJSON *slice, *copy;
	char *text;

	(void)state;
	assert_int_equal(load_fixtures(s, names), 0);
	slice = fixture_object("basic.json", K8S_ENDPOINTSLICE, "shop", "web-abcde");
	cJSON_ReplaceItemInObjectCaseSensitive(slice, "addressType", cJSON_CreateNumber(4));
	copy = cJSON_Duplicate(slice, true);
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(copy, "metadata"), "name",
					       cJSON_CreateString("web-fghij"));
	assert_int_equal(store_upsert(s, K8S_ENDPOINTSLICE, slice), 0);
	assert_int_equal(store_upsert(s, K8S_ENDPOINTSLICE, copy), 0);
	update(d, s, &u);
	assert_int_equal(u.rejected.n, 2);
	desired_update_release(&u);
	text = invalid_text(d);
	assert_non_null(strstr(text, "invalid EndpointSlice shop/web-abcde: addressType is missing <- shop/web\n"));
	assert_non_null(strstr(text, "invalid EndpointSlice shop/web-fghij: addressType is missing <- shop/web\n"));
	free(text);
	assert_string_equal(owner_of(d, "10.96.10.20", 80, "TCP"), "shop/web");
	assert_null(owner_of(d, "10.96.10.20", 81, "TCP"));
	assert_null(owner_of(d, "10.96.10.21", 80, "TCP"));

	/* The Service goes bad too: three objects at fault. */
	copy = fixture_object("basic.json", K8S_SERVICE, "shop", "web");
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(copy, "spec"), "type",
					       cJSON_CreateString("Nodeport"));
	assert_int_equal(store_upsert(s, K8S_SERVICE, copy), 0);
	update(d, s, &u);
	assert_int_equal(u.rejected.n, 1);
	desired_update_release(&u);
	text = invalid_text(d);
	assert_non_null(strstr(text, "invalid Service shop/web: spec.type \"Nodeport\" is unknown <- shop/web\n"));
	assert_non_null(strstr(text, "invalid EndpointSlice shop/web-fghij"));
	free(text);
	desired_state_free(d);
	store_free(s);
}

/* The daemon's Node: missing only once the Nodes were listed without it. */
static void test_node_missing(void **state)
{
	const char *const names[] = { "basic.json", NULL };
	const char *const node[] = { "node.json", NULL };
	struct store *s = store_new();
	struct desired_state *d = desired_state_new(&node_a);
	struct desired_update u;
	cJSON *svc;

	(void)state;
	svc = fixture_object("basic.json", K8S_SERVICE, "shop", "web");
	assert_int_equal(store_upsert(s, K8S_SERVICE, svc), 0);
	update(d, s, &u);
	desired_update_release(&u);
	assert_false(desired_state_node_missing(d));
	assert_int_equal(load_fixtures(s, names), 0);
	update(d, s, &u);
	desired_update_release(&u);
	assert_true(desired_state_node_missing(d));
	assert_int_equal(load_fixtures(s, node), 0);
	update(d, s, &u);
	desired_update_release(&u);
	assert_false(desired_state_node_missing(d));
	desired_state_free(d);
	store_free(s);
}

/* ---- the syncer on real maps ------------------------------------------------------------------ */

struct maps_dir {
	char root[128];
	struct socklb_maps maps;
};

static int maps_setup(void **state)
{
	struct maps_dir *md = calloc(1, sizeof(*md));

	snprintf(md->root, sizeof(md->root), "/sys/fs/bpf/socklb-unit-%d", getpid());
	*state = md;
	return 0;
}

static int maps_teardown(void **state)
{
	struct maps_dir *md = *state;
	DIR *dir = opendir(md->root);
	struct dirent *de;

	while (dir && (de = readdir(dir))) {
		char path[512];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", md->root, de->d_name);
		unlink(path);
	}
	if (dir)
		closedir(dir);
	rmdir(md->root);
	free(md);
	return 0;
}

/* One daemon's life on these maps: adopt, load the fixtures (web with cluster_ip), one pass. */
static void daemon_pass(struct maps_dir *md, const char *cluster_ip, bool with_dns, struct sync_result *r, char *logged,
			size_t logged_len)
{
	const char *const names[] = { "node.json", "basic.json", NULL };
	struct store *s = store_new();
	struct metrics *m = metrics_new();
	struct syncer *sy;
	char *text;
	FILE *log;

	assert_int_equal(socklb_maps_open(md->root, NULL, &md->maps), 0);
	assert_int_equal(load_fixtures(s, names), 0);
	assert_int_equal(store_upsert(s, K8S_SERVICE, web_service(cluster_ip)), 0);
	if (!with_dns)
		assert_int_equal(store_delete(s, K8S_SERVICE, "kube-system", "kube-dns"), 0);
	sy = syncer_new(s, &md->maps, &node_a, m);
	assert_non_null(sy);
	log = tmpfile();
	socklb_log_init("test", SOCKLB_LOG_WARN, log, false);
	assert_int_equal(syncer_adopt(sy), 0);
	assert_int_equal(syncer_sync(sy, r), 0);
	socklb_log_init("test", SOCKLB_LOG_ERROR, NULL, true);
	rewind(log);
	logged[fread(logged, 1, logged_len - 1, log)] = '\0';
	fclose(log);
	assert_int_equal(metrics_render(m, &text, &(size_t){ 0 }), 0);
	strncat(logged, text, logged_len - strlen(logged) - 1);
	free(text);
	syncer_free(sy);
	socklb_maps_close(&md->maps);
	metrics_free(m);
	store_free(s);
}

static bool pinned(struct maps_dir *md, const char *addr, __u16 port, const char *proto)
{
	struct socklb_frontend fe = fe_of(addr, port, proto);
	struct socklb_endpoint *be = NULL;
	struct socklb_svc svc;
	__u32 n;
	int err;

	assert_int_equal(socklb_maps_open_existing(md->root, &md->maps), 0);
	err = socklb_service_get(&md->maps, &fe, &svc, &be, &n);
	free(be);
	socklb_maps_close(&md->maps);
	return err == 0;
}

/*
 * A restart on input where web's clusterIP is wrong and kube-dns is gone:
 * kube-dns's frontends go, web's stays (it may be web's), the pass says why
 * and counts it; web fixed, the normal diff applies.
 */
static void test_restart_keeps_frontends_of_invalid_service(void **state)
{
	struct maps_dir *md = *state;
	struct sync_result r;
	char logged[32768];

	if (geteuid() != 0 || access("/sys/fs/bpf", W_OK) != 0)
		skip();
	daemon_pass(md, "10.96.10.20", true, &r, logged, sizeof(logged));
	assert_int_equal(r.upserts, 4);
	assert_true(pinned(md, "10.96.10.20", 80, "TCP"));

	daemon_pass(md, "10.96.10.999", false, &r, logged, sizeof(logged));
	assert_int_equal(r.deletes, 3);
	assert_int_equal(r.kept, 1);
	assert_int_equal(r.invalid, 1);
	assert_true(pinned(md, "10.96.10.20", 80, "TCP"));
	assert_false(pinned(md, "10.96.0.10", 53, "UDP"));
	assert_non_null(strstr(logged, "keeping 1 pinned frontends that no valid Service claims until these objects "
				       "are fixed or deleted: invalid Service shop/web: spec.clusterIPs[0] "
				       "\"10.96.10.999\" is not an IP address (may own 1)"));
	assert_non_null(strstr(logged, "socklb_invalid_objects{kind=\"Service\"} 1\n"));
	assert_non_null(strstr(logged, "socklb_invalid_objects{kind=\"EndpointSlice\"} 0\n"));
	assert_non_null(strstr(logged, "socklb_sync_errors_total 1\n"));
	assert_non_null(strstr(logged, "socklb_last_error{message=\"invalid Service shop/web: spec.clusterIPs[0] "
				       "\\\"10.96.10.999\\\" is not an IP address\"}"));
	assert_non_null(strstr(logged, "socklb_node_missing 0\n"));

	/* Fixed with another address: the old frontend is deleted, the new one written. */
	daemon_pass(md, "10.96.10.21", false, &r, logged, sizeof(logged));
	assert_int_equal(r.kept, 0);
	assert_int_equal(r.invalid, 0);
	assert_int_equal(r.deletes, 1);
	assert_false(pinned(md, "10.96.10.20", 80, "TCP"));
	assert_true(pinned(md, "10.96.10.21", 80, "TCP"));
	assert_null(strstr(logged, "keeping"));
	assert_non_null(strstr(logged, "socklb_invalid_objects{kind=\"Service\"} 0\n"));
}

/* In one daemon: kept while invalid, deleted in the pass after the Service itself is deleted. */
static void test_kept_until_deleted(void **state)
{
	const char *const names[] = { "node.json", "basic.json", NULL };
	struct maps_dir *md = *state;
	struct store *s = store_new();
	struct sync_result r;
	struct syncer *sy;
	char logged[4096];

	if (geteuid() != 0 || access("/sys/fs/bpf", W_OK) != 0)
		skip();
	daemon_pass(md, "10.96.10.20", true, &r, logged, sizeof(logged));
	assert_int_equal(socklb_maps_open(md->root, NULL, &md->maps), 0);
	assert_int_equal(load_fixtures(s, names), 0);
	assert_int_equal(store_upsert(s, K8S_SERVICE, web_service("10.96.10.999")), 0);
	sy = syncer_new(s, &md->maps, &node_a, NULL);
	assert_int_equal(syncer_adopt(sy), 0);
	assert_int_equal(syncer_sync(sy, &r), 0);
	assert_int_equal(r.kept, 1);
	/* A pass for something else keeps it still. */
	assert_int_equal(store_delete(s, K8S_SERVICE, "kube-system", "kube-dns"), 0);
	assert_int_equal(syncer_sync(sy, &r), 0);
	assert_int_equal(r.deletes, 3);
	assert_int_equal(r.kept, 1);
	assert_int_equal(store_delete(s, K8S_SERVICE, "shop", "web"), 0);
	assert_int_equal(syncer_sync(sy, &r), 0);
	assert_int_equal(r.deletes, 1);
	assert_int_equal(r.kept, 0);
	assert_int_equal(r.invalid, 0);
	syncer_free(sy);
	socklb_maps_close(&md->maps);
	store_free(s);
	assert_false(pinned(md, "10.96.10.20", 80, "TCP"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scope_bad_cluster_ip),
		cmocka_unit_test(test_scope_one_bad_port),
		cmocka_unit_test(test_scope_exact_addresses),
		cmocka_unit_test(test_scope_node_ports),
		cmocka_unit_test(test_scope_unknown_type),
		cmocka_unit_test(test_scope_unreadable),
		cmocka_unit_test(test_never_valid_service),
		cmocka_unit_test(test_once_valid_service),
		cmocka_unit_test(test_every_fault_named),
		cmocka_unit_test(test_node_missing),
		cmocka_unit_test_setup_teardown(test_restart_keeps_frontends_of_invalid_service, maps_setup,
						maps_teardown),
		cmocka_unit_test_setup_teardown(test_kept_until_deleted, maps_setup, maps_teardown),
	};

	socklb_log_init("test", SOCKLB_LOG_ERROR, NULL, true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
