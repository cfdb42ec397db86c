/*
 * iqa_cli.metrics._native: the CPU kernels of SSIM, MS-SSIM, the box
 * decimations of ssim.m and msssim.m, the zhao mixed loss, MSE, TV and the
 * colour-to-luma conversions, in float64, streaming row by row.
 *
 * Optional: when this extension is not built (no C compiler), iqa uses the
 * torch kernels of ssim.py, which give the same numbers to ~1e-15. The torch
 * code also stays the path for autograd and for CUDA. See _cpu.py for the
 * Python side (strips, threads) and ssim.py for the definitions.
 *
 * Per output row i of a plane pair (x, y) on the [0, L] scale, with
 * u = (x + y)/L and v = (x - y)/L (the sum and difference of the [0, 1]-scaled
 * images), four maps are filtered with a separable window g (the SSIM kernel:
 * horizontal pass of each input row into a ring of the last K filtered rows,
 * then the vertical pass; the zhao kernel: the other way round):
 *
 *     a = g*u,  d = g*v,  p = g*(u^2),  q = g*(v^2)
 *
 * and, as in ssim.py's strip kernel,
 *
 *     s' = p - a^2 + 2C2 = sx^2 + sy^2 + 2sxy + 2C2,   t = q - d^2 = sx^2 + sy^2 - 2sxy
 *     dc = t / (s' + t)             cs  = 1 - 2dc
 *     dl = d^2 / (a^2 + d^2 + 2C1)  lum = 1 - 2dl,   SSIM = lum * cs
 *
 * (a = mu_x + mu_y and d = mu_x - mu_y). The SSIM kernel returns the sums of
 * dl, dc and dl*dc over the requested rows, from which mean SSIM and mean cs
 * follow exactly. Sums use fixed partial accumulators, so a result depends
 * only on the rows requested, never on threads. The GIL is released while
 * computing; Python runs independent strips in worker threads.
 *
 * Vector code uses GCC/Clang vector extensions (4 doubles); on x86-64 Linux
 * the hot functions are also compiled for x86-64-v3 (AVX2 + FMA) and
 * x86-64-v4 (AVX-512: the same 4-double vectors, but 32 registers, ~10%
 * faster on the SSIM kernel) and chosen at load time (target_clones), so the
 * build stays portable.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && !defined(IQA_NO_CLONES)
#define IQA_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define IQA_HOT
#endif
#define INLINE static inline __attribute__((always_inline))
#ifndef PASS /* the passes; -DPASS='static __attribute__((noinline))' profiles them one by one */
#define PASS INLINE
#endif

typedef double v4 __attribute__((vector_size(32)));
typedef double v4u __attribute__((vector_size(32), aligned(8)));
typedef long long v4i __attribute__((vector_size(32)));

INLINE v4 ld(const double *p) { return *(const v4u *)p; }
INLINE void st(double *p, v4 v) { *(v4u *)p = v; }
INLINE v4 splat(double g) { return (v4){g, g, g, g}; }
INLINE v4 vabs(v4 v) { return (v4)((v4i)v & (v4i){INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX}); }
INLINE double hsum(v4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }
#if defined(__clang__) || __GNUC__ >= 12
#define SHUF(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
#define SHUF(a, b, i, j, k, l) __builtin_shuffle(a, b, (v4i){i, j, k, l})
#endif

enum { DT_U8, DT_U16, DT_F32, DT_F64, DT_U32 }; /* uint32: the SSIM kernel's integer pyramids only */

#define RING_PLANES 3 /* u, v, |v| */
#define PAD 16     /* spare doubles after every row buffer: vector loops may run past the end */
#define CBLOCK 256 /* output columns per column block: the ring of input rows stays in L2 */

/* ------------------------------------------------------------------------ */
/* Planes                                                                    */

typedef struct {
    const char *x, *y;
    int dt;
    Py_ssize_t h, w, esize;
    double L, inv;   /* the data range and 1/L */
} planes_t;

/* One ring row for columns c0 .. c0+n-1 of input row r: the planes
 * u = x/L + y/L and v = x/L - y/L at o and o+S, and |v| at o+2S when absv.
 * The squares are formed in the vertical pass: half the ring and half the
 * loads (bench/README.md has the measurement). (x * (1/L)
 * may differ from x / L in the last bit; the torch path divides. Results move
 * by ~1e-16.) */
#define LOAD_ROW(T)                                                                       \
    do {                                                                                  \
        const T *restrict a = (const T *)(P->x + off), *restrict b = (const T *)(P->y + off);               \
        for (Py_ssize_t i = 0; i < n; i++) {                                              \
            const double xa = (double)a[i] * inv, yb = (double)b[i] * inv;                \
            const double u = xa + yb, v = xa - yb;                                        \
            o[i] = u;                                                                     \
            o[i + S] = v;                                                                 \
        }                                                                                 \
    } while (0)

PASS void load_row(const planes_t *P, Py_ssize_t r, Py_ssize_t c0, Py_ssize_t n, double *restrict o, Py_ssize_t S, int absv) {
    const Py_ssize_t off = (r * P->w + c0) * P->esize;
    const double inv = P->inv;
    switch (P->dt) {
    case DT_U8: LOAD_ROW(uint8_t); break;
    case DT_U16: LOAD_ROW(uint16_t); break;
    case DT_F32: LOAD_ROW(float); break;
    default: LOAD_ROW(double); break;
    }
    if (absv)
        for (Py_ssize_t i = 0; i < n; i++) o[i + 2 * S] = fabs(o[i + S]);
}

/* ------------------------------------------------------------------------ */
/* Filters                                                                   */

/* acc[m] += g * x_m for four maps, and the four stores of a result vector. */
INLINE void fma4(v4 acc[4], double g, v4 a, v4 b, v4 c, v4 d) {
    const v4 G = splat(g);
    acc[0] += G * a;
    acc[1] += G * b;
    acc[2] += G * c;
    acc[3] += G * d;
}

INLINE void store4(double *const *o, Py_ssize_t j, const v4 acc[4]) {
    for (int m = 0; m < 4; m++) st(o[m] + j, acc[m]);
}

/* Vertical pass of one plane over n (rounded up to 4) columns from column c
 * of ring rows 0 .. len, for two consecutive output rows:
 * s_t[c'] = sum_k g[k] * X(k + t), and with sq also q_t = sum_k g[k] * X(k + t)^2,
 * X(r) = rows[r][po + c + c']. Output row 0 pairs rows (k, len-1-k) and row 1
 * pairs (k+1, len-k); iteration k loads rows k+1 and len-1-k, and each is
 * used again by the other output row in iteration k+1, so every input vector
 * is loaded (and squared) once for both rows. For the last row of an odd
 * strip the second row reads a stale (finite) ring slot and its output is
 * ignored.
 * Every window is symmetric (g[k] == g[len-1-k], len odd; checked when it is
 * passed in), so the two rows of a tap pair are added before the multiply:
 * h + 1 multiply-adds and h additions per map instead of len multiply-adds.
 * The additions run on their own ports; the sums differ from the unfolded
 * ones only by rounding (~1e-16). Measured 5-7% faster for SSIM than the
 * unfolded pass, zhao unchanged within the noise. Tried and slower or no
 * faster: folding the horizontal pass too (it needs more loads than the two
 * load ports give, or registers for the shared ones), u and v in one loop,
 * two accumulator chains per map, and all zhao windows per column vector. */
PASS void vfold2(double *const *rows, Py_ssize_t po, const double *g, int len, Py_ssize_t c, Py_ssize_t n,
                 double *s0, double *q0, double *s1, double *q1, int sq) {
    const int h = len / 2;
    for (Py_ssize_t j = 0; j < n; j += 4) {
        const Py_ssize_t at = po + c + j;
        v4 a = ld(rows[0] + at), b = ld(rows[len] + at); /* X(k) for row 0, X(len-k) for row 1 */
        v4 a2 = a * a, b2 = b * b;
        v4 S0 = {0}, S1 = {0}, Q0 = {0}, Q1 = {0};
        for (int k = 0; k < h; k++) {
            const v4 e = ld(rows[k + 1] + at), d = ld(rows[len - 1 - k] + at), G = splat(g[k]);
            S0 += G * (a + d);
            S1 += G * (e + b);
            if (sq) {
                const v4 e2 = e * e, d2 = d * d;
                Q0 += G * (a2 + d2);
                Q1 += G * (e2 + b2);
                a2 = e2;
                b2 = d2;
            }
            a = e;
            b = d;
        }
        const v4 G = splat(g[h]); /* the centre taps: a = X(h), b = X(h+1) */
        st(s0 + j, S0 + G * a);
        st(s1 + j, S1 + G * b);
        if (sq) {
            st(q0 + j, Q0 + G * a2);
            st(q1 + j, Q1 + G * b2);
        }
    }
}

/* The vertical pass of the maps a, d, p, q (u, v, u^2, v^2; m = 0..3) and,
 * when e, |v| (m = 4) into the rows o0 and o1. */
PASS void vpass2(double *const *rows, Py_ssize_t S, const double *g, int len, Py_ssize_t c, Py_ssize_t n,
                 double *const *o0, double *const *o1, int e) {
    vfold2(rows, 0, g, len, c, n, o0[0], o0[2], o1[0], o1[2], 1);
    vfold2(rows, S, g, len, c, n, o0[1], o0[3], o1[1], o1[3], 1);
    if (e) vfold2(rows, 2 * S, g, len, c, n, o0[4], NULL, o1[4], NULL, 0);
}

/* Horizontal pass of four maps together: o_m[j] = sum_k g[k] * i_m[j + k],
 * j < n (rounded up to 8). Two output vectors per map share their loads:
 * i_m[j + 4 + k] is tap k of the second and tap k + 4 of the first. */
PASS void hpass4(double *const *in, double *const *out, const double *g, int len, Py_ssize_t n) {
    const double *i0 = in[0], *i1 = in[1], *i2 = in[2], *i3 = in[3];
    for (Py_ssize_t j = 0; j < n; j += 8) {
        v4 a[4] = {{0}, {0}, {0}, {0}}, b[4] = {{0}, {0}, {0}, {0}};
        for (int m = 0; m < len + 4; m++) {
            const v4 A = ld(i0 + j + m), B = ld(i1 + j + m), C = ld(i2 + j + m), D = ld(i3 + j + m);
            if (m < len) fma4(a, g[m], A, B, C, D);
            if (m >= 4) fma4(b, g[m - 4], A, B, C, D);
        }
        store4(out, j, a);
        store4(out, j + 4, b);
    }
}

