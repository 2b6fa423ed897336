#define _GNU_SOURCE
#include "ckpt_deflate.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*alloc_fn)(void);
typedef void (*free_fn)(void *);
typedef int (*decompress_ex_fn)(void *, const void *, size_t, void *, size_t, size_t *, size_t *);
typedef uint32_t (*crc32_fn)(uint32_t, const void *, size_t);

static alloc_fn p_alloc;
static free_fn p_free;
static decompress_ex_fn p_decompress;
static crc32_fn p_crc32;
static int loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    const char *off = getenv("CKPT_NO_LIBDEFLATE");
    if (off && off[0] && strcmp(off, "0") != 0) return;
    if (ckpt_pretend_missing("libdeflate")) return;
    const char *names[] = {"libdeflate.so.0", "libdeflate.so", NULL};
    void *h = NULL;
    for (int i = 0; names[i] && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    p_alloc = (alloc_fn)dlsym(h, "libdeflate_alloc_decompressor");
    p_free = (free_fn)dlsym(h, "libdeflate_free_decompressor");
    p_decompress = (decompress_ex_fn)dlsym(h, "libdeflate_deflate_decompress_ex");
    p_crc32 = (crc32_fn)dlsym(h, "libdeflate_crc32");
    loaded = p_alloc && p_free && p_decompress && p_crc32;
}

int ckpt_pretend_missing(const char *id) {
    const char *list = getenv("CKPT_PRETEND_MISSING");
    size_t n = strlen(id);
    while (list != NULL && *list != '\0') {
        while (*list == ',' || *list == ' ') list++;
        const char *end = list;
        while (*end != '\0' && *end != ',') end++;
        const char *last = end;
        while (last > list && last[-1] == ' ') last--;
        if ((size_t)(last - list) == n && strncmp(list, id, n) == 0) return 1;
        list = end;
    }
    return 0;
}

int ckpt_libdeflate_available(void) {
    pthread_once(&once, load);
    return loaded;
}

void *ckpt_libdeflate_alloc(void) { return ckpt_libdeflate_available() ? p_alloc() : NULL; }

void ckpt_libdeflate_free(void *d) {
    if (d && loaded) p_free(d);
}

int ckpt_libdeflate_decompress(void *d, const void *in, size_t in_nbytes, void *out, size_t out_nbytes,
                               size_t *in_used, size_t *out_used) {
    if (!d || !loaded) return -1;
    return p_decompress(d, in, in_nbytes, out, out_nbytes, in_used, out_used);
}

uint32_t ckpt_libdeflate_crc32(uint32_t crc, const void *buffer, size_t len) { return p_crc32(crc, buffer, len); }
