#!/usr/bin/env python3
"""Writes a one-layer OCI image archive (an OCI image layout in a tar), the
form `ctr images import` reads: the test pods' image, built from static
binaries because no registry is reachable.

Usage: oci_image.py OUT.tar NAME ARCH ENTRYPOINT SRC:DEST [SRC:DEST ...]
  NAME        the image's full name, e.g. localhost/socklb-test/pod:1
  ARCH        GOARCH form: amd64, arm64
  ENTRYPOINT  the absolute path in the image that runs when nothing else is given
  SRC:DEST    a file of this machine and its absolute path in the image (mode kept)
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def tar_bytes(files):
    """A reproducible tar of the given files (and their parent directories)."""
    out = io.BytesIO()
    dirs = set()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for src, dest in files:
            parts = dest.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo("/".join(parts))
            info.size = os.path.getsize(src)
            info.mode = os.stat(src).st_mode & 0o7777
            with open(src, "rb") as f:
                tar.addfile(info, f)
    return out.getvalue()


def main():
    if len(sys.argv) < 6 or any(":" not in a for a in sys.argv[5:]):
        sys.exit(__doc__)
    out, name, arch, entrypoint = sys.argv[1:5]
    files = [a.split(":", 1) for a in sys.argv[5:]]
    blobs = {}

    def blob(data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    layer = tar_bytes(files)
    layer_desc = blob(layer, "application/vnd.oci.image.layer.v1.tar")
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Entrypoint": [entrypoint]},
        "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
    }
    config_desc = blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_desc, "layers": [layer_desc]}
    manifest_desc = blob(json.dumps(manifest).encode(), manifest["mediaType"])
    manifest_desc["annotations"] = {"io.containerd.image.name": name,
                                    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}
    index = {"schemaVersion": 2, "manifests": [manifest_desc]}

    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        def add(path, data):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        add("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        add("index.json", json.dumps(index).encode())
        for digest, data in blobs.items():
            add("blobs/sha256/" + digest.split(":", 1)[1], data)


if __name__ == "__main__":
    main()
