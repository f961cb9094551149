#!/usr/bin/env bash
# Build the repository's Dockerfile without Docker or a GPU, and run the image's default command
# (the benchmarks) inside it, on the CPU: podman, a Debian base made with debootstrap, and pip
# installing from a local wheelhouse. Needs root, Debian's mirror and PyPI; takes a few minutes.
#
#   apt-get install -y podman runc debootstrap      # once
#   bash benchmarks/docker_build.sh
#
# What differs from a user's `docker build` is only what the build arguments and the base say:
#   - BASE_IMAGE is a Debian bookworm minbase (debootstrap, `podman import`) instead of NVIDIA's
#     CUDA image, with a wheelhouse baked in and PIP_NO_INDEX/PIP_FIND_LINKS set, because pip
#     inside the build reaches no index here (apt does reach Debian's mirror);
#   - EXTRAS=plot (no CUDA extra: CuPy is no use without a GPU), WITH_TORCH=0 (PyTorch's wheels
#     with their CUDA libraries are gigabytes);
#   - `podman run` cannot start containers here (setting rlimits is not permitted), so the default
#     command (the image's ENTRYPOINT + CMD, read back from the built image) runs in a RUN step
#     of a small derived image, with --quick --device cpu appended.
#
# Environment: AG_DOCKER_WORK (default build/docker: the base tarball and wheelhouse, reused on the
# next run; delete it to start over), DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${AG_DOCKER_WORK:-$REPO/build/docker}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
BASE=localhost/$SUITE-minbase             # the debootstrapped system as it is
OFFLINE=localhost/$SUITE-minbase-wheels   # + the wheelhouse, pip pointed at it
IMAGE=localhost/autograd-gpu:cpu
RUN_IMAGE=localhost/autograd-gpu:cpu-bench
EXTRAS=plot
BENCH_ARGS=(--quick --device cpu)
BUILD=(podman build --isolation chroot --pull=never)

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'docker_build.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and podman's chroot builds need it)"
for tool in podman debootstrap python3; do
    command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y podman runc debootstrap"
done
mkdir -p "$WORK"

# 1. the base: a Debian minbase with python3, imported as an image --------------------------------
tarball=$WORK/$SUITE-minbase.tar
if [ -s "$tarball" ]; then
    step "reusing $tarball"
else
    step "debootstrap $SUITE (minbase, python3) from $MIRROR"
    rootfs=$(mktemp -d "$WORK/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip "$SUITE" "$rootfs" "$MIRROR" \
        > "$WORK/debootstrap.log" 2>&1 || die "debootstrap failed; see $WORK/debootstrap.log"
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
    trap - EXIT
    podman image rm -f "$BASE" >/dev/null 2>&1 || true   # a new tarball: import it again
fi
if ! podman image exists "$BASE"; then
    step "podman import $tarball $BASE"
    podman import --quiet "$tarball" "$BASE" >/dev/null
fi
# the image's Python decides which wheels to fetch
py=$(tar -tf "$tarball" | grep -oE 'usr/bin/python3\.[0-9]+$' | head -n 1) || die "no python3.X in $tarball"
py_version=${py##*python}

# 2. the wheelhouse: the project's build backend and dependencies, for that Python -----------------
step "pip download the build backend and the dependencies (extras: $EXTRAS) for Python $py_version into $WORK/offline-base/wheelhouse"
mkdir -p "$WORK/offline-base/wheelhouse"
python3 - "$REPO/pyproject.toml" "$EXTRAS" > "$WORK/offline-base/requirements.txt" <<'EOF'
import sys, tomllib
meta = tomllib.load(open(sys.argv[1], "rb"))
extras = [e for e in sys.argv[2].split(",") if e]
reqs = meta["build-system"]["requires"] + meta["project"]["dependencies"]
print("\n".join(reqs + [r for e in extras for r in meta["project"]["optional-dependencies"][e]]))
EOF
# pip takes --platform literally: name every manylinux tag that bookworm's glibc 2.36 runs
platforms=(manylinux1_x86_64 manylinux2010_x86_64 manylinux2014_x86_64)
for glibc in $(seq 5 36); do platforms+=("manylinux_2_${glibc}_x86_64"); done
python3 -m pip download --quiet --disable-pip-version-check --dest "$WORK/offline-base/wheelhouse" \
    --only-binary=:all: --python-version "$py_version" --implementation cp \
    "${platforms[@]/#/--platform=}" -r "$WORK/offline-base/requirements.txt" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
ls "$WORK/offline-base/wheelhouse"

cat > "$WORK/offline-base/Containerfile" <<EOF
FROM $BASE
# an imported root file system has no image config: give it the usual PATH
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PIP_NO_INDEX=1 \\
    PIP_FIND_LINKS=/wheelhouse
COPY wheelhouse /wheelhouse
EOF
step "podman build $OFFLINE (the base + wheelhouse)"
"${BUILD[@]}" --quiet -t "$OFFLINE" "$WORK/offline-base" >/dev/null

# 3. the image, from the repository's Dockerfile ---------------------------------------------------
step "podman build $IMAGE from $REPO/Dockerfile (BASE_IMAGE=$OFFLINE, EXTRAS=$EXTRAS, no PyTorch)"
"${BUILD[@]}" -t "$IMAGE" -f "$REPO/Dockerfile" \
    --build-arg BASE_IMAGE="$OFFLINE" --build-arg EXTRAS="$EXTRAS" --build-arg WITH_TORCH=0 "$REPO"

# 4. its default command, in a RUN step (podman run cannot start containers here) ------------------
command_line=$(podman image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$IMAGE" |
    python3 -c 'import json, shlex, sys
entrypoint, cmd = sys.stdin.read().split(" ", 1)
print(shlex.join((json.loads(entrypoint) or []) + (json.loads(cmd) or []) + sys.argv[1:]))' "${BENCH_ARGS[@]}")
mkdir -p "$WORK/run"
cat > "$WORK/run/Containerfile" <<EOF
FROM $IMAGE
RUN id && $command_line && ls -lR /results
# what \`docker run --user "\$(id -u):\$(id -g)"\` would be: a user the image does not know
USER 4321:4321
RUN touch /results/.probe /cache/cupy/.probe /cache/matplotlib/.probe \\
    && echo "uid 4321 can write /results, /cache/cupy and /cache/matplotlib"
EOF
step "running the image's default command with ${BENCH_ARGS[*]}: $command_line"
"${BUILD[@]}" --no-cache -t "$RUN_IMAGE" "$WORK/run" 2>&1 | tee "$WORK/run.log"
podman image rm "$RUN_IMAGE" >/dev/null   # it only ever held the run
step "ok: $IMAGE builds and its default command ran (log: $WORK/run.log)"
