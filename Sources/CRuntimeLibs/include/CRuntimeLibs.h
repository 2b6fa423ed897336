#ifndef CKPT_CRUNTIMELIBS_H
#define CKPT_CRUNTIMELIBS_H
/* C libraries the toolkit loads at run time with dlopen(3), so that the package builds and its
 * main commands run on a machine without them:
 *   ckpt_hdf5.h    - libhdf5 (+ libhdf5_hl) for Keras .keras / .h5 files
 *   ckpt_deflate.h - libdeflate, a faster whole-buffer inflater (optional; zlib is the fallback)
 *   ckpt_isal.h    - ISA-L, a faster deflater and CRC-32 (optional; zlib is the fallback)
 * and small helpers built in: ckpt_fs.h (file system), ckpt_crc32c.h (CRC-32C for TensorFlow files).
 */
#include "ckpt_hdf5.h"
#include "ckpt_deflate.h"
#include "ckpt_isal.h"
#include "ckpt_fs.h"
#include "ckpt_crc32c.h"
#endif
