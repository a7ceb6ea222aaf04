#!/usr/bin/env bash
# The real-kernel tests on several kernels: the host's, natively, and Debian
# kernels booted in qemu with the host's userland. Ends with one line per
# kernel, "NAME: N passed, N failed, N skipped", then the totals.
#
#   hack/test-kernels.sh [KERNEL...]     (root; after make tests-build)
#
# KERNEL: host (the running kernel, natively), debian12 (the current
# linux-image-amd64 of Debian 12, from this machine's apt sources), debian13
# (the same from Debian 13, through a temporary apt source derived from this
# machine's). Default: host debian12 debian13. A Debian kernel that cannot be
# fetched (and is not cached) is reported as skipped, not as a pass.
#
# Env: KERNEL_TESTS  test names for test/run.sh, each one a filter
#                    (default: syncd_status.sh test_lb datapath.sh plugin_cni.sh
#                    terminate.sh terminate_daemon.sh syncd_file.sh trace.sh)
#      SOCKLB_KERNEL_CACHE  where kernels are kept (default /var/cache/socklb-kernels)
#      VM_ACCEL      auto (KVM when it boots the kernel, else TCG), kvm, tcg
#      VM_CPUS VM_MEM_MB VM_TIMEOUT (whole VM run, s)   default 2, 2048, 2700
#
# A VM: the kernel from the package, a tiny initramfs (hack/kernels/init.c,
# static, plus the virtio/9p/overlay modules) that mounts the host's / shared
# read-only over 9p with a tmpfs overlay on top, and runs this script with
# --guest inside, which runs the tests and writes their log to a second,
# writable 9p share; then the VM powers off. The package is only unpacked
# (dpkg -x) into the cache: nothing is installed. qemu is killed on every exit
# path and after VM_TIMEOUT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
KERNEL_TESTS=${KERNEL_TESTS:-syncd_status.sh test_lb datapath.sh plugin_cni.sh terminate.sh terminate_daemon.sh syncd_file.sh trace.sh}
CACHE=${SOCKLB_KERNEL_CACHE:-/var/cache/socklb-kernels}
VM_ACCEL=${VM_ACCEL:-auto}
VM_CPUS=${VM_CPUS:-2}
VM_MEM_MB=${VM_MEM_MB:-2048}
VM_TIMEOUT=${VM_TIMEOUT:-2700}
# Modules the initramfs loads to mount its root; everything else is loaded on
# demand by modprobe from the package's modules, bound into the VM.
BOOT_MODULES=(virtio_pci 9pnet_virtio 9p overlay)

log() { printf '# test-kernels: %s\n' "$*" >&2; }

# run_tests OUT: what socklb-syncd status says of this kernel (the README's
# kernel table is read from it), then each of KERNEL_TESTS through
# test/run.sh (its counting), writing "PASSED FAILED SKIPPED" to OUT.
run_tests() {
	local out=$1 t line p f s tp=0 tf=0 ts=0 log
	log=$(mktemp)
	"$BUILD/socklb-syncd" status 2>&1 | sed 's/^/# status: /' || true
	for t in $KERNEL_TESTS; do
		BUILD=$BUILD bash "$ROOT/test/run.sh" "$t" 2>&1 | tee "$log" || true
		line=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
		if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
			p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[4]:-0}
		else
			echo "not ok - test/run.sh $t ended without its summary line"
			p=0 f=1 s=0
		fi
		[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ] && {
			echo "not ok - no test matches $t"
			f=1
		}
		tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
	done
	rm -f "$log"
	echo "$tp $tf $ts" >"$out"
}

