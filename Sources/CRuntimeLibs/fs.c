#define _GNU_SOURCE
#include "ckpt_fs.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

int ckpt_rename_noreplace(const char *from, const char *to) {
#ifdef SYS_renameat2
    long rc = syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
    if (rc == 0) return 0;
    if (errno != ENOSYS && errno != EINVAL) return -1;
#endif
    /* Fallback: link fails with EEXIST if `to` exists; then drop the temporary name. */
    if (link(from, to) != 0) return -1;
    unlink(from);
    return 0;
}

#define CKPT_MAX_TEMPS 64
#define CKPT_MAX_PATH 4096
static char temp_paths[CKPT_MAX_TEMPS][CKPT_MAX_PATH];
static volatile sig_atomic_t temp_used[CKPT_MAX_TEMPS];

int ckpt_register_temp(const char *path) {
    size_t n = strlen(path);
    if (n >= CKPT_MAX_PATH) return -1;
    for (int i = 0; i < CKPT_MAX_TEMPS; i++) {
        if (!temp_used[i]) {
            memcpy(temp_paths[i], path, n + 1);
            temp_used[i] = 1;
            return i;
        }
    }
    return -1;
}

void ckpt_unregister_temp(int slot) {
    if (slot >= 0 && slot < CKPT_MAX_TEMPS) temp_used[slot] = 0;
}

static void ckpt_cleanup_handler(int sig) {
    for (int i = 0; i < CKPT_MAX_TEMPS; i++) {
        if (temp_used[i]) unlink(temp_paths[i]);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void ckpt_install_cleanup_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ckpt_cleanup_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    /* A file-size limit (ulimit -f) must surface as EFBIG from write(2), not kill the process. */
    signal(SIGXFSZ, SIG_IGN);
}

long ckpt_copy_file_range(int fd_in, long long *off_in, int fd_out, long long *off_out, size_t len) {
    loff_t a = (loff_t)*off_in, b = (loff_t)*off_out;
    ssize_t n = copy_file_range(fd_in, &a, fd_out, &b, len, 0);
    *off_in = (long long)a;
    *off_out = (long long)b;
    return (long)n;
}

#include <malloc.h>
void ckpt_tune_malloc(void) {
    /* Chunk buffers are 1-4 MiB and are allocated and freed thousands of times per second; by
     * default glibc serves them with fresh mmaps, paying a page fault per 4 KiB every time.
     * Keep them in the heap instead (freed memory above 128 MiB is still returned). */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
}
