#ifndef CKPT_DEFLATE_H
#define CKPT_DEFLATE_H
#include <stddef.h>
#include <stdint.h>

/* libdeflate (Debian: libdeflate0), loaded with dlopen when present: a faster whole-buffer
 * inflater (~1.5x zlib) and a faster CRC-32. Everything falls back to zlib when it is absent or
 * when CKPT_NO_LIBDEFLATE=1 is set, or CKPT_PRETEND_MISSING lists "libdeflate". */

/* 1 if the comma-separated list in $CKPT_PRETEND_MISSING names `id` ("hdf5", "libdeflate"): the
 * loaders then behave as on a machine without that library (the tests' bare-machine switch). */
int ckpt_pretend_missing(const char *id);

/* 1 if libdeflate was loaded (loads on first call; thread-safe). */
int ckpt_libdeflate_available(void);

/* A decompressor, or NULL. Free with ckpt_libdeflate_free. */
void *ckpt_libdeflate_alloc(void);
void ckpt_libdeflate_free(void *decompressor);

/* libdeflate_deflate_decompress_ex: 0 success, 1 bad data, 2 short output, 3 insufficient space,
 * -1 unavailable. */
int ckpt_libdeflate_decompress(void *decompressor, const void *in, size_t in_nbytes, void *out, size_t out_nbytes,
                               size_t *in_used, size_t *out_used);

/* libdeflate_crc32; only valid when ckpt_libdeflate_available() returned 1. */
uint32_t ckpt_libdeflate_crc32(uint32_t crc, const void *buffer, size_t len);
#endif