# ---------------------------------------------------------------- in the VM
# Runs as the VM's command (init's socklb_run=): the kernel command line
# passes socklb_* settings as environment variables.
guest() {
	local kver out=/run/socklb-out
	# A fresh /run (network namespaces, locks); /tmp stays the overlay's, as
	# the repository may be a clone under the host's /tmp.
	mount -t tmpfs -o mode=0755 tmpfs /run
	# What udev would add to devtmpfs: bash's <(...) needs /dev/fd.
	ln -sfn /proc/self/fd /dev/fd
	ln -sfn /proc/self/fd/0 /dev/stdin
	ln -sfn /proc/self/fd/1 /dev/stdout
	ln -sfn /proc/self/fd/2 /dev/stderr
	mkdir -p /dev/pts /dev/shm
	mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
	mount -t tmpfs -o mode=1777 tmpfs /dev/shm
	mkdir -p "$out" /run/netns /sys/fs/cgroup
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out "$out"
	exec >"$out/log" 2>&1
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
	mount -t bpf bpf /sys/fs/bpf
	kver=$(uname -r)
	mkdir -p "/lib/modules/$kver"
	mount --bind "${socklb_modules:?}" "/lib/modules/$kver"
	ip link set lo up
	hostname socklb-vm
	echo 1 >"$out/started"
	KERNEL_TESTS=${socklb_tests:?}
	KERNEL_TESTS=${KERNEL_TESTS//,/ }
	BUILD=${socklb_build:?}
	[ "${socklb_emulated:-0}" = 1 ] && export SOCKLB_EMULATED=1
	log "kernel $kver, accel ${socklb_accel:-?}, tests: $KERNEL_TESTS"
	cd "$ROOT"
	run_tests "$out/summary"
}

if [ "${1:-}" = --guest ]; then
	guest
	exit 0
fi

# ---------------------------------------------------------------- on the host
[ "$(id -u)" -eq 0 ] || {
	echo "test-kernels: must run as root" >&2
	exit 1
}
for t in qemu-system-x86_64 cpio depmod dpkg-deb apt-get; do
	command -v "$t" >/dev/null || {
		echo "test-kernels: $t not found: run hack/install-deps.sh" >&2
		exit 1
	}
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/socklb-kernels.XXXXXX")
RUN=
QEMU_PID=
TAIL_PID=
cleanup() {
	[ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null
	qemu_stop
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# apt restricted to a private sources file and lists dir: the machine's apt
# state is never changed.
temp_apt_opts() {
	local dir=$1
	APT_OPTS=(
		-o "Dir::Etc::sourcelist=$dir/sources.sources"
		-o "Dir::Etc::sourceparts=$dir/sources.list.d"
		-o "Dir::State::Lists=$dir/lists"
		-o "Dir::Cache::pkgcache="
		-o "Dir::Cache::srcpkgcache="
		-o APT::Get::List-Cleanup=0
	)
}

# resolve_and_download DIR [APT_OPTION...]: RESOLVED_PKG and RESOLVED_VER
# name the image linux-image-amd64 (the metapackage) depends on; its .deb is
# downloaded into DIR unless that version is cached already.
resolve_and_download() {
	local tmp=$1
	shift
	RESOLVED_PKG=$(apt-cache "$@" depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)
	[ -n "$RESOLVED_PKG" ] || return 1
	RESOLVED_VER=$(apt-cache "$@" show --no-all-versions "$RESOLVED_PKG" 2>/dev/null |
		sed -n 's/^Version: //p' | head -n 1)
	[ -n "$RESOLVED_VER" ] || return 1
	[ -f "$CACHE/${RESOLVED_PKG}_$RESOLVED_VER/ready" ] && return 0
	log "downloading $RESOLVED_PKG $RESOLVED_VER into $CACHE"
	rm -f "$tmp/$RESOLVED_PKG"_*.deb
	(cd "$tmp" && apt-get "$@" -qq download "$RESOLVED_PKG=$RESOLVED_VER") >&2
}

# fetch_kernel NAME: print the cache dir of NAME's current kernel image
# package, downloading and unpacking it first when it is not cached yet.
fetch_kernel() {
	local name=$1 dir apt=() pkg kdir tmp moddir suite
	tmp=$WORK/fetch-$name
	mkdir -p "$tmp" "$CACHE"
	# apt downloads as the unprivileged _apt user: it must reach the temp dirs.
	chmod 0755 "$WORK" "$tmp"
	chown _apt "$tmp" 2>/dev/null || true
	# One fetch at a time per cache (two runs would unpack into the same dir).
	exec 8>"$CACHE/.lock"
	flock 8
	# shellcheck disable=SC1091
	suite=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
	case $name in
	debian12)
		[ "$suite" = bookworm ] || {
			log "debian12: this machine is not Debian 12 ($suite): its apt sources do not serve it"
			return 1
		}
		;;
	debian13)
		# shellcheck source=hack/apt-entry.sh
		source "$ROOT/hack/apt-entry.sh"
		mkdir -p "$tmp/apt/lists/partial" "$tmp/apt/sources.list.d"
		{
			apt_entry deb "$suite" trixie && echo &&
				apt_entry deb "$suite-security" trixie-security
		} >"$tmp/apt/sources.sources" || {
			log "debian13: no deb entry for $suite and $suite-security in this machine's apt sources"
			return 1
		}
		chown _apt "$tmp/apt/lists/partial" 2>/dev/null || true
		temp_apt_opts "$tmp/apt"
		apt=("${APT_OPTS[@]}")
		apt-get "${apt[@]}" -qq update >&2 || {
			log "debian13: apt-get update of the temporary trixie entries failed"
			return 1
		}
		;;
	*) return 1 ;;
	esac
	if ! resolve_and_download "$tmp" "${apt[@]}"; then
		[ "$name" = debian12 ] || return 1
		# The machine's lists may be missing or name a version the mirror no longer has.
		log "debian12: refreshing the machine's package lists"
		apt-get -qq update >&2 && resolve_and_download "$tmp" || return 1
	fi
	pkg=$RESOLVED_PKG
	dir=$CACHE/${RESOLVED_PKG}_$RESOLVED_VER
	[ -f "$dir/ready" ] && {
		echo "$dir"
		return 0
	}
	rm -rf "$dir.new"
	dpkg-deb -x "$tmp"/"$pkg"_*.deb "$dir.new" || return 1
	rm -f "$tmp"/"$pkg"_*.deb
	moddir=$(find "$dir.new" -path '*/lib/modules/*' -name modules.order -printf '%h\n' | head -n 1)
	kdir=$(basename "$moddir")
	if [ -z "$moddir" ] || [ ! -f "$dir.new/boot/vmlinuz-$kdir" ]; then
		log "$name: $pkg has no vmlinuz or no modules"
		return 1
	fi
	# depmod -b writes modules.dep under the given base only.
	depmod -b "${moddir%/lib/modules/*}" "$kdir" || return 1
	echo "$kdir" >"$dir.new/kver"
	rm -rf "$dir"
	mv "$dir.new" "$dir"
	touch "$dir/ready"
	echo "$dir"
}

