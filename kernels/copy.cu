// Copies and casts.
//
// copy_<dtype>(D* dst, const S* src, CopyParams p) and cast_<src>_<dst>(...):
//   dst[offset0(i)] = convert(src[offset1(i)]) over the collapsed iteration shape,
//   p.st[0] / p.st[1] the element strides of dst / src (0: src broadcast); contig=1
//   when both are C-contiguous (offset = i). Used for .contiguous(), astype and
//   copy_into (strided destination views).
// triangle_<dtype>(T* out, const T* x, CopyParams p, rows, cols, k, upper):
//   out (C-contiguous, n elements) = tril (upper=0) / triu (upper=1) of x over the
//   last two dims; p.shape/p.st[1] describe x (collapsed).
#include "common.cuh"

template <typename I>
__device__ __forceinline__ void copy_offsets(I i, const CopyParams& p, long long* o0, long long* o1) {
  long long a = 0, b = 0;
  for (int d = p.ndim - 1; d >= 0; --d) {
    const I s = (I)p.shape[d];
    const I c = i % s;
    i /= s;
    a += (long long)c * p.st[0][d];
    b += (long long)c * p.st[1][d];
  }
  *o0 = a;
  *o1 = b;
}

template <typename D, typename S> __device__ void copy_run(D* dst, const S* src, const CopyParams& p) {
  const long long n = p.n, start = ag_tid(), step = ag_nthreads();
  if (p.contig) {
    for (long long i = start; i < n; i += step) dst[i] = Cvt<D>::from(src[i]);
    return;
  }
  long long a, b;
  if (n <= 0x7fffffffLL) {
    for (long long i = start; i < n; i += step) {
      copy_offsets<unsigned int>((unsigned int)i, p, &a, &b);
      dst[a] = Cvt<D>::from(src[b]);
    }
  } else {
    for (long long i = start; i < n; i += step) {
      copy_offsets<long long>(i, p, &a, &b);
      dst[a] = Cvt<D>::from(src[b]);
    }
  }
}

template <typename T>
__device__ void triangle_run(T* out, const T* x, const CopyParams& p, long long rows, long long cols,
                             long long k, int upper) {
  long long a, b;
  for (long long i = ag_tid(); i < p.n; i += ag_nthreads()) {
    const long long c = i % cols, r = (i / cols) % rows;
    const bool keep = upper ? (c - r >= k) : (c - r <= k);
    if (keep) {
      copy_offsets<long long>(i, p, &a, &b);
      out[i] = x[b];
    } else {
      out[i] = Cvt<T>::from(0);
    }
  }
}

#define COPY_KERNEL(DT)                                                                    \
  extern "C" __global__ void copy_##DT(ag_t_##DT* dst, const ag_t_##DT* src, const CopyParams p) { \
    copy_run(dst, src, p);                                                                 \
  }                                                                                        \
  extern "C" __global__ void triangle_##DT(ag_t_##DT* out, const ag_t_##DT* x, const CopyParams p, \
                                           long long rows, long long cols, long long k, int upper) { \
    triangle_run(out, x, p, rows, cols, k, upper);                                         \
  }
AG_FOR_ALL(COPY_KERNEL)

#define CAST_KERNEL(SD, DD)                                                                \
  extern "C" __global__ void cast_##SD##_##DD(ag_t_##DD* dst, const ag_t_##SD* src, const CopyParams p) { \
    copy_run(dst, src, p);                                                                 \
  }
#define CAST_FROM(SD)                                                                      \
  CAST_KERNEL(SD, float16) CAST_KERNEL(SD, float32) CAST_KERNEL(SD, float64)               \
  CAST_KERNEL(SD, int8) CAST_KERNEL(SD, uint8) CAST_KERNEL(SD, int16)                      \
  CAST_KERNEL(SD, int32) CAST_KERNEL(SD, int64) CAST_KERNEL(SD, bool)
AG_FOR_ALL(CAST_FROM)
