#!/usr/bin/env python3
"""Checks conf/*.yaml and conf/Dockerfile; prints TAP lines ("ok - ..." / "not ok - ...").

- every document parses and is a Kubernetes object; namespaced ones live in kube-system;
- RBAC: exactly get/list/watch on services, namespaces, nodes and endpointslices;
- the DaemonSet: the init container runs `socklb-syncd install-cni`, the main one
  `socklb-syncd --source kubernetes --node-name <downward API>`; hostNetwork; not
  privileged; only the capabilities we explain; mounts of bpffs, the cgroup v2 root,
  the CNI dirs; what Kubernetes' validation would refuse (Bidirectional propagation
  without privileged, allowPrivilegeEscalation=false with CAP_SYS_ADMIN); every
  ConfigMap key it references exists;
- conf/socklb-uninstall.yaml removes the CNI entry, then the pins socklb-syncd uses,
  without any capability;
- every flag the manifests pass to socklb-syncd is in the usage of the built binary
  (`socklb-syncd --help`, `socklb-syncd install-cni --help`, `... uninstall-cni --help`)
  and its parser accepts the command line as the kubelet and the shell build it, when
  the binary is built;
- the Dockerfile: FROM scratch with hack/image.sh's Debian 12 root filesystem, both
  binaries side by side in PATH; conf/image-packages (with what they depend on)
  brings the package of every shared library the built binaries need.

Usage: manifests_check.py [--build DIR]
"""
import argparse
import glob
import os
import re
import shlex
import subprocess
import sys

try:
    import yaml
except ImportError:
    print("not ok - python3-yaml is not installed (hack/install-deps.sh installs it)")
    sys.exit(1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMESPACE = "kube-system"
READ_VERBS = {"list", "watch"}  # the daemon never GETs one object
RBAC_WANT = {("", r, v) for r in ("services", "namespaces", "nodes") for v in READ_VERBS} | {
    ("discovery.k8s.io", "endpointslices", v) for v in READ_VERBS
}
# The capabilities conf/socklb.yaml explains, one by one.
ALLOWED_CAPS = {"BPF", "PERFMON", "SYS_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH", "SYS_RESOURCE", "NET_ADMIN"}
HOST_PATHS = {"/sys/fs/bpf", "/sys/fs/cgroup", "/opt/cni/bin", "/etc/cni/net.d", "/run/socklb"}
# In every Debian root filesystem, mmdebstrap's "essential" variant included (Essential: yes).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "zlib1g"}
FLAG_RE = re.compile(r"(?<![\w$-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])")


class Tap:
    def __init__(self):
        self.failed = 0
        self.passed = 0
        self.skipped = 0

    def check(self, ok, desc, why=""):
        if ok:
            self.passed += 1
            print(f"ok - {desc}")
        else:
            self.failed += 1
            print(f"not ok - {desc}")
            for line in str(why).splitlines():
                print(f"#   {line}")

    def skip(self, desc, why):
        self.skipped += 1
        print(f"ok - {desc} # SKIP {why}")


def load_manifests(t):
    """{relative path: [objects]} for every conf/*.yaml."""
    files = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "conf", "*.yaml"))):
        name = os.path.relpath(path, ROOT)
        try:
            with open(path) as f:
                loaded = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            t.check(False, f"{name} parses as YAML", e)
            continue
        bad = [d for d in loaded if not isinstance(d, dict) or not {"apiVersion", "kind", "metadata"} <= d.keys()
               or not d["metadata"].get("name")]
        t.check(not bad, f"{name} parses: {len(loaded)} Kubernetes objects", f"not objects: {bad}")
        files[name] = loaded
    return files


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(t, docs, kind):
    found = by_kind(docs, kind)
    t.check(len(found) == 1, f"exactly one {kind}", f"found {len(found)}")
    return found[0] if found else None


def check_objects(t, docs):
    t.check(not by_kind(docs, "Namespace"), "no Namespace object (everything goes to kube-system)")
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding"}
    wrong = [f'{d["kind"]}/{d["metadata"]["name"]}' for d in docs
             if d["kind"] not in cluster_scoped and d["metadata"].get("namespace") != NAMESPACE]
    t.check(not wrong, f"namespaced objects are in {NAMESPACE}", wrong)


