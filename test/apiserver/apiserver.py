#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small Kubernetes API server for socklb's tests (no real kube-apiserver
can be installed here). Serves, over HTTPS on 127.0.0.1, the four collections
socklb-syncd watches with the API's list+watch semantics: resourceVersions,
paginated LISTs (limit/continue), WATCH from a resourceVersion with bookmarks,
label and field selectors, bearer-token (with expiry) and client-certificate auth.

A plain-HTTP control interface on another 127.0.0.1 port lets a test change
the objects and misbehave on purpose: split events across chunks, send
bookmarks, in-stream ERROR 410, HTTP 410 after a compaction, drop or stall
watch connections, rotate the token, cap list pages, expire continue tokens.
See CONTROL below; test/apiserver/apictl.py is its command-line client.

  apiserver.py --cert C --key K --token-file T --ports-file F [--client-ca CA]

Stdlib only. Writes {"api": PORT, "control": PORT} to --ports-file when ready.
"""

import argparse
import base64
import copy
import json
import os
import select
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# collection path → (resource, kind, apiVersion, namespaced)
COLLECTIONS = {
    "/api/v1/services": ("services", "Service", "v1", True),
    "/apis/discovery.k8s.io/v1/endpointslices": ("endpointslices", "EndpointSlice", "discovery.k8s.io/v1", True),
    "/api/v1/namespaces": ("namespaces", "Namespace", "v1", False),
    "/api/v1/nodes": ("nodes", "Node", "v1", False),
}
RESOURCES = {v[0]: (path,) + v[1:] for path, v in COLLECTIONS.items()}

WATCH_POLL_S = 0.1


def status_object(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def object_key(obj):
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def parse_label_selector(text):
    """'!a,b=c,d!=e,f' → list of (op, key, value)."""
    reqs = []
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        if part.startswith("!"):
            reqs.append(("absent", part[1:], None))
        elif "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append(("ne", k, v))
        elif "==" in part:
            k, v = part.split("==", 1)
            reqs.append(("eq", k, v))
        elif "=" in part:
            k, v = part.split("=", 1)
            reqs.append(("eq", k, v))
        else:
            reqs.append(("present", part, None))
    return reqs


def parse_field_selector(text):
    reqs = []
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        k, sep, v = part.partition("=")
        if not sep or k not in ("metadata.name", "metadata.namespace"):
            raise ValueError("unsupported field selector %r" % part)
        reqs.append((k.split(".")[1], v.lstrip("=")))
    return reqs


def selector_matches(obj, labels_req, fields_req):
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    for op, k, v in labels_req:
        if op == "absent" and k in labels:
            return False
        if op == "present" and k not in labels:
            return False
        if op == "eq" and labels.get(k) != v:
            return False
        if op == "ne" and labels.get(k) == v:
            return False
    for field, v in fields_req:
        if (meta.get(field) or "") != v:
            return False
    return True


class Watch:
    """One open WATCH request; control operations leave directives for it."""

    def __init__(self, resource, rv, labels_req, fields_req):
        self.resource = resource
        self.rv = rv
        self.labels_req = labels_req
        self.fields_req = fields_req
        self.directives = []
        self.stalled = False


class Cluster:
    def __init__(self, token):
        self.cond = threading.Condition()
        self.rv = 1
        self.objects = {r: {} for r in RESOURCES}
        self.events = []  # (rv, resource, type, object)
        self.compacted_rv = 0  # watches from an older resourceVersion get 410
        self.gone_mode = "stream"  # how a too-old watch is refused: "stream" ERROR event or "http" 410
        self.tokens = {token: None}  # accepted bearer token → when it stops being accepted (None: never)
        self.watches = set()
        self.split = 0  # 0: each batch of events in one chunk; N: pieces of N bytes regardless of lines
        self.page_cap = 0  # 0: honour limit; N: at most N items per page
        self.snapshots = {}  # continue-token id → (rv, [objects])
        self.next_snapshot = 1
        self.fail_continue_after = -1  # continue requests to serve before one 410, -1 = never
        self.requests = []  # what clients asked, for the tests to check

    # -- changes (callers hold self.cond) --------------------------------------

    def _record(self, resource, etype, obj, silent):
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        key = object_key(obj)
        if etype == "DELETED":
            self.objects[resource].pop(key, None)
        else:
            self.objects[resource][key] = obj
        if not silent:
            self.events.append((self.rv, resource, etype, obj))
        self.cond.notify_all()

    def apply(self, resource, objs, silent=False):
        for obj in objs:
            key = object_key(obj)
            if not key[1]:
                raise ValueError("object without metadata.name")
            old = self.objects[resource].get(key)
            if old is not None and strip_rv(old) == strip_rv(obj):
                continue
            self._record(resource, "MODIFIED" if old is not None else "ADDED", obj, silent)

    def delete(self, resource, namespace, name, silent=False):
        old = self.objects[resource].get((namespace or "", name))
        if old is not None:
            self._record(resource, "DELETED", old, silent)

    def replace(self, resource, objs, silent=False):
        keep = {object_key(o) for o in objs}
        for key in [k for k in self.objects[resource] if k not in keep]:
            self.delete(resource, key[0], key[1], silent)
        self.apply(resource, objs, silent)

    def compact(self, mode):
        """Forget every event so far: a watch from any resourceVersion issued until now gets 410."""
        self.rv += 1
        self.compacted_rv = self.rv
        self.gone_mode = mode
        self.events = [e for e in self.events if e[0] >= self.compacted_rv]

    def direct(self, resource, directive):
        n = 0
        for w in self.watches:
            if resource in (None, w.resource):
                w.directives.append(directive)
                n += 1
        self.cond.notify_all()
        return n


def strip_rv(obj):
    o = copy.deepcopy(obj)
    o.get("metadata", {}).pop("resourceVersion", None)
    return o


def encode_continue(snapshot_id, start):
    return base64.urlsafe_b64encode(json.dumps({"s": snapshot_id, "i": start}).encode()).decode()


def decode_continue(token):
    d = json.loads(base64.urlsafe_b64decode(token.encode()))
    return d["s"], d["i"]


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "socklb-test-apiserver"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("apiserver: %s\n" % (fmt % args))

    def setup(self):
        super().setup()
        self.request.settimeout(30)
        self.request.do_handshake()
        self.request.settimeout(None)

    # -- responses --------------------------------------------------------------

    def send_json(self, code, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_status(self, code, reason, message):
        self.send_json(code, status_object(code, reason, message))

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")

    def abort_connection(self):
        """Kill the connection mid-body: no final chunk, no TLS close_notify, a TCP reset."""
        self.close_connection = True
        try:
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- authentication -----------------------------------------------------------

    def authenticate(self):
        auth = self.headers.get("Authorization", "")
        cluster = self.server.cluster
        if auth.startswith("Bearer "):
            with cluster.cond:
                expires = cluster.tokens.get(auth[7:], 0)
            if expires is None or expires > time.time():
                return "token"
            return None
        if self.request.getpeercert():
            return "certificate"
        return None

    # -- requests ---------------------------------------------------------------

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        entry = {"path": url.path, "query": query, "time": time.time(), "host": self.headers.get("Host"),
                 "sni": getattr(self.request, "sni", None)}
        cluster = self.server.cluster
        with cluster.cond:
            cluster.requests.append(entry)
        who = self.authenticate()
        entry["auth"] = who or "refused"
        if who is None:
            entry["status"] = 401
            self.send_status(401, "Unauthorized", "Unauthorized")
            return
        if url.path not in COLLECTIONS:
            entry["status"] = 404
            self.send_status(404, "NotFound", "the server could not find the requested resource")
            return
        resource = COLLECTIONS[url.path][0]
        try:
            labels_req = parse_label_selector(query.get("labelSelector"))
            fields_req = parse_field_selector(query.get("fieldSelector"))
        except ValueError as e:
            entry["status"] = 400
            self.send_status(400, "BadRequest", str(e))
            return
        if query.get("watch") in ("1", "true"):
            self.serve_watch(entry, resource, query, labels_req, fields_req)
        else:
            self.serve_list(entry, resource, query, labels_req, fields_req)

    def serve_list(self, entry, resource, query, labels_req, fields_req):
        cluster = self.server.cluster
        path, kind, api_version, _ = RESOURCES[resource]
        limit = int(query.get("limit") or 0)
        with cluster.cond:
            token = query.get("continue")
            if token:
                if cluster.fail_continue_after == 0:
                    cluster.fail_continue_after = -1
                    entry["status"] = 410
                    self.send_status(410, "Expired", "The provided continue parameter is too old to display a "
                                     "consistent list result. You can start a new list without the continue "
                                     "parameter.")
                    return
                if cluster.fail_continue_after > 0:
                    cluster.fail_continue_after -= 1
                try:
                    snapshot_id, start = decode_continue(token)
                    list_rv, items = cluster.snapshots[snapshot_id]
                except (ValueError, KeyError):
                    entry["status"] = 400
                    self.send_status(400, "BadRequest", "invalid continue token")
                    return
            else:
                snapshot_id = cluster.next_snapshot
                cluster.next_snapshot += 1
                list_rv = cluster.rv
                items = [o for _, o in sorted(cluster.objects[resource].items())
                         if selector_matches(o, labels_req, fields_req)]
                cluster.snapshots[snapshot_id] = (list_rv, items)
                start = 0
            size = len(items) - start
            if limit:
                size = min(size, limit)
            if cluster.page_cap:
                size = min(size, cluster.page_cap)
            page = []
            for o in items[start:start + size]:
                o = copy.deepcopy(o)
                o.pop("kind", None)
                o.pop("apiVersion", None)
                page.append(o)
        meta = {"resourceVersion": str(list_rv)}
        if start + size < len(items):
            meta["continue"] = encode_continue(snapshot_id, start + size)
            meta["remainingItemCount"] = len(items) - start - size
        entry["status"] = 200
        entry["items"] = len(page)
        self.send_json(200, {"kind": kind + "List", "apiVersion": api_version, "metadata": meta, "items": page})

    def event_line(self, etype, obj, resource):
        _, kind, api_version, _ = RESOURCES[resource]
        obj = copy.deepcopy(obj)
        obj["kind"] = kind
        obj["apiVersion"] = api_version
        return (json.dumps({"type": etype, "object": obj}) + "\n").encode()

    def bookmark_line(self, resource, rv):
        _, kind, api_version, _ = RESOURCES[resource]
        return (json.dumps({"type": "BOOKMARK", "object": {
            "kind": kind, "apiVersion": api_version,
            "metadata": {"resourceVersion": str(rv)}}}) + "\n").encode()

    def send_events(self, data):
        cluster = self.server.cluster
        split = cluster.split
        if not split:
            self.write_chunk(data)
            return
        for i in range(0, len(data), split):
            self.write_chunk(data[i:i + split])
            self.wfile.flush()
            time.sleep(0.001)

    def client_gone(self):
        try:
            readable, _, _ = select.select([self.request], [], [], 0)
            return bool(readable) and self.request.recv(1) == b""
        except (OSError, ValueError):
            return True

    def serve_watch(self, entry, resource, query, labels_req, fields_req):
        cluster = self.server.cluster
        timeout = float(query.get("timeoutSeconds") or 1800)
        rv_text = query.get("resourceVersion") or "0"
        try:
            rv = int(rv_text)
        except ValueError:
            entry["status"] = 400
            self.send_status(400, "BadRequest", "invalid resourceVersion %r" % rv_text)
            return
        initial = b""
        with cluster.cond:
            too_old = rv != 0 and rv < cluster.compacted_rv
            if too_old and cluster.gone_mode == "http":
                entry["status"] = 410
                self.send_status(410, "Expired", "too old resource version: %d (%d)" % (rv, cluster.compacted_rv))
                return
            if rv == 0:
                # "any": the current state as ADDED events, then changes
                for o in sorted(cluster.objects[resource].values(), key=object_key):
                    if selector_matches(o, labels_req, fields_req):
                        initial += self.event_line("ADDED", o, resource)
                rv = cluster.rv
            w = Watch(resource, rv, labels_req, fields_req)
            if not too_old:
                cluster.watches.add(w)
        entry["status"] = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if too_old:
            status = status_object(410, "Expired", "too old resource version: %d (%d)" % (rv, cluster.compacted_rv))
            self.write_chunk((json.dumps({"type": "ERROR", "object": status}) + "\n").encode())
            self.end_chunks()
            return
        try:
            if initial:
                self.send_events(initial)
            self.watch_loop(w, time.monotonic() + timeout)
        except (OSError, ValueError):
            self.close_connection = True
        finally:
            with cluster.cond:
                cluster.watches.discard(w)

    def watch_loop(self, w, deadline):
        cluster = self.server.cluster
        while True:
            with cluster.cond:
                cluster.cond.wait(WATCH_POLL_S)
                directives, w.directives = w.directives, []
                batch = []
                if not w.stalled:
                    for rv, resource, etype, obj in cluster.events:
                        if rv > w.rv and resource == w.resource:
                            if selector_matches(obj, w.labels_req, w.fields_req):
                                batch.append(self.event_line(etype, obj, resource))
                            w.rv = rv
                current_rv = cluster.rv
            if batch:
                self.send_events(b"".join(batch))
            for d in directives:
                op = d["op"]
                if op == "stall":
                    w.stalled = True
                elif w.stalled:
                    continue
                elif op == "bookmark":
                    w.rv = max(w.rv, current_rv)
                    self.send_events(self.bookmark_line(w.resource, w.rv))
                elif op == "error":
                    status = status_object(d["code"], d.get("reason", "Expired"), d.get("message", "injected"))
                    self.send_events((json.dumps({"type": "ERROR", "object": status}) + "\n").encode())
                    self.end_chunks()
                    return
                elif op == "drop":
                    if d.get("partial"):
                        # half an event, then the connection dies
                        line = self.bookmark_line(w.resource, current_rv)
                        self.write_chunk(line[:len(line) // 2])
                        self.wfile.flush()
                        time.sleep(0.05)
                    self.abort_connection()
                    return
            if self.client_gone():
                # a watch the client gave up on is not open any more (GET /watches)
                self.close_connection = True
                return
            if w.stalled:
                # a hung connection: nothing, ever, until the client gives up
                continue
            if time.monotonic() >= deadline:
                self.end_chunks()
                return


CONTROL = """
Control interface (plain HTTP, JSON bodies), resource = services|endpointslices|namespaces|nodes:
  POST /replace/RESOURCE   [objects]                 the whole set (events for the difference)
  POST /apply/RESOURCE     [objects]                 add or modify
  POST /delete/RESOURCE    {"namespace","name"}      delete one
     ?silent=1 on the three above: change without watch events (as if compacted away)
  POST /compact            {"mode": "stream"|"http"} every resourceVersion so far becomes too old (410)
  POST /bookmark           {"resource"?}             a BOOKMARK on open watches
  POST /watch-error        {"code", "resource"?}     an in-stream ERROR event, then the watch ends
  POST /drop               {"partial"?, "resource"?} kill open watch connections (after half an event)
  POST /stall              {"resource"?}             open watches send nothing any more, connection kept
  POST /token              {"token"}                 the only bearer token accepted from now on
  POST /tokens/add         {"token", "expires"?}     accept this token too, until the epoch time expires
  POST /split              {"size"}                  watch bytes in chunks of size bytes (0 = per batch)
  POST /page-cap           {"size"}                  at most size items per LIST page (0 = limit)
  POST /fail-continue      {"after"}                 the continue request after `after` more gets 410, once
  GET  /watches            open watches per resource
  GET  /requests           every API request so far; POST /requests/clear
  GET  /state              resourceVersion and objects
