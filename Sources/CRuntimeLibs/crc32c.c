#include "ckpt_crc32c.h"
#include <string.h>

/* Slicing-by-8 tables, built once on first use (thread-safe through pthread_once-free idempotence:
 * every thread computes the same values, and the ready flag is set last). */
static uint32_t table[8][256];
static volatile int table_ready = 0;

static void build_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int t = 1; t < 8; t++) {
            c = table[0][c & 0xFF] ^ (c >> 8);
            table[t][n] = c;
        }
    }
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t crc32c_soft(uint32_t crc, const unsigned char *p, size_t n) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_table();
    uint32_t c = ~crc;
    while (n > 0 && ((uintptr_t)p & 7) != 0) { c = table[0][(c ^ *p++) & 0xFF] ^ (c >> 8); n--; }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        uint32_t lo = (uint32_t)w ^ c, hi = (uint32_t)(w >> 32);
        c = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^ table[4][lo >> 24]
          ^ table[3][hi & 0xFF] ^ table[2][(hi >> 8) & 0xFF] ^ table[1][(hi >> 16) & 0xFF] ^ table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) c = table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__)
#include <nmmintrin.h>
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = ~crc;
    while (n > 0 && ((uintptr_t)p & 7) != 0) { c = _mm_crc32_u8((uint32_t)c, *p++); n--; }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    while (n-- > 0) c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
static int have_hw(void) {
    static int state = -1;
    if (state < 0) {
        __builtin_cpu_init();
        state = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    }
    return state;
}
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t n) {
    uint32_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __crc32cd(c, w);
        p += 8;
        n -= 8;
    }
    while (n-- > 0) c = __crc32cb(c, *p++);
    return ~c;
}
static int have_hw(void) { return 1; }
#else
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t n) { return crc32c_soft(crc, p, n); }
static int have_hw(void) { return 0; }
#endif

uint32_t ckpt_crc32c(uint32_t crc, const void *data, size_t count) {
    if (count == 0) return crc;
    const unsigned char *p = (const unsigned char *)data;
    if (have_hw()) return crc32c_hw(crc, p, count);
    return crc32c_soft(crc, p, count);
}

int ckpt_crc32c_hardware(void) { return have_hw(); }

uint32_t ckpt_crc32c_table(uint32_t crc, const void *data, size_t count) {
    return count == 0 ? crc : crc32c_soft(crc, (const unsigned char *)data, count);
}

/* CRC of A followed by B from crc(A), crc(B) and len(B): zlib's crc32_combine, for this polynomial. */
static uint32_t multmodp(uint32_t a, uint32_t b) {
    uint32_t m = (uint32_t)1 << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ 0x82F63B78u : b >> 1;
    }
    return p;
}

uint32_t ckpt_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2) {
    /* x^(8*len2) mod p, by squaring: x2n[k] = x^(2^k) mod p, starting from x^1. */
    uint32_t x2n = (uint32_t)1 << 30; /* x^1 */
    uint32_t p = (uint32_t)1 << 31;   /* x^0 */
    uint64_t n = len2;
    /* Multiply by x^8 per byte: start at x^(2^3). */
    for (int k = 0; k < 3; k++) x2n = multmodp(x2n, x2n);
    while (n) {
        if (n & 1) p = multmodp(x2n, p);
        n >>= 1;
        x2n = multmodp(x2n, x2n);
    }
    return multmodp(p, crc1) ^ crc2;
}