def check_rbac(t, docs, sa, ds):
    role = one(t, docs, "ClusterRole")
    binding = one(t, docs, "ClusterRoleBinding")
    if not role or not binding or not sa or not ds:
        return
    got, extra = set(), []
    for rule in role.get("rules", []):
        if rule.get("resourceNames") or rule.get("nonResourceURLs"):
            extra.append(rule)
        for g in rule.get("apiGroups", []):
            for r in rule.get("resources", []):
                for v in rule.get("verbs", []):
                    got.add((g, r, v))
    t.check(got == RBAC_WANT and not extra,
            "ClusterRole: exactly get/list/watch on services, namespaces, nodes, endpointslices",
            f"missing: {sorted(RBAC_WANT - got)}\nextra: {sorted(got - RBAC_WANT)} {extra}")
    ref, subjects = binding.get("roleRef", {}), binding.get("subjects", [])
    t.check(ref.get("kind") == "ClusterRole" and ref.get("name") == role["metadata"]["name"]
            and subjects == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": NAMESPACE}],
            "ClusterRoleBinding binds the ClusterRole to the ServiceAccount", binding)
    t.check(ds["spec"]["template"]["spec"].get("serviceAccountName") == sa["metadata"]["name"],
            "the DaemonSet runs as the ServiceAccount")


def command_line(c):
    """The container's command + args as one string, and the socklb-syncd part of it."""
    argv = [str(a) for a in c.get("command", []) + c.get("args", [])]
    text = " ".join(argv)
    at = text.find("socklb-syncd")
    return argv, text[at:] if at >= 0 else ""


def env_sources(c):
    return {e["name"]: e.get("valueFrom", {}) for e in c.get("env", [])}


def caps_of(c):
    return c.get("securityContext", {}).get("capabilities", {})


