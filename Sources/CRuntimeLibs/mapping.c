/* Memory mappings that survive their file shrinking. A mapped page whose file bytes are gone
 * (another process truncated the file: a copy still in progress, a rewrite) faults with SIGBUS
 * when touched. The handler below looks the address up in the registered mappings; for one of
 * ours it maps a page of zeros over the faulting page (so the read completes) and marks the
 * mapping as faulted, which the reader checks after every read and reports as a truncated file.
 * A SIGBUS anywhere else keeps its default action. */
#define _GNU_SOURCE
#include "ckpt_fs.h"
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct map_node {
    struct map_node *next;
    _Atomic(uintptr_t) start;
    _Atomic(size_t) length;
    atomic_int faulted;
    atomic_int state; /* 0 free, 1 claimed, 2 registered */
} map_node;

static _Atomic(map_node *) map_head;
static size_t page_size = 4096;
static atomic_int installed;

static void ckpt_sigbus_handler(int sig, siginfo_t *info, void *context) {
    (void)context;
    uintptr_t a = (uintptr_t)info->si_addr;
    for (map_node *m = atomic_load(&map_head); m != NULL; m = m->next) {
        if (atomic_load(&m->state) != 2) continue;
        uintptr_t s = atomic_load(&m->start);
        size_t n = atomic_load(&m->length);
        if (a >= s && a - s < n) {
            void *page = (void *)(a & ~(uintptr_t)(page_size - 1));
            if (mmap(page, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
                atomic_store(&m->faulted, 1);
                return; /* the faulting read is retried and now sees zeros */
            }
            break;
        }
    }
    /* Not one of ours (or the page could not be replaced): die as SIGBUS would have. */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&installed, &expected, 1)) return;
    long p = sysconf(_SC_PAGESIZE);
    if (p > 0) page_size = (size_t)p;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = ckpt_sigbus_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

void *ckpt_mapping_register(const void *base, size_t length) {
    install();
    for (map_node *m = atomic_load(&map_head); m != NULL; m = m->next) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&m->state, &expected, 1)) {
            atomic_store(&m->start, (uintptr_t)base);
            atomic_store(&m->length, length);
            atomic_store(&m->faulted, 0);
            atomic_store(&m->state, 2);
            return m;
        }
    }
    map_node *m = (map_node *)calloc(1, sizeof *m);
    if (m == NULL) return NULL;
    atomic_init(&m->start, (uintptr_t)base);
    atomic_init(&m->length, length);
    atomic_init(&m->faulted, 0);
    atomic_init(&m->state, 2);
    map_node *head = atomic_load(&map_head);
    do { m->next = head; } while (!atomic_compare_exchange_weak(&map_head, &head, m));
    return m;
}

void ckpt_mapping_unregister(void *handle) {
    if (handle == NULL) return;
    map_node *m = (map_node *)handle;
    atomic_store(&m->length, 0);
    atomic_store(&m->state, 0);
}

int ckpt_mapping_faulted(const void *handle) {
    return handle != NULL && atomic_load(&((map_node *)handle)->faulted) != 0;
}
