#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Command-line client of the test API server's control interface.

  apictl.py PORTS_FILE post /replace/services '[...]'   (or @file.json)
  apictl.py PORTS_FILE get /requests
  apictl.py PORTS_FILE wait-watching [RESOURCE...] [--timeout S]
      wait until every RESOURCE (default: all four) has an open watch
  apictl.py PORTS_FILE wait-ports [--timeout S]
      wait until the server wrote its ports file

Prints the JSON answer; exits non-zero on an error answer or a timeout.
"""

import json
import sys
import time
import urllib.error
import urllib.request

RESOURCES = ["services", "endpointslices", "namespaces", "nodes"]


def control_url(ports_file, path):
    with open(ports_file) as f:
        return "http://127.0.0.1:%d%s" % (json.load(f)["control"], path)


def call(ports_file, method, path, body=None):
    data = None if body is None else body.encode()
    req = urllib.request.Request(control_url(ports_file, path), data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit("apictl: %s %s: %s" % (method, path, e.read().decode(errors="replace")))


def option(args, name, default):
    if name in args:
        i = args.index(name)
        value = args[i + 1]
        del args[i:i + 2]
        return value
    return default


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ports_file, op, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    timeout = float(option(args, "--timeout", "10"))
    deadline = time.monotonic() + timeout
    if op == "wait-ports":
        while True:
            try:
                with open(ports_file) as f:
                    print(f.read())
                return
            except (OSError, ValueError):
                if time.monotonic() > deadline:
                    sys.exit("apictl: no ports file %s after %g s" % (ports_file, timeout))
                time.sleep(0.05)
    if op == "wait-watching":
        wanted = args or RESOURCES
        while True:
            counts = call(ports_file, "GET", "/watches")
            if all(counts.get(r, 0) > 0 for r in wanted):
                print(json.dumps(counts))
                return
            if time.monotonic() > deadline:
                sys.exit("apictl: no watch on %s after %g s: %s" % (
                    ", ".join(r for r in wanted if not counts.get(r)), timeout, json.dumps(counts)))
            time.sleep(0.05)
    if op == "get" and len(args) == 1:
        print(json.dumps(call(ports_file, "GET", args[0])))
        return
    if op == "post" and len(args) in (1, 2):
        body = args[1] if len(args) == 2 else "{}"
        if body.startswith("@"):
            with open(body[1:]) as f:
                body = f.read()
        print(json.dumps(call(ports_file, "POST", args[0], body)))
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
