#ifndef CKPT_CRC32C_H
#define CKPT_CRC32C_H
/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TensorFlow and LevelDB use it for
 * tensor bundles and table blocks. Extends `crc` (0 to start) over `count` bytes. Uses the SSE4.2
 * or ARMv8 CRC32 instructions when the CPU has them, else a slicing-by-8 table. */
#include <stddef.h>
#include <stdint.h>
uint32_t ckpt_crc32c(uint32_t crc, const void *data, size_t count);
/* The CRC-32C of A followed by B, from crc(A), crc(B) and B's length. */
uint32_t ckpt_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);
/* The table path alone (tests compare it with the instruction path). */
uint32_t ckpt_crc32c_table(uint32_t crc, const void *data, size_t count);
/* Whether the hardware path is used (for benchmarks and notes). */
int ckpt_crc32c_hardware(void);
#endif