PASS void hpass1(const double *in, double *out, const double *g, int len, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j += 8) {
        v4 o0 = {0}, o1 = {0};
        for (int k = 0; k < len; k++) {
            const v4 gk = splat(g[k]);
            o0 += gk * ld(in + j + k);
            o1 += gk * ld(in + j + k + 4);
        }
        st(out + j, o0);
        st(out + j + 4, o1);
    }
}

/* dl and dc (see the header) from the filtered maps, in place: a <- dl, q <- dc. */
PASS void deficits(double *const *m, Py_ssize_t n, double c1x2, double c2x2) {
    double *a = m[0], *d = m[1], *p = m[2], *q = m[3];
    const v4 C1 = splat(c1x2), C2 = splat(c2x2);
    for (Py_ssize_t j = 0; j < n; j += 4) {
        const v4 A = ld(a + j), D = ld(d + j), Pp = ld(p + j), Q = ld(q + j);
        const v4 dd = D * D;
        const v4 s = Pp + C2 - A * A;
        const v4 t = Q - dd;
        st(q + j, t / (s + t));
        st(a + j, dd / (A * A + dd + C1));
    }
}

/* ------------------------------------------------------------------------ */
/* Working memory for one strip                                             */

typedef struct {
    double *mem;
    double **rows;      /* ring: slot pointers (2 RK entries, see ring_init) */
    double *vm[2][5];   /* vertical pass output of two rows (a, d, p, q, |v|) */
    double *hm[5];      /* horizontal pass output */
    double *prod[2];    /* zhao: product of the cs maps of two rows */
    Py_ssize_t stride;  /* doubles per plane row */
    int rk;             /* ring slots: K + 1 input rows (two output rows) */
    int absv;           /* the ring also holds |v| (zhao) */
} work_t;

static int work_alloc(work_t *W, int K, int absv) {
    W->stride = ((CBLOCK + K - 1 + 7) / 8) * 8 + PAD;
    W->rk = K + 1;
    W->absv = absv;
    const size_t ring = (size_t)W->rk * RING_PLANES * W->stride;
    W->mem = (double *)calloc(ring + 17 * (size_t)W->stride, sizeof(double));
    W->rows = (double **)malloc(sizeof(double *) * 2 * (size_t)W->rk);
    if (!W->mem || !W->rows) {
        free(W->mem);
        free(W->rows);
        return -1;
    }
    double *m = W->mem + ring;
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 5; i++) W->vm[t][i] = m + (size_t)(5 * t + i) * W->stride;
    for (int i = 0; i < 5; i++) W->hm[i] = m + (size_t)(10 + i) * W->stride;
    W->prod[0] = m + (size_t)15 * W->stride;
    W->prod[1] = m + (size_t)16 * W->stride;
    /* The ring slot of input row r is r mod RK; slot s holds the planes of
     * load_row. rows[s .. s+RK-1] are then the slots of consecutive input
     * rows starting at any row whose slot is s. */
    for (int s = 0; s < W->rk; s++) W->rows[s] = W->rows[s + W->rk] = W->mem + (size_t)s * RING_PLANES * W->stride;
    return 0;
}

static void work_free(work_t *W) {
    free(W->mem);
    free(W->rows);
}

INLINE double *const *ring_rows(const work_t *W, Py_ssize_t i) { return W->rows + i % W->rk; }

INLINE void ring_load(work_t *W, const planes_t *P, Py_ssize_t r, Py_ssize_t c0, Py_ssize_t n) {
    load_row(P, r, c0, n, W->rows[r % W->rk], W->stride, W->absv);
}

/* Bring input rows up to those needed by output rows i (and i + 1 when two) into the ring. */
INLINE void ring_advance(work_t *W, const planes_t *P, int K, Py_ssize_t r0, Py_ssize_t i, int two, Py_ssize_t c0,
                         Py_ssize_t nc) {
    if (i == r0)
        for (Py_ssize_t r = r0; r < r0 + K - 1; r++) ring_load(W, P, r, c0, nc);
    ring_load(W, P, i + K - 1, c0, nc);
    if (two) ring_load(W, P, i + K, c0, nc);
}

/* ------------------------------------------------------------------------ */
/* SSIM and MS-SSIM: horizontal pass first, four maps per vector            */

/* The SSIM kernel filters each input row horizontally once (the four maps
 * u, v, u^2, v^2 of one column block, squares formed once per sample) into
 * a ring of the last K filtered rows, then runs the vertical pass and the
 * deficits of one output row together, in registers: no filtered map is
 * stored. The rows hold the four maps of a column side by side (one vector
 * per column), so that every load of both passes is aligned and one load
 * serves several outputs of the horizontal pass (with one plane per map the
 * shifted, line-splitting loads of the horizontal pass bounded its speed);
 * 4 x 4 transposes move between the layouts. Column blocks cost no extra
 * filtering (a block's horizontal pass computes exactly its own output
 * columns), so they are small enough for the ring to stay in L1. With dec,
 * the same pass also writes msssim.m's 2x2 box decimation of the rows and
 * columns it owns (MS-SSIM's next scale). */
#define SBLOCK 64 /* output columns per column block */
#ifndef PREFETCH_ROWS
#define PREFETCH_ROWS 2
#endif
#define SSTRIDE (4 * (SBLOCK + 8)) /* doubles per ring slot */

typedef struct {
    void *mem;
    double *in;     /* one input row of a block: (u, v, u^2, v^2) per column */
    double *tmp[2][2]; /* the x and y samples of two rows as doubles (the decimation reads both) */
    double *dsum;      /* the decimation's sums of one row of a block */
    double *ring;   /* 2(K + 1) slots of SSTRIDE doubles: filtered row r in slots r mod (K+1) and that + K + 1 */
    int K;
} swork_t;

static int swork_alloc(swork_t *W, int K) {
    const Py_ssize_t cols = ((SBLOCK + K - 1 + 7) / 8) * 8 + PAD; /* input columns of a block, padded */
    W->K = K;
    const size_t n = 9 * (size_t)cols + 2 * (size_t)(K + 1) * SSTRIDE;
    W->mem = calloc(n + 8, sizeof(double));
    if (!W->mem) return -1;
    double *m = (double *)(((uintptr_t)W->mem + 63) & ~(uintptr_t)63); /* 64-byte aligned rows */
    W->in = m;
    for (int i = 0; i < 4; i++) W->tmp[i / 2][i % 2] = m + (size_t)(4 + i) * cols;
    W->dsum = m + 8 * (size_t)cols;
    W->ring = m + 9 * (size_t)cols;
    return 0;
}

static void swork_free(swork_t *W) { free(W->mem); }

/* The decimation target of the MS-SSIM pass: msssim.m's 2x2 box of x and y
 * into planes of ceil(H/2) x ceil(W/2): float64 means of x / L and y / L, or
 * (integer samples) the exact uint16 / uint32 sums of the four samples, which
 * are the next scale's samples with data range 4L. */
typedef struct {
    char *ox, *oy;
    int odt;       /* DT_F64, DT_U16 or DT_U32 */
    Py_ssize_t wd; /* ceil(W/2) */
    double top;    /* an integer sum above this does not fit odt */
    int overflow;  /* set when one did not */
} dec_t;

/* a b c d (four vectors of four columns) -> the four columns, each as (a, b, c, d) */
INLINE void transpose4(v4 a, v4 b, v4 c, v4 d, v4 o[4]) {
    const v4 ab0 = SHUF(a, b, 0, 4, 2, 6), ab1 = SHUF(a, b, 1, 5, 3, 7);
    const v4 cd0 = SHUF(c, d, 0, 4, 2, 6), cd1 = SHUF(c, d, 1, 5, 3, 7);
    o[0] = SHUF(ab0, cd0, 0, 1, 4, 5);
    o[1] = SHUF(ab1, cd1, 0, 1, 4, 5);
    o[2] = SHUF(ab0, cd0, 2, 3, 6, 7);
    o[3] = SHUF(ab1, cd1, 2, 3, 6, 7);
}

/* Input row r, columns c .. c+n-1, as (u, v, u^2, v^2) per column, u = x/L + y/L,
 * v = x/L - y/L. Samples of other types than float64 are first converted to
 * doubles in t[0] and t[1] by plain loops, which GCC vectorises well (its
 * vector conversions of 4 narrow lanes were scalar); then each column is one
 * vector, ((x, x, x, x) + (y, y, y, y) * (1, -1, 1, -1)) / L squared in its
 * upper half (no shuffles: they bounded a 4 x 4 transpose). *xs and *ys: the
 * rows of x and y as doubles, unscaled (for the decimation). */
#define TO_DOUBLE(T)                                                                      \
    do {                                                                                  \
        const T *restrict a = (const T *)(P->x + off), *restrict b = (const T *)(P->y + off); \
        double *restrict ta = t[0], *restrict tb = t[1];                                  \
        for (Py_ssize_t i = 0; i < n; i++) ta[i] = (double)a[i];                          \
        for (Py_ssize_t i = 0; i < n; i++) tb[i] = (double)b[i];                          \
    } while (0)

PASS void conv_row(const planes_t *P, Py_ssize_t r, Py_ssize_t c, Py_ssize_t n, double *o, double *const *t,
                   const double **xs, const double **ys) {
    const Py_ssize_t off = (r * P->w + c) * P->esize;
    const double *xa = t[0], *yb = t[1];
    if (r + PREFETCH_ROWS < P->h) /* the rows of a block are far apart: fetch ahead of the hardware prefetcher */
        for (Py_ssize_t b = 0; b < n * P->esize; b += 64) {
            __builtin_prefetch(P->x + off + PREFETCH_ROWS * P->w * P->esize + b);
            __builtin_prefetch(P->y + off + PREFETCH_ROWS * P->w * P->esize + b);
        }
    switch (P->dt) {
    case DT_U8: TO_DOUBLE(uint8_t); break;
    case DT_U16: TO_DOUBLE(uint16_t); break;
    case DT_U32: TO_DOUBLE(uint32_t); break;
    case DT_F32: TO_DOUBLE(float); break;
    default:
        xa = (const double *)(P->x + off);
        yb = (const double *)(P->y + off);
    }
    *xs = xa;
    *ys = yb;
    const v4 S = {1.0, -1.0, 1.0, -1.0}, I = splat(P->inv);
    for (Py_ssize_t i = 0; i < n; i++) {
        const v4 uv = (splat(xa[i]) + splat(yb[i]) * S) * I; /* (u, v, u, v) */
        st(o + 4 * i, SHUF(uv, uv * uv, 0, 1, 6, 7));
    }
}