# cached_kernel NAME: the newest cached kernel for NAME when fetching fails (offline).
cached_kernel() {
	local series
	case $1 in
	debian12) series=6.1 ;;
	debian13) series=6.12 ;;
	esac
	find "$CACHE" -maxdepth 2 -name ready -path "*/linux-image-$series.*" -printf '%h\n' 2>/dev/null |
		sort -V | tail -n 1
}

# initramfs KDIR OUT: the static init and the boot modules (with their
# dependencies, in load order, decompressed), as a newc cpio archive.
initramfs() {
	local kdir=$1 out=$2 kver moddir stage m dep f line i deps
	kver=$(cat "$kdir/kver")
	moddir=$(find "$kdir" -path "*/lib/modules/$kver" -maxdepth 4 -type d | head -n 1)
	stage=$WORK/initramfs-$kver
	rm -rf "$stage"
	mkdir -p "$stage/modules" "$stage/dev" "$stage/proc" "$stage/sys"
	gcc -static -O2 -Wall -Wextra -Werror -o "$stage/init" "$ROOT/hack/kernels/init.c" >&2 || return 1
	: >"$stage/modules/order"
	for m in "${BOOT_MODULES[@]}"; do
		# modules.dep lists a module's dependencies, the last one to load first.
		line=$(awk -v m="$m" '{ f = $1; sub(/:$/, "", f); n = f; sub(/.*\//, "", n); sub(/\.ko.*/, "", n);
			gsub(/-/, "_", n) } n == m { print; exit }' "$moddir/modules.dep")
		if [ -z "$line" ]; then
			# Built into this kernel (virtio_pci is, in 6.12): nothing to load.
			grep -q "/${m//_/[_-]}\.ko" "$moddir/modules.builtin" && continue
			log "module $m is neither in $kver's modules.dep nor built in"
			return 1
		fi
		read -r -a deps <<<"${line#*:}"
		for ((i = ${#deps[@]} - 1; i >= -1; i--)); do
			if [ "$i" -ge 0 ]; then dep=${deps[$i]}; else dep=${line%%:*}; fi
			f=$(basename "$dep")
			f=${f%.xz}
			f=${f%.zst}
			f=${f%.gz}
			grep -qx "$f" "$stage/modules/order" && continue
			case $dep in
			*.xz) xz -dc "$moddir/$dep" >"$stage/modules/$f" ;;
			*.zst) zstd -qdc "$moddir/$dep" >"$stage/modules/$f" ;;
			*.gz) gzip -dc "$moddir/$dep" >"$stage/modules/$f" ;;
			*) cp "$moddir/$dep" "$stage/modules/$f" ;;
			esac
			echo "$f" >>"$stage/modules/order"
		done
	done
	(cd "$stage" && find . | cpio -o -H newc --quiet) >"$out" || return 1
	echo "$moddir"
}

