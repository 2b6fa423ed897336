#ifndef CKPT_CZLIB_SHIM_H
#define CKPT_CZLIB_SHIM_H
#include <zlib.h>

/// deflateInit2 / inflateInit2 are macros in zlib.h; Swift cannot call macros,
/// so these wrappers pass the version and struct size exactly as the macros do.
static inline int ckpt_deflateInit2(z_streamp strm, int level, int method, int windowBits, int memLevel, int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}
static inline int ckpt_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