/* Horizontal pass of one input row (four maps per column), n outputs rounded
 * up to 4: o[j] = g[h] i[j+h] + sum_{k<h} g[k] (i[j+k] + i[j+K-1-k])
 * (symmetric window, K = 2h + 1), stored at o and o2 (the ring's two copies).
 * Four outputs share their K + 3 loads. K is a constant where the caller
 * passes one. */
INLINE void hfold(const double *in, double *o, double *o2, const double *g, const int K, Py_ssize_t n) {
    const int h = K / 2;
    for (Py_ssize_t j = 0; j < n; j += 4) {
        const double *q = in + 4 * j;
        const v4 gh = splat(g[h]);
        v4 a = gh * ld(q + 4 * h), b = gh * ld(q + 4 * (h + 1)), c = gh * ld(q + 4 * (h + 2)), d = gh * ld(q + 4 * (h + 3));
        for (int k = 0; k < h; k++) {
            const v4 G = splat(g[k]);
            const double *p = q + 4 * k, *e = q + 4 * (K - 1 - k);
            a += G * (ld(p) + ld(e));
            b += G * (ld(p + 4) + ld(e + 4));
            c += G * (ld(p + 8) + ld(e + 8));
            d += G * (ld(p + 12) + ld(e + 12));
        }
        double *t = o + 4 * j, *t2 = o2 + 4 * j;
        st(t, a), st(t + 4, b), st(t + 8, c), st(t + 12, d);
        st(t2, a), st(t2 + 4, b), st(t2 + 8, c), st(t2 + 12, d);
    }
}

/* Vertical pass at column j (four maps) of output rows i and i+1, whose
 * ring rows start at R (row k at R + k SSTRIDE): rows 0..K-1 into *a and
 * 1..K into *b, each row loaded once. */
INLINE void vcol2(const double *R, const double *g, const int K, v4 *a, v4 *b) {
    const int h = K / 2;
    v4 x = ld(R), y = ld(R + K * SSTRIDE); /* x: row k of output 0; y: row K-k of output 1 */
    v4 A = {0}, B = {0};
    for (int k = 0; k < h; k++) {
        const v4 e = ld(R + (k + 1) * SSTRIDE), d = ld(R + (K - 1 - k) * SSTRIDE), G = splat(g[k]);
        A += G * (x + d);
        B += G * (e + y);
        x = e;
        y = d;
    }
    *a = A + splat(g[h]) * x; /* the centre taps: x = row h, y = row h + 1 */
    *b = B + splat(g[h]) * y;
}

/* dl and dc (see the header) of four moment vectors. With both constants
 * positive one division serves both quotients (the product of the two
 * denominators, ~3 ulp); else two divisions, so that a zero denominator
 * spoils only its own quotient. */
INLINE void deficit_pair(const v4 mom[4], v4 C1, v4 C2, int one_div, v4 *dl, v4 *dc) {
    const v4 A = mom[0], D = mom[1], Pp = mom[2], Q = mom[3];
    const v4 AA = A * A, dd = D * D, t = Q - dd;
    const v4 den_c = Pp + C2 - AA + t, den_l = AA + dd + C1;
    if (one_div) {
        const v4 r = splat(1.0) / (den_c * den_l);
        *dc = t * den_l * r;
        *dl = dd * den_c * r;
    } else {
        *dc = t / den_c;
        *dl = dd / den_l;
    }
}

/* The sums of dl, dc and dl*dc of columns j .. j+3 (those below n), and the map. */
INLINE void add_terms(const v4 mom[4], Py_ssize_t j, Py_ssize_t n, v4 C1, v4 C2, int one_div, v4 acc[3],
                      double tail[3], double *map) {
    v4 dl, dc;
    deficit_pair(mom, C1, C2, one_div, &dl, &dc);
    if (j + 4 <= n) {
        acc[0] += dl;
        acc[1] += dc;
        acc[2] += dl * dc;
        if (map) st(map + j, (splat(1.0) - splat(2.0) * dl) * (splat(1.0) - splat(2.0) * dc));
    } else { /* the last columns: the lanes below n added one by one */
        for (int l = 0; j + l < n; l++) {
            tail[0] += dl[l];
            tail[1] += dc[l];
            tail[2] += dl[l] * dc[l];
            if (map) map[j + l] = (1.0 - 2.0 * dl[l]) * (1.0 - 2.0 * dc[l]);
        }
    }
}

/* Output rows i and i+1 (R: ring rows from row i on; two == 0: row i only, the
 * second is computed from a stale slot and dropped): the sums over columns
 * 0 .. n-1 of the block, and the map rows (map1: the second). */
INLINE void srow2(const double *R, const double *g, const int K, Py_ssize_t n, v4 C1, v4 C2, int one_div, int two,
                  v4 acc[3], double tail[3], double *map0, double *map1) {
    for (Py_ssize_t j = 0; j < n; j += 4) {
        const double *q = R + 4 * j;
        v4 a0, a1, a2, a3, b0, b1, b2, b3, mom[4];
        vcol2(q, g, K, &a0, &b0);
        vcol2(q + 4, g, K, &a1, &b1);
        vcol2(q + 8, g, K, &a2, &b2);
        vcol2(q + 12, g, K, &a3, &b3);
        transpose4(a0, a1, a2, a3, mom);
        add_terms(mom, j, n, C1, C2, one_div, acc, tail, map0);
        if (two) {
            transpose4(b0, b1, b2, b3, mom);
            add_terms(mom, j, n, C1, C2, one_div, acc, tail, map1);
        }
    }
}

/* msssim.m's 2x2 box of two rows a and b of samples as doubles (b = a for
 * the mirrored last row of an odd height), output columns j0 .. j1-1 (a and b
 * start at column 2 j0); with odd, o[j1] also, from the last column
 * a[2 (j1 - j0)] mirrored. The sums run (((a[2j] + a[2j+1]) + b[2j]) + b[2j+1]),
 * the order of _filters.matlab_box_decimate (the same bits for float64 on
 * [0, 1]); float64 results are the sums times q = 1/(4L), integer ones the
 * exact sums. s: scratch of j1 - j0 + 1 doubles. */
PASS void dec_row(const double *a, const double *b, Py_ssize_t j0, Py_ssize_t j1, int odd, double q, double *s,
                  dec_t *D, char *out) {
    Py_ssize_t j = 0, n = j1 - j0;
    for (; j + 4 <= n; j += 4) { /* pairs of columns summed across the lanes of two vectors */
        const double *p = a + 2 * j, *e = b + 2 * j;
        const v4 A = ld(p), B = ld(p + 4), C = ld(e), E = ld(e + 4);
        st(s + j, ((SHUF(A, B, 0, 2, 4, 6) + SHUF(A, B, 1, 3, 5, 7)) + SHUF(C, E, 0, 2, 4, 6)) + SHUF(C, E, 1, 3, 5, 7));
    }
    for (; j < n; j++) s[j] = ((a[2 * j] + a[2 * j + 1]) + b[2 * j]) + b[2 * j + 1];
    if (odd) s[n++] = ((a[2 * j1 - 2 * j0] + a[2 * j1 - 2 * j0]) + b[2 * j1 - 2 * j0]) + b[2 * j1 - 2 * j0];
    if (D->odt == DT_F64) {
        double *restrict o = (double *)out + j0;
        for (j = 0; j < n; j++) o[j] = s[j] * q;
        return;
    }
    double top = 0;
    for (j = 0; j < n; j++) top = s[j] > top ? s[j] : top;
    if (top > D->top) {
        D->overflow = 1;
        return;
    }
    if (D->odt == DT_U16) {
        uint16_t *restrict o = (uint16_t *)out + j0;
        for (j = 0; j < n; j++) o[j] = (uint16_t)(int32_t)s[j];
    } else {
        uint32_t *restrict o = (uint32_t *)out + j0;
        for (j = 0; j < n; j++) o[j] = (uint32_t)(int64_t)s[j];
    }
}

/* dec_row's integer sums read straight from integer samples (rows ra and rb
 * of the plane at base, output columns j0 .. j1-1, and j1 with odd): exact,
 * so the same numbers, without dec_row's detour through doubles (that made
 * MS-SSIM's first pass 13 % slower than SSIM's; this, 5 %). */
#define DEC_INT(TS, TA, TO)                                                                          \
    do {                                                                                             \
        const TS *restrict a = (const TS *)(base + ra * P->w * P->esize) + 2 * j0;                   \
        const TS *restrict b = (const TS *)(base + rb * P->w * P->esize) + 2 * j0;                   \
        TO *restrict o = (TO *)out + j0;                                                             \
        TA top = 0;                                                                                  \
        for (Py_ssize_t j = 0; j < n; j++) {                                                         \
            const TA s = ((TA)a[2 * j] + (TA)a[2 * j + 1]) + ((TA)b[2 * j] + (TA)b[2 * j + 1]);      \
            top = s > top ? s : top;                                                                 \
            o[j] = (TO)s;                                                                            \
        }                                                                                            \
        if (odd) {                                                                                   \
            const TA s = (TA)2 * ((TA)a[2 * n] + (TA)b[2 * n]);                                      \
            top = s > top ? s : top;                                                                 \
            o[n] = (TO)s;                                                                            \
        }                                                                                            \
        if ((double)top > D->top) D->overflow = 1;                                                   \
    } while (0)

PASS void dec_row_int(const planes_t *P, const char *base, Py_ssize_t ra, Py_ssize_t rb, Py_ssize_t j0,
                      Py_ssize_t j1, int odd, dec_t *D, char *out) {
    const Py_ssize_t n = j1 - j0;
    if (D->odt == DT_U16) {
        if (P->dt == DT_U8) DEC_INT(uint8_t, uint16_t, uint16_t); /* 4 x 255 fits */
        else if (P->dt == DT_U16) DEC_INT(uint16_t, uint32_t, uint16_t);
        else DEC_INT(uint32_t, uint64_t, uint16_t);
    } else {
        if (P->dt == DT_U8) DEC_INT(uint8_t, uint32_t, uint32_t);
        else if (P->dt == DT_U16) DEC_INT(uint16_t, uint32_t, uint32_t);
        else DEC_INT(uint32_t, uint64_t, uint32_t);
    }
}

