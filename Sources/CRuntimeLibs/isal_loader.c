#define _GNU_SOURCE
#include "ckpt_isal.h"
#include "ckpt_deflate.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<isa-l/igzip_lib.h>)
#include <isa-l/igzip_lib.h>
#define CKPT_HAVE_ISAL_HEADERS 1
#else
#define CKPT_HAVE_ISAL_HEADERS 0
#endif

typedef uint32_t (*crc32_fn)(uint32_t, const unsigned char *, uint64_t);
static crc32_fn p_crc32;
static int loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#if CKPT_HAVE_ISAL_HEADERS
typedef void (*init_fn)(struct isal_zstream *);
typedef int (*deflate_fn)(struct isal_zstream *);
static init_fn p_stateless_init;
static deflate_fn p_stateless;

struct ckpt_isal_deflater {
    struct isal_zstream stream;
    uint8_t level_buf[ISAL_DEF_LVL1_DEFAULT];
};
#endif

static void load(void) {
#if CKPT_HAVE_ISAL_HEADERS
    const char *off = getenv("CKPT_NO_ISAL");
    if (off && off[0] && strcmp(off, "0") != 0) return;
    if (ckpt_pretend_missing("isal")) return;
    const char *names[] = {"libisal.so.2", "libisal.so", NULL};
    void *h = NULL;
    for (int i = 0; names[i] && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    p_stateless_init = (init_fn)dlsym(h, "isal_deflate_stateless_init");
    p_stateless = (deflate_fn)dlsym(h, "isal_deflate_stateless");
    p_crc32 = (crc32_fn)dlsym(h, "crc32_gzip_refl");
    loaded = p_stateless_init && p_stateless && p_crc32;
#endif
}

int ckpt_isal_available(void) {
    pthread_once(&once, load);
    return loaded;
}

void *ckpt_isal_deflater_alloc(void) {
#if CKPT_HAVE_ISAL_HEADERS
    if (!ckpt_isal_available()) return NULL;
    return calloc(1, sizeof(struct ckpt_isal_deflater));
#else
    return NULL;
#endif
}

void ckpt_isal_deflater_free(void *d) { free(d); }

size_t ckpt_isal_deflate_bound(size_t n) {
    /* Stored blocks cost 5 bytes per 65,535; a Huffman block never needs more than ~n/8 extra;
     * plus block headers and the flush marker. */
    return n + n / 8 + 4096;
}

int ckpt_isal_deflate_fragment(void *deflater, const void *in, size_t n, void *out, size_t cap, int finish,
                               size_t *produced) {
    *produced = 0;
#if CKPT_HAVE_ISAL_HEADERS
    if (!deflater || !loaded || n > (size_t)UINT32_MAX / 2 || cap > (size_t)UINT32_MAX) return -100;
    struct ckpt_isal_deflater *d = deflater;
    struct isal_zstream *s = &d->stream;
    p_stateless_init(s);
    s->level = 1;
    s->level_buf = d->level_buf;
    s->level_buf_size = sizeof(d->level_buf);
    s->next_in = (uint8_t *)in;
    s->avail_in = (uint32_t)n;
    s->next_out = out;
    s->avail_out = (uint32_t)cap;
    s->end_of_stream = finish ? 1 : 0;
    s->flush = finish ? NO_FLUSH : FULL_FLUSH;
    int rc = p_stateless(s);
    if (rc != COMP_OK) return rc;
    if (s->avail_in != 0) return -101;
    size_t m = s->total_out;
    /* Small or incompressible input comes out as stored blocks, byte-aligned but without the
     * empty stored block of a full flush: add it, so that every fragment ends as spec §2 says. */
    static const uint8_t marker[5] = {0x00, 0x00, 0x00, 0xFF, 0xFF};
    uint8_t *o = out;
    if (!finish && (m < 4 || memcmp(o + m - 4, marker + 1, 4) != 0)) {
        if (cap - m < sizeof(marker)) return -102;
        memcpy(o + m, marker, sizeof(marker));
        m += sizeof(marker);
    }
    *produced = m;
    return 0;
#else
    (void)deflater; (void)in; (void)n; (void)out; (void)cap; (void)finish;
    return -100;
#endif
}

uint32_t ckpt_isal_crc32(uint32_t crc, const void *buffer, size_t len) { return p_crc32(crc, buffer, len); }