"""


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("apiserver control: %s\n" % (fmt % args))

    def reply(self, code, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        cluster = self.server.cluster
        with cluster.cond:
            if self.path == "/watches":
                counts = {r: 0 for r in RESOURCES}
                for w in cluster.watches:
                    counts[w.resource] += 1
                return self.reply(200, counts)
            if self.path == "/requests":
                return self.reply(200, cluster.requests)
            if self.path == "/state":
                return self.reply(200, {"resourceVersion": cluster.rv, "objects": {
                    r: list(objs.values()) for r, objs in cluster.objects.items()}})
        self.reply(404, {"error": "unknown path", "help": CONTROL})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        silent = urllib.parse.parse_qs(url.query).get("silent", ["0"])[-1] == "1"
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            result = self.operate(url.path.strip("/").split("/"), body, silent)
        except (ValueError, KeyError, TypeError) as e:
            return self.reply(400, {"error": str(e), "help": CONTROL})
        self.reply(200, result)

    def operate(self, parts, body, silent):
        cluster = self.server.cluster
        op = parts[0]
        with cluster.cond:
            if op in ("replace", "apply", "delete"):
                if len(parts) != 2 or parts[1] not in RESOURCES:
                    raise ValueError("%s needs a resource: one of %s" % (op, ", ".join(RESOURCES)))
                if op == "delete":
                    cluster.delete(parts[1], body.get("namespace"), body["name"], silent)
                else:
                    objs = body if isinstance(body, list) else [body]
                    getattr(cluster, op)(parts[1], objs, silent)
                return {"resourceVersion": cluster.rv}
            if op == "compact":
                mode = body.get("mode", "stream")
                if mode not in ("stream", "http"):
                    raise ValueError("mode must be stream or http")
                cluster.compact(mode)
                return {"resourceVersion": cluster.rv}
            if op == "bookmark":
                return {"watches": cluster.direct(body.get("resource"), {"op": "bookmark"})}
            if op == "watch-error":
                return {"watches": cluster.direct(body.get("resource"), {"op": "error", "code": int(body["code"]),
                                                                          "message": body.get("message",
                                                                                              "injected")})}
            if op == "drop":
                return {"watches": cluster.direct(body.get("resource"), {"op": "drop",
                                                                         "partial": bool(body.get("partial"))})}
            if op == "stall":
                return {"watches": cluster.direct(body.get("resource"), {"op": "stall"})}
            if op == "token":
                cluster.tokens = {body["token"]: None}
                return {}
            if op == "tokens" and parts[1:] == ["add"]:
                cluster.tokens[body["token"]] = float(body["expires"]) if body.get("expires") else None
                return {}
            if op == "split":
                cluster.split = int(body["size"])
                return {}
            if op == "page-cap":
                cluster.page_cap = int(body["size"])
                return {}
            if op == "fail-continue":
                cluster.fail_continue_after = int(body["after"])
                return {}
            if op == "requests" and parts[1:] == ["clear"]:
                cluster.requests.clear()
                return {}
        raise ValueError("unknown operation /%s" % "/".join(parts))


class TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, handler, context):
        self.context = context
        super().__init__(addr, handler)

    def get_request(self):
        # the handshake happens in the handler's thread: a slow client cannot block accept()
        sock, addr = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


class ControlServer(ThreadingHTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=CONTROL)
    ap.add_argument("--cert", required=True, help="server certificate (PEM)")
    ap.add_argument("--key", required=True, help="its key (PEM)")
    ap.add_argument("--client-ca", help="accept client certificates signed by this CA")
    ap.add_argument("--token-file", required=True, help="file holding the initial accepted bearer token")
    ap.add_argument("--ports-file", required=True, help='written as {"api": P, "control": P} once listening')
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    with open(args.token_file) as f:
        cluster = Cluster(f.read().strip())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    # the name the client asked for in its TLS hello, kept on the socket for /requests
    context.sni_callback = lambda sock, name, ctx: setattr(sock, "sni", name)
    if args.client_ca:
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(args.client_ca)

    api = TlsServer(("127.0.0.1", 0), ApiHandler, context)
    control = ControlServer(("127.0.0.1", 0), ControlHandler)
    for server in (api, control):
        server.cluster = cluster
        server.verbose = args.verbose
        threading.Thread(target=server.serve_forever, daemon=True).start()

    tmp = args.ports_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"api": api.server_address[1], "control": control.server_address[1]}, f)
    os.rename(tmp, args.ports_file)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(1):
        pass


if __name__ == "__main__":
    main()
