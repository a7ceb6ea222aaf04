#!/usr/bin/python3
"""Turns the pod template of the DaemonSet in a manifest into the CRI requests
kubelet would make for it on one node: the sandbox config (hostNetwork,
hostPID, cgroup parent of its QoS class) and one container config per init
container and container (command expanded, env from the ConfigMap and the
downward API, hostPath volumes mounted with their readOnly and propagation,
capabilities, readOnlyRootFilesystem, allowPrivilegeEscalation, seccomp), in
the CRI's JSON form for test/cri/cri.py.

Run with /usr/bin/python3: Debian's python3-yaml is installed for it.
Kubelet's own additions are left out: the service account token, /etc/hosts,
/dev/termination-log, probes and resource limits.

Usage: kubelet.py MANIFEST OUTDIR [options]
  --uid UID               the pod's uid
  --node-name NAME        spec.nodeName for the downward API
  --cgroup-parent PATH    the sandbox's cgroup parent (kubelet's pod cgroup)
  --log-dir DIR           the sandbox's log directory
  --host-path HOST=PATH   where this node's HOST path is (repeatable), e.g. /sys/fs/bpf=/sys/fs/bpf/test
  --config KEY=VALUE      a ConfigMap value instead of the manifest's (repeatable)
  --replace OLD=NEW       in every command argument (repeatable)
  --mount HOST:CONTAINER  one more read-only mount in every container (repeatable)
Writes OUTDIR/pod.json and OUTDIR/<container>.json; prints the init containers'
names, then the containers' names, one "init NAME" / "main NAME" line each, and
"left-out NAME CAP" for each capability the container asks for that this
process's bounding set lacks (runc could not give it): it is left out.
"""
import argparse
import json
import os
import re
import sys

import yaml

# Linux capability numbers (linux/capability.h), for the bounding set in /proc/self/status.
CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
                "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
                "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
                "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
                "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
                "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"]
PROPAGATION = {None: "PROPAGATION_PRIVATE", "None": "PROPAGATION_PRIVATE",
               "HostToContainer": "PROPAGATION_HOST_TO_CONTAINER",
               "Bidirectional": "PROPAGATION_BIDIRECTIONAL"}


def pairs(items, sep):
    out = {}
    for item in items or []:
        key, _, value = item.partition(sep)
        out[key] = value
    return out


