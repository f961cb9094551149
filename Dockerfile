# autograd-gpu on an NVIDIA CUDA image; by default it runs the benchmark suite into /results.
#
#   docker build -t autograd-gpu .                                   # CUDA 13.x, needs driver >= 580
#   docker build -t autograd-gpu:cuda12 --build-arg CUDA_VERSION=12.9.1 .
#   mkdir -p results && docker run --rm --gpus all --user "$(id -u):$(id -g)" \
#       -v "$PWD/results:/results" -v autograd-gpu-cache:/cache autograd-gpu
#
# Build arguments:
#   CUDA_VERSION     tag of nvidia/cuda; its major version also picks the extra (cuda12 or cuda13)
#   BASE_IMAGE       the image to build on; benchmarks/docker_build.sh sets a local Debian one
#   EXTRAS           pyproject extras, comma-separated; "auto" (the default) is cuda<major>,plot
#                    (plot: matplotlib draws the benchmarks' ratio chart); "plot" or "" is CPU only
#   WITH_TORCH       1 adds the compare extra (PyTorch, the benchmarks' side-by-side columns); 0 skips it
#   TORCH_INDEX_URL  an extra index for PyTorch: PyPI's torch wheels are built for CUDA 13, so a CUDA 12
#                    image with PyTorch needs PyTorch's own, https://download.pytorch.org/whl/cu12X
#                    (X: a CUDA 12 build published for the pinned release)
#
# Why `-base` and not `-devel`: CuPy compiles our kernels and its own with NVRTC at run time, and
# the cuda12/cuda13 extras install the CUDA components used as wheels matched to each other:
# cuda-toolkit[cudart,nvrtc,cublas] (the runtime with the headers NVRTC includes, such as
# cuda_fp16.h; NVRTC; cuBLAS). `-base` adds only what the NVIDIA container toolkit needs (the
# NVIDIA_* variables, the driver requirement it checks at `docker run`); `-devel` would add nvcc and
# a second set of headers and libraries (gigabytes) that nothing here uses, of a CUDA minor version
# that may differ from the wheels' NVRTC.
ARG CUDA_VERSION=13.0.2
ARG BASE_IMAGE=nvidia/cuda:${CUDA_VERSION}-base-ubuntu24.04
FROM ${BASE_IMAGE}

ARG CUDA_VERSION
ARG EXTRAS=auto
ARG WITH_TORCH=1
ARG TORCH_INDEX_URL=

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

# Versions come from the base image's distribution (Ubuntu 24.04: Python 3.12; Debian 12: 3.11).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# The install is CI's (.ci/run): a fresh venv, then `pip install` of the project with its extras
# (non-editable here: the image keeps the wheel, not the source). The extras' version ranges live
# in pyproject.toml.
COPY pyproject.toml README.md LICENSE /src/
COPY autograd_gpu /src/autograd_gpu
COPY kernels /src/kernels
# hadolint ignore=DL3013
RUN set -eu; \
    extras="$EXTRAS"; \
    if [ "$extras" = auto ]; then extras="cuda${CUDA_VERSION%%.*},plot"; fi; \
    if [ "$WITH_TORCH" = 1 ]; then extras="${extras:+$extras,}compare"; fi; \
    set --; \
    if [ -n "$TORCH_INDEX_URL" ]; then set -- --extra-index-url "$TORCH_INDEX_URL"; fi; \
    echo "installing /src${extras:+[$extras]}"; \
    python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install --no-cache-dir "$@" "/src${extras:+[$extras]}"; \
    rm -rf /src
ENV PATH=/opt/venv/bin:$PATH

# Compiled kernels go to $CUPY_CACHE_DIR/autograd_gpu/: on a volume, they survive restarts (and so
# does matplotlib's font cache). The folders are world-writable so that `docker run --user
# "$(id -u):$(id -g)"`, a user the image does not know, can write them.
ENV CUPY_CACHE_DIR=/cache/cupy \
    MPLCONFIGDIR=/cache/matplotlib
RUN groupadd --gid 10001 agpu \
    && useradd --create-home --no-log-init --uid 10001 --gid 10001 --shell /bin/bash agpu \
    && install -d -m 1777 /results /cache /cache/cupy /cache/matplotlib
VOLUME ["/results", "/cache"]

# `autograd-gpu bench` runs ./benchmarks (they are not in the wheel)
WORKDIR /opt/autograd-gpu
COPY benchmarks ./benchmarks
# numeric, so that a runtime can tell it is not root (Kubernetes runAsNonRoot)
USER 10001:10001
ENTRYPOINT ["autograd-gpu"]
CMD ["bench", "--out", "/results"]
