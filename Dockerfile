# GPU image: autograd-gpu with CuPy for CUDA 12 and PyTorch for comparison; runs the benchmarks.
#   docker build -t autograd-gpu .
#   docker run --rm --gpus all -v "$PWD/benchmarks/results:/app/benchmarks/results" autograd-gpu
# The CUDA libraries CuPy needs (NVRTC, cuBLAS, ...) come with cupy-cuda12x[ctk] from PyPI;
# the image only has to provide the driver hook-up, which the runtime image does.
FROM nvidia/cuda:12.6.3-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
# a regular (non-editable) install: kernels/ travel inside the wheel as autograd_gpu/_kernels
COPY pyproject.toml README.md ./
COPY autograd_gpu ./autograd_gpu
COPY kernels ./kernels
RUN pip install '.[cuda12,compare]' && rm -rf autograd_gpu kernels
COPY benchmarks ./benchmarks

CMD ["sh", "-c", "python -m autograd_gpu info && python benchmarks/run.py"]