def kube_expand(s, env):
    """$(NAME) from env when defined, $$ is $, as kubelet expands command and args."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), s)


def container_env(c, configmap, node_name):
    env = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = kube_expand(e["value"], env)
            continue
        src = e.get("valueFrom", {})
        if "configMapKeyRef" in src:
            env[e["name"]] = configmap[src["configMapKeyRef"]["key"]]
        elif src.get("fieldRef", {}).get("fieldPath") == "spec.nodeName":
            env[e["name"]] = node_name
        else:
            sys.exit(f"kubelet.py: {c['name']}: env {e['name']}: source {src} is not supported")
    return env


def bounding_set():
    """The capabilities this process (and so the runtime it starts) can give at all."""
    for line in open("/proc/self/status"):
        if line.startswith("CapBnd:"):
            bits = int(line.split()[1], 16)
            return {name for i, name in enumerate(CAPABILITIES) if bits >> i & 1}
    return set(CAPABILITIES)


def seccomp(ctx):
    kind = (ctx.get("seccompProfile") or {}).get("type")
    # Kubelet without --seccomp-default: no profile is Unconfined.
    return {"profile_type": {"RuntimeDefault": "RuntimeDefault", "Localhost": "Localhost"}.get(kind, "Unconfined")}


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("manifest")
    ap.add_argument("outdir")
    ap.add_argument("--uid", required=True)
    ap.add_argument("--node-name", required=True)
    ap.add_argument("--cgroup-parent", required=True)
    ap.add_argument("--log-dir", required=True)
    ap.add_argument("--host-path", action="append")
    ap.add_argument("--config", action="append")
    ap.add_argument("--replace", action="append")
    ap.add_argument("--mount", action="append")
    a = ap.parse_args()

    docs = [d for d in yaml.safe_load_all(open(a.manifest)) if d]
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    configmap = {}
    for d in docs:
        if d["kind"] == "ConfigMap":
            configmap.update(d.get("data", {}))
    configmap.update(pairs(a.config, "="))
    host_paths = pairs(a.host_path, "=")
    replaces = pairs(a.replace, "=")
    tmpl = ds["spec"]["template"]
    spec = tmpl["spec"]
    node_ns = {"network": "NODE" if spec.get("hostNetwork") else "POD",
               "pid": "NODE" if spec.get("hostPID") else "CONTAINER", "ipc": "POD"}

    sandbox = {
        "metadata": {"name": ds["metadata"]["name"] + "-" + a.uid[:5], "uid": a.uid,
                     "namespace": ds["metadata"]["namespace"], "attempt": 0},
        # The node's own with hostNetwork (its UTS namespace too): kubelet sets none.
        "hostname": "" if spec.get("hostNetwork") else ds["metadata"]["name"],
        "log_directory": a.log_dir,
        "labels": dict(tmpl["metadata"].get("labels", {}), **{
            "io.kubernetes.pod.name": ds["metadata"]["name"] + "-" + a.uid[:5],
            "io.kubernetes.pod.namespace": ds["metadata"]["namespace"], "io.kubernetes.pod.uid": a.uid}),
        "annotations": dict(tmpl["metadata"].get("annotations", {}), **{"kubernetes.io/config.source": "api"}),
        "linux": {"cgroup_parent": a.cgroup_parent,
                  "security_context": {"namespace_options": node_ns, "seccomp": seccomp(spec.get("securityContext", {}))}},
    }
    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "pod.json"), "w") as f:
        json.dump(sandbox, f, indent=1)

    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    bounding = bounding_set()
    for kind, containers in (("init", spec.get("initContainers", [])), ("main", spec.get("containers", []))):
        for c in containers:
            env = container_env(c, configmap, a.node_name)
            command = []
            for arg in c.get("command", []) + c.get("args", []):
                arg = kube_expand(arg, env)
                for old, new in replaces.items():
                    arg = arg.replace(old, new)
                command.append(arg)
            mounts = []
            for m in c.get("volumeMounts", []):
                v = volumes[m["name"]]
                if "hostPath" not in v:
                    sys.exit(f"kubelet.py: volume {m['name']}: only hostPath volumes are supported")
                path = v["hostPath"]["path"]
                mounts.append({"container_path": m["mountPath"], "host_path": host_paths.get(path, path),
                               "readonly": bool(m.get("readOnly")),
                               "propagation": PROPAGATION[m.get("mountPropagation")]})
            for extra in a.mount or []:
                host, _, ctr = extra.partition(":")
                mounts.append({"container_path": ctr, "host_path": host, "readonly": True})
            ctx = c.get("securityContext", {})
            caps = ctx.get("capabilities", {})
            # A runtime cannot give what it does not have (runc fails the start):
            # such capabilities are left out, and said so.
            add = [cap for cap in caps.get("add", []) if cap in bounding]
            for cap in sorted(set(caps.get("add", [])) - set(add)):
                print("left-out", c["name"], cap)
            config = {
                "metadata": {"name": c["name"], "attempt": 0},
                "image": {"image": c["image"]},
                "command": command,
                "envs": [{"key": k, "value": v} for k, v in env.items()],
                "mounts": mounts,
                "labels": {"io.kubernetes.container.name": c["name"]},
                "log_path": f"{c['name']}/0.log",
                "linux": {"security_context": {
                    "capabilities": {"add_capabilities": add,
                                     "drop_capabilities": caps.get("drop", [])},
                    "privileged": bool(ctx.get("privileged")),
                    "namespace_options": node_ns,
                    "readonly_rootfs": bool(ctx.get("readOnlyRootFilesystem")),
                    "no_new_privs": ctx.get("allowPrivilegeEscalation") is False,
                    "seccomp": seccomp(ctx),
                }},
            }
            with open(os.path.join(a.outdir, c["name"] + ".json"), "w") as f:
                json.dump(config, f, indent=1)
            print(kind, c["name"])


if __name__ == "__main__":
    main()