/* The SSIM sums of output rows r0 .. r1-1 and columns cb0 .. cb1-1 (whole
 * column blocks: cb0 a multiple of SBLOCK, cb1 too or the last column; and
 * the map rows, when map; and with dec the decimation of the input rows and
 * columns this call owns: rows r0 .. r1-1, and to the bottom when r1 is the
 * last output row, r0 then even; the columns of its blocks, and to the right
 * edge with the last block). Splitting the columns among calls costs
 * nothing (each block filters its own columns and warms its ring up
 * anyway); splitting the rows costs K - 1 warm-up rows per block. */
INLINE void ssim_strip(const planes_t *P, const double *g, const int K, double c1x2, double c2x2, Py_ssize_t r0,
                       Py_ssize_t r1, Py_ssize_t cb0, Py_ssize_t cb1, double *map, swork_t *W, double out[3],
                       dec_t *dec) {
    const Py_ssize_t wo = P->w - K + 1, ho = P->h - K + 1;
    const v4 C1 = splat(c1x2), C2 = splat(c2x2);
    const int one_div = c1x2 > 0 && c2x2 > 0;
    const Py_ssize_t own_end = r1 == ho ? P->h : r1; /* input rows decimated by this strip */
    const double q = 0.25 * P->inv;
    v4 acc[3] = {{0}, {0}, {0}};
    double tail[3] = {0, 0, 0};
    for (Py_ssize_t c0 = cb0; c0 < cb1; c0 += SBLOCK) {
        const Py_ssize_t nb = wo - c0 < SBLOCK ? wo - c0 : SBLOCK;
        const Py_ssize_t c_hi = c0 + nb == wo ? P->w : c0 + nb; /* input columns decimated by this block */
        const int odd = c_hi == P->w && (P->w & 1);
        const Py_ssize_t j0 = c0 / 2, j1 = (c_hi - odd) / 2; /* decimated columns of two real ones */
        const double *xs[2] = {NULL, NULL}, *ys[2] = {NULL, NULL}; /* rows r - 1 and r as doubles */
        for (Py_ssize_t r = r0; r < r1 + K - 1; r++) {
            conv_row(P, r, c0, nb + K - 1, W->in, W->tmp[r & 1], &xs[r & 1], &ys[r & 1]);
            if (dec && r < own_end && ((r & 1) || r == P->h - 1)) {
                /* slot 0 holds the even row: r - 1 for odd r, r itself for the mirrored last row */
                const Py_ssize_t at = (r / 2) * dec->wd * (dec->odt == DT_F64 ? 8 : dec->odt == DT_U32 ? 4 : 2);
                if (dec->odt != DT_F64) { /* integer samples: integer sums (odd r: rows r - 1 and r; else r twice) */
                    const Py_ssize_t ra = (r & 1) ? r - 1 : r;
                    dec_row_int(P, P->x, ra, r, j0, j1, odd, dec, dec->ox + at);
                    dec_row_int(P, P->y, ra, r, j0, j1, odd, dec, dec->oy + at);
                } else {
                    dec_row(xs[0], xs[r & 1], j0, j1, odd, q, W->dsum, dec, dec->ox + at);
                    dec_row(ys[0], ys[r & 1], j0, j1, odd, q, W->dsum, dec, dec->oy + at);
                }
            }
            double *slot = W->ring + (size_t)(r % (K + 1)) * SSTRIDE;
            hfold(W->in, slot, slot + (size_t)(K + 1) * SSTRIDE, g, K, nb);
            const Py_ssize_t i = r - K; /* output rows i and i + 1 are complete after an odd count of rows */
            const int pair = r >= r0 + K && ((r - r0 - K) & 1) == 0, last = r == r1 + K - 2 && ((r1 - r0) & 1);
            if (pair || last) {
                const Py_ssize_t i0 = pair ? i : r - K + 1;
                double *m0 = map ? map + (i0 - r0) * wo + c0 : NULL;
                srow2(W->ring + (size_t)(i0 % (K + 1)) * SSTRIDE, g, K, nb, C1, C2, one_div, pair, acc, tail, m0,
                      m0 ? m0 + wo : NULL);
            }
        }
    }
    for (int m = 0; m < 3; m++) out[m] = hsum(acc[m]) + tail[m];
}

IQA_HOT static void ssim_rows(const planes_t *P, const double *g, int K, double c1x2, double c2x2, Py_ssize_t r0,
                              Py_ssize_t r1, Py_ssize_t c0, Py_ssize_t c1, double *map, swork_t *W, double out[3],
                              dec_t *dec) {
    if (K == 11) /* the default window: every tap loop unrolled */
        ssim_strip(P, g, 11, c1x2, c2x2, r0, r1, c0, c1, map, W, out, dec);
    else
        ssim_strip(P, g, K, c1x2, c2x2, r0, r1, c0, c1, map, W, out, dec);
}

/* ------------------------------------------------------------------------ */
/* The zhao mixed loss                                                       */

/* Windows are centred and may be shorter than K (tails below 1e-18 trimmed
 * by the caller); the last one is the coarsest (luminance and L1 term). */
IQA_HOT static void zhao_rows(const planes_t *P, const double *const *gs, const int *lens, int nw, int K,
                              double c1x2, double c2x2, double alpha, Py_ssize_t r0, Py_ssize_t r1, work_t *W,
                              double *out) {
    const Py_ssize_t wo = P->w - K + 1;
    const int R = (K - 1) / 2;
    const v4 al = splat(alpha), be = splat(1.0 - alpha), one = splat(1.0), two_ = splat(2.0);
    v4 acc = {0};
    double tail = 0;
    for (Py_ssize_t c0 = 0; c0 < wo; c0 += CBLOCK) {
        const Py_ssize_t nb = wo - c0 < CBLOCK ? wo - c0 : CBLOCK;
        const Py_ssize_t nc = nb + K - 1;
        for (Py_ssize_t i = r0; i < r1; i += 2) {
            const int two = i + 1 < r1;
            ring_advance(W, P, K, r0, i, two, c0, nc);
            for (int s = 0; s < nw; s++) {
                const int len = lens[s], off = R - (len - 1) / 2;
                const int last = s == nw - 1;
                vpass2(ring_rows(W, i + off), W->stride, gs[s], len, off, nb + len - 1, W->vm[0], W->vm[1], last);
                for (int t = 0; t <= two; t++) {
                    hpass4(W->vm[t], W->hm, gs[s], len, nb);
                    deficits(W->hm, nb, c1x2, c2x2);
                    double *dc = W->hm[3], *pr = W->prod[t];
                    if (s == 0) {
                        for (Py_ssize_t j = 0; j < nb; j += 4) st(pr + j, one - two_ * ld(dc + j));
                    } else {
                        for (Py_ssize_t j = 0; j < nb; j += 4) st(pr + j, ld(pr + j) * (one - two_ * ld(dc + j)));
                    }
                    if (last) {
                        hpass1(W->vm[t][4], W->hm[4], gs[s], len, nb);
                        const double *dl = W->hm[0], *l1 = W->hm[4];
                        Py_ssize_t j = 0;
                        for (; j + 4 <= nb; j += 4) {
                            const v4 ms = ld(pr + j) * (one - two_ * ld(dl + j));
                            acc += al * (one - ms) + be * ld(l1 + j);
                        }
                        for (; j < nb; j++) {
                            const double ms = pr[j] * (1.0 - 2.0 * dl[j]);
                            tail += alpha * (1.0 - ms) + (1.0 - alpha) * l1[j];
                        }
                    }
                }
            }
        }
    }
    *out = hsum(acc) + tail;
}

/* ------------------------------------------------------------------------ */
/* Whole rows as doubles: the box decimations, MSE and TV                    */

/* Row r of a plane as doubles, divided by L (a division, as torch's x / L,
 * vectorised for every type: for uint8 it beat a table of the 256 quotients;
 * L = 1 is exact without dividing). */
#define ROW_TO_DOUBLE(T)                                                                  \
    do {                                                                                  \
        const T *restrict a = (const T *)base + r * w;                                    \
        if (L == 1.0)                                                                     \
            for (Py_ssize_t j = 0; j < w; j++) out[j] = (double)a[j];                     \
        else                                                                              \
            for (Py_ssize_t j = 0; j < w; j++) out[j] = (double)a[j] / L;                 \
    } while (0)

INLINE void row_to_double(const planes_t *P, const char *base, Py_ssize_t r, double L, double *restrict out) {
    const Py_ssize_t w = P->w;
    switch (P->dt) {
    case DT_U8: ROW_TO_DOUBLE(uint8_t); break;
    case DT_U16: ROW_TO_DOUBLE(uint16_t); break;
    case DT_F32: ROW_TO_DOUBLE(float); break;
    default: ROW_TO_DOUBLE(double); break;
    }
}

/* The box low-pass and decimation by f of ssim.m (imfilter with ones(f)/f^2,
 * 'symmetric', 'same', then every f-th sample from the first) and, for f = 2,
 * of msssim.m, of x / L: output sample (i, j) is the mean of input rows and
 * columns i*f - pre .. i*f - pre + f - 1, pre = floor((f+1)/2) - 1 (imfilter's
 * anchor), mirrored at the borders including the edge sample (-1 -> 0,
 * H -> H-1); ceil(H/f) x ceil(W/f) samples. Each sum runs from 0 over the
 * rows, left to right within a row, and is then divided by f*f: the order of
 * torch's avg_pool2d (and of the strided adds of _filters._box_pool), so both
 * paths give identical bits. For f = 2 and multiples of 4, four output
 * columns are summed in the lanes of one vector (their samples transposed
 * into the lanes with shuffles, the adds in the same order); other factors,
 * and the last columns, sum one output at a time. Output rows i0 .. i1-1;
 * buf: f (W + f + PAD) doubles (the f padded input rows of one output row). */

/* acc += the four columns of the 4 x 4 block with rows a, b, c, d, left to right */
INLINE v4 add_columns(v4 acc, v4 a, v4 b, v4 c, v4 d) {
    const v4 t0 = SHUF(a, b, 0, 4, 2, 6), t1 = SHUF(a, b, 1, 5, 3, 7);
    const v4 t2 = SHUF(c, d, 0, 4, 2, 6), t3 = SHUF(c, d, 1, 5, 3, 7);
    acc += SHUF(t0, t2, 0, 1, 4, 5);
    acc += SHUF(t1, t3, 0, 1, 4, 5);
    acc += SHUF(t0, t2, 2, 3, 6, 7);
    acc += SHUF(t1, t3, 2, 3, 6, 7);
    return acc;
}