def check_daemonset(t, ds, cm):
    spec = ds["spec"]["template"]["spec"]
    inits, mains = spec.get("initContainers", []), spec.get("containers", [])
    t.check(spec.get("hostNetwork") is True, "DaemonSet: hostNetwork (the daemon must not depend on a service VIP)")
    t.check(ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items(),
            "DaemonSet: the selector matches the pod labels")

    installers = [c for c in inits if command_line(c)[1].startswith("socklb-syncd install-cni")]
    t.check(len(installers) == 1, "DaemonSet: an init container runs socklb-syncd install-cni")
    daemons = [c for c in mains if command_line(c)[1].startswith("socklb-syncd")]
    t.check(len(daemons) == 1, "DaemonSet: the main container runs socklb-syncd")
    if not installers or not daemons:
        return None, None
    installer, daemon = installers[0], daemons[0]
    line = command_line(daemon)[1]
    t.check(re.search(r"--source[ =]kubernetes\b", line) is not None, "socklb-syncd --source kubernetes", line)
    node = re.search(r'--node-name[ =]"?\$\(?\{?(\w+)', line)
    env = env_sources(daemon)
    t.check(node is not None and env.get(node.group(1), {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
            "--node-name comes from the downward API (spec.nodeName)", line)

    for c in inits + mains:
        sc = c.get("securityContext", {})
        add = set(caps_of(c).get("add", []))
        t.check(not sc.get("privileged"), f"{c['name']}: not privileged")
        t.check("ALL" in caps_of(c).get("drop", []), f"{c['name']}: drops all capabilities, adds back what it needs")
        t.check(add <= ALLOWED_CAPS, f"{c['name']}: adds only explained capabilities {sorted(add)}",
                sorted(add - ALLOWED_CAPS))
        # Kubernetes' validation refuses these combinations.
        t.check(not (sc.get("allowPrivilegeEscalation") is False and (sc.get("privileged") or "SYS_ADMIN" in add)),
                f"{c['name']}: no allowPrivilegeEscalation=false with CAP_SYS_ADMIN")
        for m in c.get("volumeMounts", []):
            if m.get("mountPropagation") == "Bidirectional":
                t.check(sc.get("privileged") is True, f"{c['name']}: Bidirectional propagation needs privileged")
        for name, src in env_sources(c).items():
            ref = src.get("configMapKeyRef")
            if ref:
                t.check(cm is not None and ref.get("name") == cm["metadata"]["name"] and ref.get("key") in cm["data"],
                        f"{c['name']}: env {name} refers to an existing ConfigMap key ({ref.get('key')})")
    t.check(not caps_of(installer).get("add"), "install-cni runs without any capability")
    t.check(set(caps_of(daemon).get("add", [])) >= {"BPF"}, "socklb-syncd has CAP_BPF")

    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    host_paths = {v["hostPath"]["path"] for v in volumes.values() if "hostPath" in v}
    t.check(HOST_PATHS <= host_paths, f"hostPath volumes: {sorted(HOST_PATHS)}", sorted(HOST_PATHS - host_paths))
    for c in inits + mains:
        unknown = [m["name"] for m in c.get("volumeMounts", []) if m["name"] not in volumes]
        t.check(not unknown, f"{c['name']}: mounts only declared volumes", unknown)

    def mount_of(c, host_path):
        for m in c.get("volumeMounts", []):
            v = volumes.get(m["name"], {})
            if v.get("hostPath", {}).get("path") == host_path:
                return m
        return None

    bpffs = mount_of(daemon, "/sys/fs/bpf")
    t.check(bpffs is not None and bpffs.get("mountPropagation") in ("HostToContainer", "Bidirectional"),
            "socklb-syncd mounts the node's bpffs and sees later mounts (propagation)")
    root = re.search(r"--bpffs-root[ =](\S+)", line)
    if bpffs is not None:
        bpffs_root = root.group(1) if root else "/sys/fs/bpf/socklb"
        t.check(bpffs_root.startswith(bpffs["mountPath"].rstrip("/") + "/"),
                f"--bpffs-root {bpffs_root} is inside the bpffs mount {bpffs['mountPath']}")
    t.check(mount_of(daemon, "/sys/fs/cgroup") is not None, "socklb-syncd mounts the node's cgroup v2 root")
    # The plugin writes its attach-failure record on the node (/run/socklb/attach-failures by default).
    record_dir = mount_of(daemon, "/run/socklb")
    record = re.search(r"--attach-failures-file[ =](\S+)", line)
    t.check(record_dir is not None and record is not None
            and record.group(1) == record_dir["mountPath"].rstrip("/") + "/attach-failures",
            "socklb-syncd reads the plugin's attach-failure record through the /run/socklb mount",
            record.group(1) if record else "no --attach-failures-file")
    for c, host_path in ((installer, "/opt/cni/bin"), (installer, "/etc/cni/net.d"), (daemon, "/etc/cni/net.d")):
        m = mount_of(c, host_path)
        t.check(m is not None and not m.get("readOnly"), f"{c['name']}: mounts {host_path} read-write")
    conf_dirs = {re.search(r"--cni-conf-dir[ =](\S+)", command_line(c)[1] or "") for c in (installer, daemon)}
    conf_dirs = {m.group(1) if m else "/etc/cni/net.d" for m in conf_dirs}
    t.check(len(conf_dirs) == 1 and all(mount_of(c, "/etc/cni/net.d") and mount_of(c, "/etc/cni/net.d")["mountPath"]
                                        in conf_dirs for c in (installer, daemon)),
            "install-cni and socklb-syncd use the mounted CNI conf dir", conf_dirs)

    probe = daemon.get("readinessProbe", {}).get("httpGet")
    addr = re.search(r'--metrics-addr[ =]"?\$\{?(\w+)', line)
    key = env.get(addr.group(1), {}).get("configMapKeyRef", {}).get("key") if addr else None
    if probe and key and cm:
        t.check(cm["data"][key].rsplit(":", 1)[-1] == str(probe.get("port")),
                f"the readiness probe's port is the metrics-addr port ({cm['data'][key]})")
    return installer, daemon


def usage_of(binary, *args):
    try:
        p = subprocess.run([binary, *args, "--help"], capture_output=True, text=True, timeout=10)
    except OSError as e:
        return None, str(e)
    return (p.stdout + p.stderr, None) if p.returncode == 0 else (None, p.stdout + p.stderr)


def kube_expand(s, env):
    """Kubernetes' expansion of command and args: $(NAME) from env, $$ is $."""
    return re.sub(r"\$\$|\$\((\w+)\)", lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), s)


def sample_env(c, cm):
    """The container's env as a node would give it: ConfigMap values, a node name."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for name, src in env_sources(c).items():
        ref = src.get("configMapKeyRef")
        env[name] = cm["data"].get(ref["key"], "") if ref and cm else "node-1"
    return env


def check_flags(t, build, cm, runs):
    """runs: (container, subcommand...) pairs; each container's socklb-syncd command line is checked."""
    binary = os.path.join(build, "socklb-syncd")
    if not os.access(binary, os.X_OK):
        t.skip("the manifests' flags are the daemon's", f"{binary} is not built")
        return
    for c, sub in runs:
        if c is None:
            continue
        usage, err = usage_of(binary, *sub)
        what = " ".join(("socklb-syncd",) + sub)
        t.check(usage is not None, f"{what} --help works", err)
        if usage is None:
            continue
        line = command_line(c)[1]
        flags = sorted(set(FLAG_RE.findall(line)))
        missing = [f for f in flags if not re.search(r"(?<![\w-])" + re.escape(f) + r"(?![\w-])", usage)]
        t.check(flags and not missing, f"{c['name']}: {what} knows every flag it is given: {' '.join(flags)}",
                f"not in `{what} --help`: {missing}")
        # The command as the kubelet and the shell turn it into argv, with --help added at the end:
        # the binary's own parser must accept every flag (it stops at the first unknown one, exit 2).
        env = sample_env(c, cm)
        env["PATH"] = build + ":" + env["PATH"]
        argv = [kube_expand(a, env) for a in command_line(c)[0]]
        if argv[:2] == ["/bin/sh", "-c"]:
            argv[2] += " --help"
        else:
            argv.append("--help")
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=10)
        t.check(p.returncode == 0, f"{c['name']}: {what} parses its command line as the DaemonSet gives it",
                p.stdout + p.stderr)