# qemu_start KDIR INITRD MODDIR ACCEL RUNDIR NAME: start the VM in the background (QEMU_PID).
qemu_start() {
	local kdir=$1 initrd=$2 moddir=$3 accel=$4 run=$5 kver cpu tests emulated=0
	kver=$(cat "$kdir/kver")
	tests=${KERNEL_TESTS// /,}
	[ "$accel" = tcg ] && emulated=1
	cpu=max
	[ "$accel" = kvm ] && cpu=host
	# timeout bounds qemu even if this script is killed; the subshell reaps
	# it, so a crash message from qemu lands in qemu.log, not here.
	(
		timeout -k 10 "$VM_TIMEOUT" qemu-system-x86_64 -name "socklb-test-$6" -accel "$accel" -cpu "$cpu" \
			-smp "$VM_CPUS" -m "$VM_MEM_MB" -nodefaults -nographic -no-reboot -monitor none \
			-serial "file:$run/console.log" -kernel "$kdir/boot/vmlinuz-$kver" -initrd "$initrd" \
			-append "console=ttyS0 panic=-1 loglevel=4 socklb_run=$ROOT/hack/test-kernels.sh socklb_build=$BUILD socklb_modules=$moddir socklb_tests=$tests socklb_emulated=$emulated socklb_accel=$accel" \
			-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
			-virtfs "local,path=$run/out,mount_tag=out,security_model=none" &
		echo $! >"$run/timeout.pid"
		wait $!
	) >"$run/qemu.log" 2>&1 &
	QEMU_PID=$!
}

# qemu_stop: timeout passes the TERM on to qemu, which then exits.
qemu_stop() {
	[ -n "$QEMU_PID" ] || return 0
	kill "$(cat "$RUN/timeout.pid" 2>/dev/null)" 2>/dev/null || kill "$QEMU_PID" 2>/dev/null || true
	rm -f "$RUN/timeout.pid"
	wait "$QEMU_PID" 2>/dev/null || true
	QEMU_PID=
}

# vm_boots SECONDS RUNDIR: the VM's init printed its first line in time.
vm_boots() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		grep -q 'socklb-vm: init started' "$2/console.log" 2>/dev/null && return 0
		kill -0 "$QEMU_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# run_vm NAME: boot NAME's kernel and run the tests in it; "P F S" in $WORK/NAME.summary.
run_vm() {
	local name=$1 kdir run initrd moddir accel t0 rc=0
	if ! kdir=$(fetch_kernel "$name"); then
		kdir=$(cached_kernel "$name")
		[ -n "$kdir" ] || {
			log "$name: no kernel could be fetched and none is cached: skipped"
			echo "0 0 1" >"$WORK/$name.summary"
			return 0
		}
		log "$name: fetching failed; using the cached $(basename "$kdir")"
	fi
	run=$WORK/vm-$name
	RUN=$run
	mkdir -p "$run/out"
	initrd=$run/initramfs.cpio
	KVER[$name]=$(cat "$kdir/kver")
	if ! moddir=$(initramfs "$kdir" "$initrd"); then
		echo "not ok - $name: cannot build the initramfs for ${KVER[$name]}"
		echo "0 1 0" >"$WORK/$name.summary"
		return 0
	fi

	accel=$VM_ACCEL
	if [ "$accel" = auto ]; then
		accel=tcg
		if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
			# /dev/kvm may exist and still not run a stock kernel (nested PVM):
			# try it and watch the VM's init come up.
			qemu_start "$kdir" "$initrd" "$moddir" kvm "$run" "$name"
			if vm_boots 30 "$run"; then
				accel=kvm
			else
				log "$name: KVM does not boot this kernel ($(head -n 1 "$run/qemu.log" 2>/dev/null)): using TCG"
				qemu_stop
				rm -rf "$run/out" "$run/console.log"
				mkdir -p "$run/out"
			fi
		fi
	fi
	[ -n "$QEMU_PID" ] || qemu_start "$kdir" "$initrd" "$moddir" "$accel" "$run" "$name"
	ACCEL[$name]=$accel
	log "$name: booting ${KVER[$name]} ($accel, $VM_CPUS CPUs, timeout $VM_TIMEOUT s)"
	t0=$(date +%s)
	: >"$run/out/log"
	tail -n +1 -F "$run/out/log" 2>/dev/null &
	TAIL_PID=$!
	while kill -0 "$QEMU_PID" 2>/dev/null; do
		if (($(date +%s) - t0 > VM_TIMEOUT)); then
			echo "not ok - $name: the VM did not finish within $VM_TIMEOUT s"
			rc=1
			break
		fi
		sleep 1
	done
	qemu_stop
	sleep 1
	kill "$TAIL_PID" 2>/dev/null || true
	wait "$TAIL_PID" 2>/dev/null || true
	TAIL_PID=
	if [ -f "$run/out/summary" ] && [ "$rc" -eq 0 ]; then
		cp "$run/out/summary" "$WORK/$name.summary"
	else
		[ -f "$run/out/started" ] || echo "not ok - $name: the VM did not start the tests"
		echo "# console:"
		tail -n 30 "$run/console.log" 2>/dev/null | sed 's/^/#   /'
		read -r p f s <"$run/out/summary" 2>/dev/null || p=0 f=0 s=0
		echo "$p $((f + 1)) $s" >"$WORK/$name.summary"
	fi
	log "$name: $(($(date +%s) - t0)) s in the VM"
}

declare -A KVER ACCEL TIME
kernels=("$@")
[ "${#kernels[@]}" -gt 0 ] || kernels=(host debian12 debian13)
for k in "${kernels[@]}"; do
	case $k in
	host | debian12 | debian13) ;;
	*)
		echo "test-kernels: unknown kernel '$k' (host, debian12, debian13)" >&2
		exit 2
		;;
	esac
done

for k in "${kernels[@]}"; do
	echo "# ====== kernel $k"
	t0=$(date +%s)
	if [ "$k" = host ]; then
		KVER[$k]=$(uname -r) ACCEL[$k]=native
		run_tests "$WORK/$k.summary"
	else
		run_vm "$k"
	fi
	TIME[$k]=$(($(date +%s) - t0))
done

tp=0 tf=0 ts=0
echo "# ====== kernels"
for k in "${kernels[@]}"; do
	read -r p f s <"$WORK/$k.summary"
	echo "# $k: ${KVER[$k]:-?} (${ACCEL[$k]:-not run}), ${TIME[$k]} s"
	echo "$k: $p passed, $f failed, $s skipped"
	tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + s))
done
echo "$tp passed, $tf failed, $ts skipped"
[ "$tf" -eq 0 ]