IQA_HOT static void decimate_rows(const planes_t *P, const char *base, int f, double *out, Py_ssize_t i0,
                                  Py_ssize_t i1, double *buf, int raw) {
    const Py_ssize_t h = P->h, w = P->w, wo = (w + f - 1) / f, stride = w + f + PAD;
    const int pre = (f + 1) / 2 - 1, post = f - 1 - pre;
    const double area = raw ? 1.0 : (double)f * (double)f; /* raw: the sums of the samples themselves */
    const v4 A = splat(area);
    for (Py_ssize_t i = i0; i < i1; i++) {
        for (int k = 0; k < f; k++) { /* the padded input rows: pre + W + post samples each */
            double *row = buf + k * stride;
            Py_ssize_t r = i * f - pre + k;
            r = r < 0 ? -r - 1 : (r >= h ? 2 * h - 1 - r : r);
            row_to_double(P, base, r, raw ? 1.0 : P->L, row + pre);
            for (int t = 0; t < pre; t++) row[pre - 1 - t] = row[pre + t];
            for (int t = 0; t < post; t++) row[pre + w + t] = row[pre + w - 1 - t];
        }
        double *o = out + i * wo;
        Py_ssize_t j = 0;
        if (f == 2) {
            for (; j + 4 <= wo; j += 4) { /* lanes hold columns j, j+2, j+1, j+3 until the store */
                v4 acc = {0};
                for (int k = 0; k < 2; k++) {
                    const double *p = buf + k * stride + 2 * j;
                    const v4 a = ld(p), b = ld(p + 4);
                    acc += SHUF(a, b, 0, 4, 2, 6);
                    acc += SHUF(a, b, 1, 5, 3, 7);
                }
                st(o + j, SHUF(acc, acc, 0, 2, 1, 3) / A);
            }
        } else if (f % 4 == 0) {
            for (; j + 4 <= wo; j += 4) {
                v4 acc = {0};
                for (int k = 0; k < f; k++)
                    for (int m = 0; m < f; m += 4) {
                        const double *p = buf + k * stride + j * f + m;
                        acc = add_columns(acc, ld(p), ld(p + f), ld(p + 2 * f), ld(p + 3 * f));
                    }
                st(o + j, acc / A);
            }
        }
        for (; j < wo; j++) {
            double s = 0.0;
            for (int k = 0; k < f; k++) {
                const double *p = buf + k * stride + j * f;
                for (int c = 0; c < f; c++) s += p[c];
            }
            o[j] = s / area;
        }
    }
}

/* box_sums for integer samples and outputs: the f rows of a box added as
 * integers into acc (W + f + PAD uint32), its columns mirrored, then the f
 * columns of each box; exact, with no conversion to doubles. */
#define BOX_INT(T, O)                                                                      \
    do {                                                                                  \
        for (Py_ssize_t i = i0; i < i1; i++) {                                            \
            memset(acc, 0, sizeof(uint32_t) * (size_t)(pre + w + post));                  \
            for (int k = 0; k < f; k++) {                                                 \
                Py_ssize_t r = i * f - pre + k;                                           \
                r = r < 0 ? -r - 1 : (r >= h ? 2 * h - 1 - r : r);                       \
                const T *restrict a = (const T *)base + r * w;                            \
                uint32_t *restrict d = acc + pre;                                         \
                for (Py_ssize_t j = 0; j < w; j++) d[j] += a[j];                          \
            }                                                                             \
            for (int t = 0; t < pre; t++) acc[pre - 1 - t] = acc[pre + t];                \
            for (int t = 0; t < post; t++) acc[pre + w + t] = acc[pre + w - 1 - t];       \
            O *restrict o = (O *)out + i * wo;                                            \
            if (f == 2)                                                                   \
                for (Py_ssize_t j = 0; j < wo; j++) o[j] = (O)(acc[2 * j] + acc[2 * j + 1]); \
            else                                                                          \
                for (Py_ssize_t j = 0; j < wo; j++) {                                     \
                    uint32_t v = 0;                                                       \
                    for (int c = 0; c < f; c++) v += acc[j * f + c];                      \
                    o[j] = (O)v;                                                          \
                }                                                                         \
        }                                                                                 \
    } while (0)

IQA_HOT static void box_int_rows(const planes_t *P, const char *base, int f, char *out, int odt, Py_ssize_t i0,
                                 Py_ssize_t i1, uint32_t *acc) {
    const Py_ssize_t h = P->h, w = P->w, wo = (w + f - 1) / f;
    const int pre = (f + 1) / 2 - 1, post = f - 1 - pre;
    if (P->dt == DT_U8 && odt == DT_U16) BOX_INT(uint8_t, uint16_t);
    else if (P->dt == DT_U8) BOX_INT(uint8_t, uint32_t);
    else BOX_INT(uint16_t, uint32_t);
}

/* sum over rows r0 .. r1-1 of (x - y)^2, in the data's own units; buf: 2W + PAD doubles */
IQA_HOT static double sq_diff_rows(const planes_t *P, Py_ssize_t r0, Py_ssize_t r1, double *buf) {
    const Py_ssize_t w = P->w, w4 = w / 4 * 4;
    double *bx = buf, *by = buf + w + PAD;
    v4 acc = {0};
    double tail = 0;
    for (Py_ssize_t r = r0; r < r1; r++) {
        row_to_double(P, P->x, r, 1.0, bx);
        row_to_double(P, P->y, r, 1.0, by);
        for (Py_ssize_t j = 0; j < w4; j += 4) {
            const v4 d = ld(bx + j) - ld(by + j);
            acc += d * d;
        }
        for (Py_ssize_t j = w4; j < w; j++) tail += (bx[j] - by[j]) * (bx[j] - by[j]);
    }
    return hsum(acc) + tail;
}

/* Row r of x / L as doubles: float64 samples with L = 1 are read in place,
 * anything else is converted into buf. */
INLINE const double *row_of(const planes_t *P, Py_ssize_t r, double *buf) {
    if (P->dt == DT_F64 && P->L == 1.0) return (const double *)P->x + r * P->w;
    row_to_double(P, P->x, r, P->L, buf);
    return buf;
}

INLINE v4 tv_term(v4 d, int sq) { return sq ? d * d : vabs(d); }
INLINE double tv_term1(double d, int sq) { return sq ? d * d : fabs(d); }

/* One row's TV terms: horizontal differences of cur, and vertical ones
 * nxt - cur when nxt. One pass over both (each row is read once per
 * direction from L1), two accumulators per direction (the add latency, not
 * the loads, bounded the single-accumulator loop). */
INLINE void tv_row(const double *cur, const double *nxt, Py_ssize_t w, int sq, v4 acc[4], double tail[2]) {
    const Py_ssize_t wd8 = (w - 1) / 8 * 8, w4 = w / 4 * 4;
    Py_ssize_t j = 0;
    if (nxt) {
        for (; j < wd8; j += 8) {
            const v4 c0 = ld(cur + j), c1 = ld(cur + j + 4);
            acc[0] += tv_term(ld(cur + j + 1) - c0, sq);
            acc[1] += tv_term(ld(cur + j + 5) - c1, sq);
            acc[2] += tv_term(ld(nxt + j) - c0, sq);
            acc[3] += tv_term(ld(nxt + j + 4) - c1, sq);
        }
        for (Py_ssize_t k = j; k + 4 <= w4; k += 4) acc[2] += tv_term(ld(nxt + k) - ld(cur + k), sq);
        for (Py_ssize_t k = w4; k < w; k++) tail[0] += tv_term1(nxt[k] - cur[k], sq);
    } else {
        for (; j < wd8; j += 8) {
            acc[0] += tv_term(ld(cur + j + 1) - ld(cur + j), sq);
            acc[1] += tv_term(ld(cur + j + 5) - ld(cur + j + 4), sq);
        }
    }
    for (; j + 1 < w; j++) tail[1] += tv_term1(cur[j + 1] - cur[j], sq);
}

/* TV sums of x / L over rows r0 .. r1-1: vertical differences x[i+1] - x[i]
 * for i < min(r1, H-1), horizontal ones within the rows; |d| (l1) or d^2.
 * The order of the sums depends only on W and the rows, so float64 data
 * already divided by L give the same bits as the stored samples with L.
 * buf: 2W + 2 PAD doubles. */
INLINE void tv_rows_sq(const planes_t *P, Py_ssize_t r0, Py_ssize_t r1, const int sq, double *buf, double out[2]) {
    const Py_ssize_t w = P->w, h = P->h;
    double *spare[2] = {buf, buf + w + PAD};
    v4 acc[4] = {{0}, {0}, {0}, {0}};
    double tail[2] = {0, 0};
    int s = 0;
    const double *cur = row_of(P, r0, spare[s]);
    for (Py_ssize_t i = r0; i < r1; i++) {
        const double *nxt = NULL;
        if (i + 1 < h) {
            s ^= 1;
            nxt = row_of(P, i + 1, spare[s]);
        }
        tv_row(cur, nxt, w, sq, acc, tail);
        cur = nxt;
    }
    out[0] = (hsum(acc[2]) + hsum(acc[3])) + tail[0];
    out[1] = (hsum(acc[0]) + hsum(acc[1])) + tail[1];
}

IQA_HOT static void tv_rows(const planes_t *P, Py_ssize_t r0, Py_ssize_t r1, int sq, double *buf, double out[2]) {
    if (sq)
        tv_rows_sq(P, r0, r1, 1, buf, out);
    else
        tv_rows_sq(P, r0, r1, 0, buf, out);
}

/* ------------------------------------------------------------------------ */
/* Colour to luma                                                            */

/* MATLAB rgb2gray / rgb2ycbcr luma as iqa's torch code computes it:
 * y = (w0*R + w1*G) + w2*B, then y + off, then floor(y + 0.5) when rounding
 * (half away from zero for the non-negative values of integer images).
 * Every product and sum is rounded on its own (no fused multiply-add in this
 * section), so the bits equal the torch path's and a rounding tie falls on
 * the same side. Integer and float64 samples are computed in float64;
 * float32 samples in float32 with the weights rounded to float32, as torch
 * multiplies a float32 tensor by a Python float. The result is stored as
 * float64 (float32 for float32 samples) or, rounded, as uint8 / uint16
 * saturated to the type's range (NaN to 0), as MATLAB converts. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off", "no-trapping-math")
#endif
#ifdef __clang__
#define NO_CONTRACT _Pragma("clang fp contract(off)")
#else
#define NO_CONTRACT
#endif

typedef struct {
    const char *c[3];
    char *out;
    int dt, odt; /* sample and result types (DT_*) */
    Py_ssize_t w;
    double wt[3], off;
} luma_t;