def check_uninstall(t, docs, daemon):
    """conf/socklb-uninstall.yaml: removes what socklb.yaml installed, with no privilege."""
    sets = by_kind(docs, "DaemonSet")
    t.check(len(docs) == 1 and len(sets) == 1, "socklb-uninstall.yaml: one DaemonSet")
    if not sets:
        return None
    spec = sets[0]["spec"]["template"]["spec"]
    inits = spec.get("initContainers", [])
    removers = [c for c in inits if command_line(c)[1].startswith("socklb-syncd uninstall-cni")]
    t.check(len(removers) == 1, "socklb-uninstall.yaml: an init container runs socklb-syncd uninstall-cni")
    for c in inits + spec.get("containers", []):
        sc = c.get("securityContext", {})
        t.check(not sc.get("privileged") and not caps_of(c).get("add") and "ALL" in caps_of(c).get("drop", []),
                f"socklb-uninstall.yaml: {c['name']} runs without any capability")
    unpin = [c for c in inits if command_line(c)[0][:2] == ["rm", "-rf"]]
    root = re.search(r"--bpffs-root[ =](\S+)", command_line(daemon)[1]) if daemon else None
    t.check(len(unpin) == 1 and root is not None and command_line(unpin[0])[0][2:] == [root.group(1)],
            "socklb-uninstall.yaml: unpins the --bpffs-root socklb-syncd uses",
            [command_line(c)[0] for c in unpin])
    t.check(inits.index(removers[0]) < inits.index(unpin[0]) if removers and unpin else False,
            "socklb-uninstall.yaml: the CNI entry goes before the pins (no new pod links meanwhile)")
    return removers[0] if removers else None


def dockerfile_stages(text):
    stages, cur = [], None
    for raw in re.sub(r"\\\n", " ", text).splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            cur = {"from": rest.split()[0], "lines": []}
            stages.append(cur)
        elif cur is not None:
            cur["lines"].append((word.upper(), rest))
    return stages


