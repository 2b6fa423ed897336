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

/* Paths to unlink if the process is interrupted: a list that grows as needed (no fixed number of
 * slots: a sharded write may hold hundreds of temporary files at once) and that the signal
 * handler reads without locks. Nodes are never freed; an unregistered node is reused by a later
 * registration whose path fits. `state`: 0 free, 1 claimed (being filled), 2 registered. */
#include <stdatomic.h>
#include <stdlib.h>
typedef struct temp_node {
    struct temp_node *next;
    atomic_int state;
    size_t capacity;
    char path[];
} temp_node;
static _Atomic(temp_node *) temp_head;

void *ckpt_register_temp(const char *path) {
    size_t n = strlen(path);
    for (temp_node *t = atomic_load(&temp_head); t != NULL; t = t->next) {
        int expected = 0;
        if (t->capacity > n && atomic_compare_exchange_strong(&t->state, &expected, 1)) {
            memcpy(t->path, path, n + 1);
            atomic_store(&t->state, 2);
            return t;
        }
    }
    temp_node *t = (temp_node *)malloc(sizeof(temp_node) + n + 1);
    if (t == NULL) return NULL;
    t->capacity = n + 1;
    memcpy(t->path, path, n + 1);
    atomic_init(&t->state, 2);
    temp_node *head = atomic_load(&temp_head);
    do { t->next = head; } while (!atomic_compare_exchange_weak(&temp_head, &head, t));
    return t;
}

void ckpt_unregister_temp(void *node) {
    if (node != NULL) atomic_store(&((temp_node *)node)->state, 0);
}

int ckpt_registered_temp_count(void) {
    int count = 0;
    for (temp_node *t = atomic_load(&temp_head); t != NULL; t = t->next) count += atomic_load(&t->state) == 2;
    return count;
}

static void ckpt_cleanup_handler(int sig) {
    for (temp_node *t = atomic_load(&temp_head); t != NULL; t = t->next) {
        if (atomic_load(&t->state) == 2) unlink(t->path);
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