/* T: sample type, U: compute type, O: result type, HI: its largest value when integer (0: float) */
#define LUMA_ROW(T, U, O, FLOOR, HI)                                                      \
    do {                                                                                  \
        const T *restrict a = (const T *)L->c[0] + i * w, *restrict b = (const T *)L->c[1] + i * w; \
        const T *restrict c = (const T *)L->c[2] + i * w;                                 \
        O *restrict o = (O *)L->out + i * w;                                              \
        const U w0 = (U)L->wt[0], w1 = (U)L->wt[1], w2 = (U)L->wt[2], off = (U)L->off;    \
        for (Py_ssize_t j = j0; j < w; j++) {                                             \
            U v = w0 * (U)a[j] + w1 * (U)b[j];                                            \
            v = v + w2 * (U)c[j];                                                         \
            if (has_off) v = v + off;                                                     \
            if (rnd) v = FLOOR(v + (U)0.5);                                               \
            if (HI) { /* NaN and negatives to 0 first, then the top: max/min instructions */ \
                v = v > 0 ? v : (U)0;                                                     \
                v = v < (U)(HI) ? v : (U)(HI);                                            \
                o[j] = (O)(int32_t)v;                                                     \
            } else                                                                        \
                o[j] = (O)v;                                                              \
        }                                                                                 \
    } while (0)

#define LUMA_OUT(T, U, FLOOR)                                                             \
    do {                                                                                  \
        if (L->odt == DT_U8) LUMA_ROW(T, U, uint8_t, FLOOR, 255);                         \
        else if (L->odt == DT_U16) LUMA_ROW(T, U, uint16_t, FLOOR, 65535);                \
        else LUMA_ROW(T, U, U, FLOOR, 0);                                                 \
    } while (0)

#define LUMA_CHUNK 512

/* uint8 samples: the row converted to doubles in L1-sized chunks, the same
 * operations as LUMA_ROW on them, then the result stored. Simple loops the
 * compiler vectorises 4 lanes wide: the direct loop, vectorised 32 bytes
 * wide, spent half its time in byte shuffles. Returns W (every column done). */
INLINE Py_ssize_t luma_row_u8(const luma_t *L, Py_ssize_t i, const int has_off, const int rnd) {
    NO_CONTRACT
    const Py_ssize_t w = L->w;
    double buf[4][LUMA_CHUNK];
    const double w0 = L->wt[0], w1 = L->wt[1], w2 = L->wt[2], off = L->off;
    for (Py_ssize_t j0 = 0; j0 < w; j0 += LUMA_CHUNK) {
        const Py_ssize_t n = w - j0 < LUMA_CHUNK ? w - j0 : LUMA_CHUNK;
        for (int k = 0; k < 3; k++) {
            const uint8_t *restrict src = (const uint8_t *)L->c[k] + i * w + j0;
            double *restrict d = buf[k];
            for (Py_ssize_t j = 0; j < n; j++) d[j] = (double)src[j];
        }
        double *restrict o = L->odt == DT_U8 ? buf[3] : (double *)L->out + i * w + j0;
        for (Py_ssize_t j = 0; j < n; j++) {
            double v = w0 * buf[0][j] + w1 * buf[1][j];
            v = v + w2 * buf[2][j];
            if (has_off) v = v + off;
            if (rnd) v = floor(v + 0.5);
            o[j] = v;
        }
        if (L->odt == DT_U8) {
            uint8_t *restrict q = (uint8_t *)L->out + i * w + j0;
            for (Py_ssize_t j = 0; j < n; j++) {
                double v = o[j];
                v = v > 0 ? v : 0.0; /* NaN and negatives to 0, then the top */
                v = v < 255.0 ? v : 255.0;
                q[j] = (uint8_t)(int32_t)v;
            }
        }
    }
    return w;
}

INLINE void luma_rows_of(const luma_t *L, Py_ssize_t r0, Py_ssize_t r1, const int has_off, const int rnd) {
    NO_CONTRACT
    const Py_ssize_t w = L->w;
    for (Py_ssize_t i = r0; i < r1; i++) {
        Py_ssize_t j0 = 0; /* LUMA_ROW starts here */
        switch (L->dt) {
        case DT_U8:
            if (L->odt == DT_U8 || L->odt == DT_F64) j0 = luma_row_u8(L, i, has_off, rnd);
            LUMA_OUT(uint8_t, double, floor);
            break;
        case DT_U16: LUMA_OUT(uint16_t, double, floor); break;
        case DT_F32: LUMA_OUT(float, float, floorf); break;
        default: LUMA_OUT(double, double, floor); break;
        }
    }
}

