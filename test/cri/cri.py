#!/usr/bin/python3
"""A minimal CRI client: the calls kubelet makes to run a pod, for the tests
that drive a real container runtime (test/cri/containerd.sh). Requests are
JSON in the CRI's protobuf JSON form (as crictl's pod and container configs);
answers are printed as JSON, or as the one id a create call returns.

Usage: cri.py SOCKET COMMAND [ARGS]
  version                          the runtime's name and versions
  runp POD.json                    RunPodSandbox; prints the sandbox id
  inspectp ID                      PodSandboxStatus (verbose: with the runtime's info)
  stopp ID | rmp ID                StopPodSandbox | RemovePodSandbox
  create ID CONTAINER.json POD.json  CreateContainer in sandbox ID; prints the container id
  start CID | rm CID               StartContainer | RemoveContainer
  stop CID [TIMEOUT_S]             StopContainer (default 0: killed at once)
  inspect CID                      ContainerStatus (verbose: with the runtime's info)
  wait CID SECONDS                 until the container has exited; prints its exit code
                                   (exit status 1 when it still runs after SECONDS)
  image NAME                       ImageStatus: exit status 0 when the runtime has it

CRI_TIMEOUT: each call's deadline in seconds (default 60).
The protobuf modules are generated from cri.proto by Debian's grpc_tools into
$CRI_PB_DIR (required) on first use. Run with /usr/bin/python3: Debian's grpcio
is installed for it, not for another python3 that may come first on PATH.
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Each call's deadline; CRI_TIMEOUT (seconds) sets another.
CALL_TIMEOUT_S = float(os.environ.get("CRI_TIMEOUT", "60"))


def load_modules():
    out = os.environ.get("CRI_PB_DIR")
    if not out:
        sys.exit("cri.py: CRI_PB_DIR is not set")
    if not os.path.exists(os.path.join(out, "cri_pb2_grpc.py")):
        from grpc_tools import protoc
        os.makedirs(out, exist_ok=True)
        if protoc.main(["protoc", "-I" + HERE, "--python_out=" + out, "--grpc_python_out=" + out,
                        os.path.join(HERE, "cri.proto")]) != 0:
            sys.exit("cri.py: protoc could not compile cri.proto")
    sys.path.insert(0, out)
    import cri_pb2
    import cri_pb2_grpc
    return cri_pb2, cri_pb2_grpc


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sock, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    import grpc
    from google.protobuf import json_format
    pb, pb_grpc = load_modules()
    channel = grpc.insecure_channel("unix://" + sock)
    rt = pb_grpc.RuntimeServiceStub(channel)
    img = pb_grpc.ImageServiceStub(channel)

    def config(path, message):
        with open(path) as f:
            return json_format.ParseDict(json.load(f), message)

    def show(message):
        print(json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True), indent=1))

    def status(cid, verbose=False):
        return rt.ContainerStatus(pb.ContainerStatusRequest(container_id=cid, verbose=verbose),
                                  timeout=CALL_TIMEOUT_S)

    try:
        if cmd == "version" and not args:
            show(rt.Version(pb.VersionRequest(version="v1"), timeout=CALL_TIMEOUT_S))
        elif cmd == "runp" and len(args) == 1:
            req = pb.RunPodSandboxRequest(config=config(args[0], pb.PodSandboxConfig()))
            print(rt.RunPodSandbox(req, timeout=CALL_TIMEOUT_S).pod_sandbox_id)
        elif cmd == "inspectp" and len(args) == 1:
            show(rt.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=args[0], verbose=True),
                                     timeout=CALL_TIMEOUT_S))
        elif cmd == "stopp" and len(args) == 1:
            rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=args[0]), timeout=CALL_TIMEOUT_S)
        elif cmd == "rmp" and len(args) == 1:
            rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=args[0]), timeout=CALL_TIMEOUT_S)
        elif cmd == "create" and len(args) == 3:
            req = pb.CreateContainerRequest(pod_sandbox_id=args[0], config=config(args[1], pb.ContainerConfig()),
                                            sandbox_config=config(args[2], pb.PodSandboxConfig()))
            print(rt.CreateContainer(req, timeout=CALL_TIMEOUT_S).container_id)
        elif cmd == "start" and len(args) == 1:
            rt.StartContainer(pb.StartContainerRequest(container_id=args[0]), timeout=CALL_TIMEOUT_S)
        elif cmd == "stop" and len(args) in (1, 2):
            timeout = int(args[1]) if len(args) == 2 else 0
            rt.StopContainer(pb.StopContainerRequest(container_id=args[0], timeout=timeout),
                             timeout=CALL_TIMEOUT_S + timeout)
        elif cmd == "rm" and len(args) == 1:
            rt.RemoveContainer(pb.RemoveContainerRequest(container_id=args[0]), timeout=CALL_TIMEOUT_S)
        elif cmd == "inspect" and len(args) == 1:
            show(status(args[0], verbose=True))
        elif cmd == "wait" and len(args) == 2:
            end = time.monotonic() + float(args[1])
            while True:
                st = status(args[0]).status
                if st.state == pb.CONTAINER_EXITED:
                    print(st.exit_code)
                    return 0
                if time.monotonic() > end:
                    print(f"cri.py: container {args[0]} still {pb.ContainerState.Name(st.state)} "
                          f"after {args[1]} s", file=sys.stderr)
                    return 1
                time.sleep(0.05)
        elif cmd == "image" and len(args) == 1:
            found = img.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=args[0])),
                                    timeout=CALL_TIMEOUT_S).image
            if not found.id:
                print(f"cri.py: the runtime has no image {args[0]}", file=sys.stderr)
                return 1
            print(found.id)
        else:
            sys.exit(__doc__)
    except grpc.RpcError as e:
        print(f"cri.py: {cmd} {' '.join(args)}: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