def needed_packages(binaries):
    """Debian packages of the shared libraries the binaries link to (DT_NEEDED)."""
    libs = set()
    for b in binaries:
        out = subprocess.run(["readelf", "-d", b], capture_output=True, text=True).stdout
        libs |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    pkgs = {}
    for lib in sorted(libs):
        m = re.search(r"^\s*" + re.escape(lib) + r" \(.*\) => (\S+)$", cache, re.M)
        pkg = None
        if m:
            path = os.path.realpath(m.group(1))
            for candidate in (path, re.sub(r"^/usr/lib/", "/lib/", path)):
                p = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
                if p.returncode == 0:
                    pkg = p.stdout.split(":")[0]
                    break
        pkgs[lib] = pkg
    return pkgs


def package_closure(names):
    """The packages and everything they depend on, as installed on this host (Debian 12, like the image)."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        p = subprocess.run(["dpkg-query", "-W", "-f", "${Depends},${Pre-Depends}", name],
                           capture_output=True, text=True)
        for alt in p.stdout.split(","):
            dep = alt.split("|")[0].split("(")[0].split(":")[0].strip()
            if dep:
                todo.append(dep)
    return seen


def check_dockerfile(t, build):
    path = os.path.join(ROOT, "conf", "Dockerfile")
    if not os.path.exists(path):
        t.check(False, "conf/Dockerfile exists")
        return
    stages = dockerfile_stages(open(path).read())
    t.check(len(stages) == 1 and stages[0]["from"] == "scratch",
            "Dockerfile: one stage, FROM scratch (the root filesystem is hack/image.sh's)",
            [s["from"] for s in stages])
    if not stages:
        return
    lines = stages[0]["lines"]
    t.check(("ADD", "rootfs.tar /") in lines, "Dockerfile: ADD rootfs.tar / (Debian 12 from conf/image-packages)")
    copies = [r.split() for w, r in lines if w == "COPY"]
    t.check(any(c[:-1] == ["socklb", "socklb-syncd"] for c in copies),
            "Dockerfile: the image gets socklb and socklb-syncd", copies)
    dest = copies[-1][-1] if copies else ""
    # install-cni's default plugin is the socklb next to socklb-syncd; the manifests call socklb-syncd by name.
    t.check(dest.rstrip("/") in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin"),
            f"Dockerfile: both binaries in one PATH directory ({dest})")
    image = open(os.path.join(ROOT, "conf", "image-packages")).read()
    listed = {w for line in image.splitlines() for w in line.split("#")[0].split()}
    binaries = [os.path.join(build, b) for b in ("socklb", "socklb-syncd")]
    if not all(os.path.exists(b) for b in binaries):
        t.skip("conf/image-packages: the image has every library the binaries need", "binaries not built")
        return
    pkgs = needed_packages(binaries)
    installed = package_closure(listed | BASE_IMAGE_PACKAGES)
    missing = {lib: p for lib, p in pkgs.items() if p is None or p not in installed}
    t.check(not missing, "conf/image-packages brings " + ", ".join(sorted(
        {p for p in pkgs.values() if p})) + " (the binaries' libraries) into the image",
        f"missing: {missing}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("BUILD", os.path.join(ROOT, "build")))
    args = ap.parse_args()
    build = args.build if os.path.isabs(args.build) else os.path.join(ROOT, args.build)
    t = Tap()
    files = load_manifests(t)
    check_objects(t, [d for docs in files.values() for d in docs])
    docs = files.get("conf/socklb.yaml", [])
    sa = one(t, docs, "ServiceAccount")
    cm = one(t, docs, "ConfigMap")
    ds = one(t, docs, "DaemonSet")
    check_rbac(t, docs, sa, ds)
    installer = daemon = None
    if ds:
        installer, daemon = check_daemonset(t, ds, cm)
    remover = check_uninstall(t, files.get("conf/socklb-uninstall.yaml", []), daemon)
    check_flags(t, build, cm, ((daemon, ()), (installer, ("install-cni",)), (remover, ("uninstall-cni",))))
    check_dockerfile(t, build)
    print(f"# manifests_check: {t.passed} passed, {t.failed} failed, {t.skipped} skipped")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