IQA_HOT static void luma_rows(const luma_t *L, Py_ssize_t r0, Py_ssize_t r1, int rnd) {
    NO_CONTRACT
    const int has_off = L->off != 0.0;
    if (has_off && rnd) luma_rows_of(L, r0, r1, 1, 1);
    else if (has_off) luma_rows_of(L, r0, r1, 1, 0);
    else if (rnd) luma_rows_of(L, r0, r1, 0, 1);
    else luma_rows_of(L, r0, r1, 0, 0);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* ------------------------------------------------------------------------ */
/* Python bindings                                                           */

static int dtype_of(const Py_buffer *b) {
    const char *f = b->format ? b->format : "B";
    if (*f == '@' || *f == '=' || *f == '<') f++;
    if (f[0] && f[1]) return -1;
    switch (*f) {
    case 'B': return b->itemsize == 1 ? DT_U8 : -1;
    case 'H': return b->itemsize == 2 ? DT_U16 : -1;
    case 'I':
    case 'L': return b->itemsize == 4 ? DT_U32 : -1;
    case 'f': return b->itemsize == 4 ? DT_F32 : -1;
    case 'd': return b->itemsize == 8 ? DT_F64 : -1;
    }
    return -1;
}

/* Get x and y as 2-D C-contiguous buffers of the same supported type and shape. */
static int get_planes_of(PyObject *xo, PyObject *yo, double L, Py_buffer *bx, Py_buffer *by, planes_t *P, int u32) {
    if (PyObject_GetBuffer(xo, bx, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (PyObject_GetBuffer(yo, by, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(bx);
        return -1;
    }
    int dt = dtype_of(bx);
    if (bx->ndim != 2 || by->ndim != 2 || bx->shape[0] != by->shape[0] || bx->shape[1] != by->shape[1]) {
        PyErr_SetString(PyExc_ValueError, "x and y must be 2-D arrays of the same shape");
    } else if (dt < 0 || dtype_of(by) != dt || (dt == DT_U32 && !u32)) {
        PyErr_SetString(PyExc_TypeError, u32 ? "x and y must both be uint8, uint16, uint32, float32 or float64"
                                              : "x and y must both be uint8, uint16, float32 or float64");
    } else if (!(L > 0)) {
        PyErr_SetString(PyExc_ValueError, "L must be positive");
    } else {
        P->x = (const char *)bx->buf;
        P->y = (const char *)by->buf;
        P->dt = dt;
        P->h = bx->shape[0];
        P->w = bx->shape[1];
        P->esize = bx->itemsize;
        P->L = L;
        P->inv = 1.0 / L;
        return 0;
    }
    PyBuffer_Release(bx);
    PyBuffer_Release(by);
    return -1;
}

static int get_planes(PyObject *xo, PyObject *yo, double L, Py_buffer *bx, Py_buffer *by, planes_t *P) {
    return get_planes_of(xo, yo, L, bx, by, P, 0);
}

static int get_taps(PyObject *o, Py_buffer *b) {
    if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (dtype_of(b) != DT_F64 || b->ndim != 1 || b->shape[0] < 1 || b->shape[0] % 2 == 0) {
        PyBuffer_Release(b);
        PyErr_SetString(PyExc_ValueError, "a window must be a 1-D float64 array of odd length");
        return -1;
    }
    const double *g = (const double *)b->buf;
    const Py_ssize_t n = b->shape[0];
    for (Py_ssize_t k = 0; k < n / 2; k++)
        if (g[k] != g[n - 1 - k]) {
            PyBuffer_Release(b);
            PyErr_SetString(PyExc_ValueError, "a window must be symmetric (g[k] == g[len-1-k])");
            return -1;
        }
    return 0;
}

static int check_rows(const planes_t *P, int K, Py_ssize_t r0, Py_ssize_t r1) {
    if (P->h < K || P->w < K) {
        PyErr_Format(PyExc_ValueError, "image of %zdx%zd px is smaller than the %dx%d window", P->w, P->h, K, K);
        return -1;
    }
    if (r0 < 0 || r1 > P->h - K + 1 || r0 >= r1) {
        PyErr_SetString(PyExc_ValueError, "output rows out of range");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(ssim_sums_doc,
             "ssim_sums(x, y, L, window, c1x2, c2x2, r0, r1, map=None, dec_x=None, dec_y=None)\n"
             "    -> (sum_dl, sum_dc, sum_dl_dc)\n\n"
             "Sums of the SSIM deficits over valid output rows r0 .. r1-1 of two 2-D planes\n"
             "(uint8, uint16, uint32, float32 or float64, C-contiguous) on the [0, L] scale. If\n"
             "map is given (a writable float64 buffer of (r1-r0) x (W-K+1)), the SSIM map rows\n"
             "are written into it. With dec_x and dec_y (writable buffers of ceil(H/2) x\n"
             "ceil(W/2)), the same pass writes msssim.m's 2x2 box decimation of the input rows\n"
             "r0 .. r1-1 (to the last row when r1 is the last output row; r0 must then be even\n"
             "and r1 even or the last output row): float64 means of x / L and y / L, or for\n"
             "integer samples uint16 or uint32 exact sums of the four samples (data range 4L;\n"
             "OverflowError if one does not fit). c0, c1: output columns c0 .. c1-1 only, in whole\n"
             "blocks of BLOCK columns (c1 may be W-K+1); the map and dec are written there only.");

static int get_out(PyObject *o, Py_buffer *b, Py_ssize_t rows, Py_ssize_t cols, const char *what) {
    if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) return -1;
    if (dtype_of(b) != DT_F64 || b->len != (Py_ssize_t)sizeof(double) * rows * cols) {
        PyBuffer_Release(b);
        PyErr_Format(PyExc_ValueError, "%s must be a writable float64 buffer of %zd x %zd", what, rows, cols);
        return -1;
    }
    return 0;
}

static int get_dec(PyObject *o, Py_buffer *b, Py_ssize_t rows, Py_ssize_t cols, const char *what) {
    if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) return -1;
    const int dt = dtype_of(b);
    if ((dt != DT_F64 && dt != DT_U16 && dt != DT_U32) || b->len != b->itemsize * rows * cols) {
        PyBuffer_Release(b);
        PyErr_Format(PyExc_ValueError, "%s must be a writable float64, uint16 or uint32 buffer of %zd x %zd", what,
                     rows, cols);
        return -1;
    }
    return 0;
}

static PyObject *py_ssim_sums(PyObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"x", "y", "L", "window", "c1x2", "c2x2", "r0", "r1", "map", "dec_x", "dec_y", "c0", "c1",
                            NULL};
    PyObject *xo, *yo, *go, *mo = Py_None, *dxo = Py_None, *dyo = Py_None;
    double L, c1x2, c2x2;
    Py_ssize_t r0, r1, c0 = 0, c1 = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOdOddnn|OOOnn", names, &xo, &yo, &L, &go, &c1x2, &c2x2, &r0, &r1,
                                     &mo, &dxo, &dyo, &c0, &c1))
        return NULL;
    Py_buffer bx, by, bg, bm, bdx, bdy;
    planes_t P;
    if (get_planes_of(xo, yo, L, &bx, &by, &P, 1) < 0) return NULL;
    PyObject *result = NULL;
    int have_map = 0, have_dec = 0;
    if (get_taps(go, &bg) < 0) goto done_planes;
    const int K = (int)bg.shape[0];
    if (check_rows(&P, K, r0, r1) < 0) goto done_taps;
    const Py_ssize_t wo = P.w - K + 1;
    if (c1 < 0) c1 = wo;
    if (c0 < 0 || c0 >= c1 || c1 > wo || c0 % SBLOCK || (c1 % SBLOCK && c1 != wo)) {
        PyErr_Format(PyExc_ValueError, "output columns c0 .. c1 must be whole blocks of %d (or end at %zd)", SBLOCK, wo);
        goto done_taps;
    }
    if (mo != Py_None) {
        if (get_out(mo, &bm, r1 - r0, wo, "map") < 0) goto done_taps;
        have_map = 1;
    }
    dec_t dec;
    if ((dxo == Py_None) != (dyo == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "dec_x and dec_y must both be given or both be None");
        goto done_out;
    }
    if (dxo != Py_None) {
        const Py_ssize_t hd = (P.h + 1) / 2, wd = (P.w + 1) / 2;
        if ((r0 & 1) || ((r1 & 1) && r1 != P.h - K + 1)) {
            PyErr_SetString(PyExc_ValueError, "with dec, r0 must be even and r1 even or the last output row");
            goto done_out;
        }
        if (get_dec(dxo, &bdx, hd, wd, "dec_x") < 0) goto done_out;
        if (get_dec(dyo, &bdy, hd, wd, "dec_y") < 0) {
            PyBuffer_Release(&bdx);
            goto done_out;
        }
        have_dec = 1;
        dec.odt = dtype_of(&bdx);
        if (dtype_of(&bdy) != dec.odt || (dec.odt != DT_F64 && P.dt != DT_U8 && P.dt != DT_U16 && P.dt != DT_U32)) {
            PyErr_SetString(PyExc_TypeError, "dec_x and dec_y: both float64, or for integer samples both uint16 or "
                                             "both uint32");
            goto done_out;
        }
        dec.ox = (char *)bdx.buf;
        dec.oy = (char *)bdy.buf;
        dec.wd = wd;
        dec.top = dec.odt == DT_U16 ? 65535.0 : 4294967295.0;
        dec.overflow = 0;
    }
    swork_t W;
    if (swork_alloc(&W, K) < 0) {
        PyErr_NoMemory();
        goto done_out;
    }
    double out[3];
    Py_BEGIN_ALLOW_THREADS
    ssim_rows(&P, (const double *)bg.buf, K, c1x2, c2x2, r0, r1, c0, c1, have_map ? (double *)bm.buf : NULL, &W, out,
              have_dec ? &dec : NULL);
    Py_END_ALLOW_THREADS
    swork_free(&W);
    if (have_dec && dec.overflow)
        PyErr_SetString(PyExc_OverflowError, "a sum of the 2x2 decimation does not fit the integer type of dec_x");
    else
        result = Py_BuildValue("(ddd)", out[0], out[1], out[2]);
done_out:
    if (have_dec) {
        PyBuffer_Release(&bdx);
        PyBuffer_Release(&bdy);
    }
    if (have_map) PyBuffer_Release(&bm);
done_taps:
    PyBuffer_Release(&bg);
done_planes:
    PyBuffer_Release(&bx);
    PyBuffer_Release(&by);
    return result;
}

PyDoc_STRVAR(zhao_sum_doc,
             "zhao_sum(x, y, L, windows, c1x2, c2x2, alpha, r0, r1) -> float\n\n"
             "Sum of the zhao mixed-loss map alpha*(1 - l_M * prod_j cs_j) + (1-alpha)*(g_M * |x-y|)/L\n"
             "over valid output rows r0 .. r1-1. windows: centred 1-D float64 arrays of odd\n"
             "length; the longest sets the valid region; the last is the coarsest.");

#define MAX_WINDOWS 8

static PyObject *py_zhao_sum(PyObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"x", "y", "L", "windows", "c1x2", "c2x2", "alpha", "r0", "r1", NULL};
    PyObject *xo, *yo, *wo;
    double L, c1x2, c2x2, alpha;
    Py_ssize_t r0, r1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOdOdddnn", names, &xo, &yo, &L, &wo, &c1x2, &c2x2, &alpha, &r0, &r1))
        return NULL;
    PyObject *seq = PySequence_Fast(wo, "windows must be a sequence");
    if (!seq) return NULL;
    const Py_ssize_t nw = PySequence_Fast_GET_SIZE(seq);
    if (nw < 1 || nw > MAX_WINDOWS) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "between 1 and 8 windows");
        return NULL;
    }
    Py_buffer bw[MAX_WINDOWS], bx, by;
    const double *gs[MAX_WINDOWS];
    int lens[MAX_WINDOWS];
    Py_ssize_t got = 0;
    PyObject *result = NULL;
    int K = 0;
    for (; got < nw; got++) {
        if (get_taps(PySequence_Fast_GET_ITEM(seq, got), &bw[got]) < 0) goto done;
        gs[got] = (const double *)bw[got].buf;
        lens[got] = (int)bw[got].shape[0];
        if (lens[got] > K) K = lens[got];
    }
    planes_t P;
    if (get_planes(xo, yo, L, &bx, &by, &P) < 0) goto done;
    if (check_rows(&P, K, r0, r1) == 0) {
        work_t W;
        if (work_alloc(&W, K, 1) < 0) {
            PyErr_NoMemory();
        } else {
            double out;
            Py_BEGIN_ALLOW_THREADS
            zhao_rows(&P, gs, lens, (int)nw, K, c1x2, c2x2, alpha, r0, r1, &W, &out);
            Py_END_ALLOW_THREADS
            work_free(&W);
            result = PyFloat_FromDouble(out);
        }
    }
    PyBuffer_Release(&bx);
    PyBuffer_Release(&by);
done:
    for (Py_ssize_t i = 0; i < got; i++) PyBuffer_Release(&bw[i]);
    Py_DECREF(seq);
    return result;
}

PyDoc_STRVAR(decimate_doc,
             "decimate(x, y, L, f, out_x, out_y, i0, i1)\n\n"
             "ssim.m's (and for f = 2 msssim.m's) f x f box low-pass and decimation of two\n"
             "planes (y and out_y None: x alone), divided by L, into float64 buffers of\n"
             "ceil(H/f) x ceil(W/f): output rows i0 .. i1-1. Needs f - 1 - floor((f+1)/2 - 1)\n"
             "<= min(H, W) (one mirror per border).");

