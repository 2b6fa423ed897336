#ifndef CKPT_ISAL_H
#define CKPT_ISAL_H
#include <stddef.h>
#include <stdint.h>

/* ISA-L (Intel's Intelligent Storage Acceleration Library; Debian: libisal2), loaded with dlopen
 * when present: deflate at level 1 about ten times zlib's Huffman-only speed on float weights at
 * the same ratio, and a CRC-32 at least as fast as libdeflate's. The output is an ordinary raw
 * deflate stream. Unavailable (zlib is used) when the library is absent, when the package was
 * built without ISA-L's headers (Debian: libisal-dev; they give the stream's layout), when
 * CKPT_NO_ISAL=1 is set, or when CKPT_PRETEND_MISSING lists "isal". */

/* 1 if ISA-L was loaded (loads on first call; thread-safe). */
int ckpt_isal_available(void);

/* A level-1 deflater (stream + level buffer), or NULL. Free with ckpt_isal_deflater_free. */
void *ckpt_isal_deflater_alloc(void);
void ckpt_isal_deflater_free(void *deflater);

/* Room that ckpt_isal_deflate_fragment needs for `n` input bytes. */
size_t ckpt_isal_deflate_bound(size_t n);

/* Deflates `in` as one independent fragment (no history from earlier calls): ended by a full
 * flush (an empty stored block, byte-aligned) or, with `finish`, by the final block. Writes at
 * most `cap` bytes (cap >= ckpt_isal_deflate_bound(n)) and stores the count in *produced.
 * 0 on success, otherwise ISA-L's error code (or -100 unavailable / too large). */
int ckpt_isal_deflate_fragment(void *deflater, const void *in, size_t n, void *out, size_t cap, int finish,
                               size_t *produced);

/* crc32_gzip_refl: the CRC-32 of ZIP and zlib, continuing from `crc`; only valid when
 * ckpt_isal_available() returned 1. */
uint32_t ckpt_isal_crc32(uint32_t crc, const void *buffer, size_t len);
#endif
