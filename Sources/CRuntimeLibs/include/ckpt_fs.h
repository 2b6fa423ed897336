#ifndef CKPT_FS_H
#define CKPT_FS_H
/* File-system helpers that Swift cannot reach directly on Linux. */

/* rename(2) that fails with EEXIST instead of replacing `to` (renameat2 RENAME_NOREPLACE, or
 * link+unlink where that is unavailable). Returns 0 or -1 with errno set. */
int ckpt_rename_noreplace(const char *from, const char *to);

/* Files to unlink if the process is interrupted by SIGINT, SIGTERM, SIGHUP or SIGPIPE (temporary
 * files, and the files of a set being committed). Registration copies the path into a list with
 * no size limit; the handler only calls unlink(2) (async-signal-safe) and then re-raises the
 * signal with the default action. Returns a handle for ckpt_unregister_temp, NULL if out of memory. */
void *ckpt_register_temp(const char *path);
void ckpt_unregister_temp(void *handle);
/* How many paths are registered now (tests). */
int ckpt_registered_temp_count(void);
void ckpt_install_cleanup_handlers(void);
#include <sys/types.h>
/* copy_file_range(2): copies in the kernel (reflink or page-cache copy). -1/errno on failure. */
long ckpt_copy_file_range(int fd_in, long long *off_in, int fd_out, long long *off_out, size_t len);
/* Allocator settings for streaming work (see fs.c). */
void ckpt_tune_malloc(void);
/* Mappings whose file may shrink while mapped (mapping.c): a SIGBUS inside a registered range
 * maps zeros over the page and marks the mapping faulted instead of killing the process.
 * register returns a handle (NULL if out of memory); unregister before munmap. */
void *ckpt_mapping_register(const void *base, size_t length);
void ckpt_mapping_unregister(void *handle);
int ckpt_mapping_faulted(const void *handle);
#endif