static PyObject *py_decimate(PyObject *self, PyObject *args) {
    PyObject *xo, *yo, *ox, *oy;
    double L;
    int f;
    Py_ssize_t i0, i1;
    if (!PyArg_ParseTuple(args, "OOdiOOnn", &xo, &yo, &L, &f, &ox, &oy, &i0, &i1)) return NULL;
    const int two = yo != Py_None; /* y and out_y may both be None: x alone */
    if (two != (oy != Py_None)) {
        PyErr_SetString(PyExc_ValueError, "y and out_y must both be given or both be None");
        return NULL;
    }
    Py_buffer bx, by, bo[2];
    planes_t P;
    if (get_planes(xo, two ? yo : xo, L, &bx, &by, &P) < 0) return NULL;
    PyObject *outs[2] = {ox, oy}, *result = NULL;
    int got = 0;
    double *buf = NULL;
    if (f < 2 || f > 4096 || f - 1 - ((f + 1) / 2 - 1) > (P.h < P.w ? P.h : P.w)) {
        PyErr_SetString(PyExc_ValueError, "decimation factor out of range for this image");
        goto done;
    }
    const Py_ssize_t ho = (P.h + f - 1) / f, wo = (P.w + f - 1) / f;
    if (i0 < 0 || i1 > ho || i0 >= i1) {
        PyErr_SetString(PyExc_ValueError, "rows out of range");
        goto done;
    }
    for (; got < 1 + two; got++) {
        if (PyObject_GetBuffer(outs[got], &bo[got], PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) goto done;
        if (dtype_of(&bo[got]) != DT_F64 || bo[got].len != (Py_ssize_t)sizeof(double) * ho * wo) {
            PyErr_SetString(PyExc_ValueError, "outputs must be writable float64 buffers of ceil(H/f) x ceil(W/f)");
            got++;
            goto done;
        }
    }
    buf = (double *)malloc(sizeof(double) * (size_t)f * (size_t)(P.w + f + PAD));
    if (!buf) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    decimate_rows(&P, P.x, f, (double *)bo[0].buf, i0, i1, buf, 0);
    if (two) decimate_rows(&P, P.y, f, (double *)bo[1].buf, i0, i1, buf, 0);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(buf);
    for (int i = 0; i < got; i++) PyBuffer_Release(&bo[i]);
    PyBuffer_Release(&bx);
    PyBuffer_Release(&by);
    return result;
}

PyDoc_STRVAR(box_sums_doc,
             "box_sums(x, y, f, out_x, out_y, i0, i1)\n\n"
             "The sums of ssim.m's f x f boxes (imfilter's anchor, mirrored borders, every f-th\n"
             "sample) of the samples of two planes, not divided by anything: the decimated\n"
             "image with data range f*f*L. Outputs of ceil(H/f) x ceil(W/f): float64, or for\n"
             "uint8 and uint16 samples uint16 or uint32 (OverflowError unless every sum of\n"
             "the type's samples fits); rows i0 .. i1-1. Integer sums are exact.");

static PyObject *py_box_sums(PyObject *self, PyObject *args) {
    PyObject *xo, *yo, *ox, *oy;
    int f;
    Py_ssize_t i0, i1;
    if (!PyArg_ParseTuple(args, "OOiOOnn", &xo, &yo, &f, &ox, &oy, &i0, &i1)) return NULL;
    Py_buffer bx, by, bo[2];
    planes_t P;
    if (get_planes(xo, yo, 1.0, &bx, &by, &P) < 0) return NULL;
    PyObject *outs[2] = {ox, oy}, *result = NULL;
    int got = 0, odt = -1;
    double *buf = NULL;
    if (f < 2 || f > 4096 || f - 1 - ((f + 1) / 2 - 1) > (P.h < P.w ? P.h : P.w)) {
        PyErr_SetString(PyExc_ValueError, "decimation factor out of range for this image");
        goto done;
    }
    const Py_ssize_t ho = (P.h + f - 1) / f, wo = (P.w + f - 1) / f;
    if (i0 < 0 || i1 > ho || i0 >= i1) {
        PyErr_SetString(PyExc_ValueError, "rows out of range");
        goto done;
    }
    for (; got < 2; got++) {
        if (get_dec(outs[got], &bo[got], ho, wo, got ? "out_y" : "out_x") < 0) goto done;
        const int dt = dtype_of(&bo[got]);
        if ((got && dt != odt) || (dt != DT_F64 && P.dt != DT_U8 && P.dt != DT_U16)) {
            PyErr_SetString(PyExc_TypeError, "out_x and out_y: both float64, or for integer samples both uint16 or "
                                             "both uint32");
            got++;
            goto done;
        }
        odt = dt;
    }
    buf = (double *)malloc(sizeof(double) * (size_t)(f + 1) * (size_t)(P.w + f + PAD));
    if (!buf) {
        PyErr_NoMemory();
        goto done;
    }
    const double top = (P.dt == DT_U8 ? 255.0 : 65535.0) * f * f; /* the largest possible sum */
    if (odt != DT_F64 && top > (odt == DT_U16 ? 65535.0 : 4294967295.0)) {
        PyErr_SetString(PyExc_OverflowError, "the box sums of these samples may not fit the integer type of the "
                                             "outputs");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    if (odt == DT_F64) {
        decimate_rows(&P, P.x, f, (double *)bo[0].buf, i0, i1, buf, 1);
        decimate_rows(&P, P.y, f, (double *)bo[1].buf, i0, i1, buf, 1);
    } else {
        box_int_rows(&P, P.x, f, (char *)bo[0].buf, odt, i0, i1, (uint32_t *)buf);
        box_int_rows(&P, P.y, f, (char *)bo[1].buf, odt, i0, i1, (uint32_t *)buf);
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(buf);
    for (int i = 0; i < got; i++) PyBuffer_Release(&bo[i]);
    PyBuffer_Release(&bx);
    PyBuffer_Release(&by);
    return result;
}

PyDoc_STRVAR(luma_doc,
             "luma(r, g, b, out, w0, w1, w2, offset, round, r0, r1)\n\n"
             "Rows r0 .. r1-1 of out = (w0*r + w1*g) + w2*b (+ offset when it is not 0), then\n"
             "floor(v + 0.5) with round; each operation rounded on its own, as torch computes it.\n"
             "r, g, b: 2-D C-contiguous planes of one type (uint8, uint16, float32, float64);\n"
             "out: a writable plane of their shape, float32 for float32 samples, else float64,\n"
             "or with round uint8 / uint16 (saturated to the type's range, NaN to 0, as MATLAB).");

static PyObject *py_luma(PyObject *self, PyObject *args) {
    PyObject *co[3], *oo;
    double wt[3], off;
    int rnd;
    Py_ssize_t r0, r1;
    if (!PyArg_ParseTuple(args, "OOOOddddpnn", &co[0], &co[1], &co[2], &oo, &wt[0], &wt[1], &wt[2], &off, &rnd,
                          &r0, &r1))
        return NULL;
    Py_buffer b[4];
    int got = 0;
    PyObject *result = NULL;
    luma_t L;
    for (; got < 4; got++)
        if (PyObject_GetBuffer(got < 3 ? co[got] : oo, &b[got],
                               PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (got == 3 ? PyBUF_WRITABLE : 0)) < 0)
            goto done;
    const int dt = dtype_of(&b[0]);
    if (dt < 0 || dtype_of(&b[1]) != dt || dtype_of(&b[2]) != dt) {
        PyErr_SetString(PyExc_TypeError, "r, g and b must all be uint8, uint16, float32 or float64");
        goto done;
    }
    for (int i = 0; i < 4; i++)
        if (b[i].ndim != 2 || b[i].shape[0] != b[0].shape[0] || b[i].shape[1] != b[0].shape[1]) {
            PyErr_SetString(PyExc_ValueError, "r, g, b and out must be 2-D arrays of the same shape");
            goto done;
        }
    const int odt = dtype_of(&b[3]);
    if (!(odt == (dt == DT_F32 ? DT_F32 : DT_F64) || (rnd && (odt == DT_U8 || odt == DT_U16)))) {
        PyErr_SetString(PyExc_TypeError, "out must be float32 for float32 samples, else float64, or with round "
                                         "uint8 or uint16");
        goto done;
    }
    if (r0 < 0 || r1 > b[0].shape[0] || r0 >= r1) {
        PyErr_SetString(PyExc_ValueError, "rows out of range");
        goto done;
    }
    for (int i = 0; i < 3; i++) {
        L.c[i] = (const char *)b[i].buf;
        L.wt[i] = wt[i];
    }
    L.out = (char *)b[3].buf;
    L.dt = dt;
    L.odt = odt;
    L.w = b[0].shape[1];
    L.off = off;
    Py_BEGIN_ALLOW_THREADS
    luma_rows(&L, r0, r1, rnd);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    return result;
}

static int plain_rows(const planes_t *P, Py_ssize_t r0, Py_ssize_t r1) {
    if (r0 < 0 || r1 > P->h || r0 >= r1) {
        PyErr_SetString(PyExc_ValueError, "rows out of range");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(sq_diff_sum_doc, "sq_diff_sum(x, y, r0, r1) -> float\n\nSum of (x - y)^2 over rows r0 .. r1-1 of two 2-D planes.");

static PyObject *py_sq_diff_sum(PyObject *self, PyObject *args) {
    PyObject *xo, *yo;
    Py_ssize_t r0, r1;
    if (!PyArg_ParseTuple(args, "OOnn", &xo, &yo, &r0, &r1)) return NULL;
    Py_buffer bx, by;
    planes_t P;
    if (get_planes(xo, yo, 1.0, &bx, &by, &P) < 0) return NULL;
    PyObject *result = NULL;
    if (plain_rows(&P, r0, r1) == 0) {
        double v, *buf = (double *)calloc(2 * (size_t)(P.w + PAD), sizeof(double));
        if (!buf) {
            PyErr_NoMemory();
        } else {
            Py_BEGIN_ALLOW_THREADS
            v = sq_diff_rows(&P, r0, r1, buf);
            Py_END_ALLOW_THREADS
            free(buf);
            result = PyFloat_FromDouble(v);
        }
    }
    PyBuffer_Release(&bx);
    PyBuffer_Release(&by);
    return result;
}

PyDoc_STRVAR(tv_sums_doc,
             "tv_sums(x, L, r0, r1, squared) -> (sum_h, sum_w)\n\n"
             "Total-variation sums of x / L over rows r0 .. r1-1 of a 2-D plane: |d| (or d^2 when\n"
             "squared) of the vertical differences x[i+1] - x[i] (i < H-1) and the horizontal ones.");

static PyObject *py_tv_sums(PyObject *self, PyObject *args) {
    PyObject *xo;
    double L;
    Py_ssize_t r0, r1;
    int sq;
    if (!PyArg_ParseTuple(args, "Odnnp", &xo, &L, &r0, &r1, &sq)) return NULL;
    Py_buffer bx, by;
    planes_t P;
    if (get_planes(xo, xo, L, &bx, &by, &P) < 0) return NULL;
    PyObject *result = NULL;
    if (plain_rows(&P, r0, r1) == 0) {
        double out[2], *buf = (double *)calloc(2 * (size_t)(P.w + PAD), sizeof(double));
        if (!buf) {
            PyErr_NoMemory();
        } else {
            Py_BEGIN_ALLOW_THREADS
            tv_rows(&P, r0, r1, sq, buf, out);
            Py_END_ALLOW_THREADS
            free(buf);
            result = Py_BuildValue("(dd)", out[0], out[1]);
        }
    }
    PyBuffer_Release(&bx);
    PyBuffer_Release(&by);
    return result;
}

static PyMethodDef methods[] = {
    {"ssim_sums", (PyCFunction)(void (*)(void))py_ssim_sums, METH_VARARGS | METH_KEYWORDS, ssim_sums_doc},
    {"zhao_sum", (PyCFunction)(void (*)(void))py_zhao_sum, METH_VARARGS | METH_KEYWORDS, zhao_sum_doc},
    {"decimate", py_decimate, METH_VARARGS, decimate_doc},
    {"box_sums", py_box_sums, METH_VARARGS, box_sums_doc},
    {"luma", py_luma, METH_VARARGS, luma_doc},
    {"sq_diff_sum", py_sq_diff_sum, METH_VARARGS, sq_diff_sum_doc},
    {"tv_sums", py_tv_sums, METH_VARARGS, tv_sums_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "iqa's float64 CPU kernels (see _cpu.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddIntConstant(m, "BLOCK", SBLOCK) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
