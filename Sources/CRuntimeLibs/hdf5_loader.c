/* libhdf5 loaded with dlopen(3); see include/ckpt_hdf5.h. */
#include "ckpt_hdf5.h"
#include "hdf5_internal.h"
#include "ckpt_deflate.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ckpt_hdf5_api ckpt_hdf5_table;
int ckpt_hdf5_load_state; /* 0 not tried, 1 loaded, -1 failed */
static char load_error[2048];
static char library_name[1024];
static hid_t safe_lapl = -1;

/* ---------------------------------------------------------------- lock */

static pthread_mutex_t hdf5_mutex;
static pthread_once_t hdf5_mutex_once = PTHREAD_ONCE_INIT;

static void init_mutex(void) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&hdf5_mutex, &attr);
    pthread_mutexattr_destroy(&attr);
}

/* Threadsafe builds of libhdf5 (Debian's serial flavour is one) keep one error stack, and one
 * "print errors automatically" setting, per thread: turn printing off on each thread that calls in. */
static __thread int thread_quiet;

void ckpt_hdf5_lock(void) {
    pthread_once(&hdf5_mutex_once, init_mutex);
    pthread_mutex_lock(&hdf5_mutex);
    if (!thread_quiet && load_state == 1) {
        thread_quiet = 1;
        api.H5Eset_auto2(0 /* H5E_DEFAULT */, NULL, NULL);
    }
}

void ckpt_hdf5_unlock(void) { pthread_mutex_unlock(&hdf5_mutex); }

/* ---------------------------------------------------------------- loading */

static void append(char *buf, size_t n, const char *text) {
    size_t used = strlen(buf);
    if (used + 1 >= n) return;
    snprintf(buf + used, n - used, "%s", text);
}

/* Refuses every external-link traversal: hostile files must not make libhdf5 open other files. */
static herr_t refuse_external_link(const char *parent_file_name, const char *parent_group_name,
                                   const char *child_file_name, const char *child_object_name,
                                   unsigned *acc_flags, hid_t fapl_id, void *op_data) {
    (void)parent_file_name; (void)parent_group_name; (void)child_file_name; (void)child_object_name;
    (void)acc_flags; (void)fapl_id; (void)op_data;
    return -1;
}

static void quiet_at_exit(void) {
    /* Threadsafe builds only: libhdf5 serializes this call itself. */
    if (load_state == 1) api.H5Eset_auto2(0 /* H5E_DEFAULT */, NULL, NULL);
}

#define REQUIRED(field, symbol)                                                      \
    do {                                                                             \
        *(void **)(&api.field) = dlsym(handle, symbol);                              \
        if (api.field == NULL) { missing = symbol; goto fail_symbol; }               \
    } while (0)
#define OPTIONAL(field, symbol) do { *(void **)(&api.field) = dlsym(handle, symbol); } while (0)
#define GLOBAL_ID(field, symbol)                                                     \
    do {                                                                             \
        hid_t *p = (hid_t *)dlsym(handle, symbol);                                   \
        if (p == NULL) { missing = symbol; goto fail_symbol; }                       \
        api.field = *p;                                                              \
    } while (0)

static int bind_library(void *handle, char *why, size_t why_n) {
    const char *missing = NULL;
    memset(&api, 0, sizeof(api));

    /* Before anything initialises the library: no clean-up at exit. After a failed write (a full
     * disk) libhdf5's own H5close at exit flushes the broken file again and crashes inside
     * libhdf5; ckpt closes what it opened itself, and removes what it could not finish. */
    herr_t (*dont_atexit)(void) = NULL;
    *(void **)(&dont_atexit) = dlsym(handle, "H5dont_atexit");
    if (dont_atexit != NULL) (void)dont_atexit();

    REQUIRED(H5open, "H5open");
    REQUIRED(H5get_libversion, "H5get_libversion");
    if (api.H5get_libversion(&api.version_major, &api.version_minor, &api.version_release) < 0) {
        snprintf(why, why_n, "H5get_libversion failed");
        return -1;
    }
    if (api.version_major < 1 || (api.version_major == 1 && api.version_minor < 10)) {
        snprintf(why, why_n, "it is HDF5 %u.%u.%u; 1.10 or newer is needed", api.version_major,
                 api.version_minor, api.version_release);
        return -1;
    }
    REQUIRED(H5free_memory, "H5free_memory");
    OPTIONAL(H5PLset_loading_state, "H5PLset_loading_state");
    OPTIONAL(H5is_library_threadsafe, "H5is_library_threadsafe");

    REQUIRED(H5Eset_auto2, "H5Eset_auto2");
    REQUIRED(H5Ewalk2, "H5Ewalk2");
    REQUIRED(H5Eget_msg, "H5Eget_msg");
    REQUIRED(H5Eclear2, "H5Eclear2");

    REQUIRED(H5Fopen, "H5Fopen");
    REQUIRED(H5Fcreate, "H5Fcreate");
    REQUIRED(H5Fclose, "H5Fclose");
    REQUIRED(H5Fflush, "H5Fflush");

    REQUIRED(H5Pcreate, "H5Pcreate");
    REQUIRED(H5Pclose, "H5Pclose");
    REQUIRED(H5Pset_fapl_core, "H5Pset_fapl_core");
    REQUIRED(H5Pset_file_image, "H5Pset_file_image");
    REQUIRED(H5Pset_file_image_callbacks, "H5Pset_file_image_callbacks");
    OPTIONAL(H5Pset_file_locking, "H5Pset_file_locking");
    REQUIRED(H5Pget_layout, "H5Pget_layout");
    REQUIRED(H5Pget_chunk, "H5Pget_chunk");
    REQUIRED(H5Pget_nfilters, "H5Pget_nfilters");
    REQUIRED(H5Pget_filter2, "H5Pget_filter2");
    REQUIRED(H5Pget_external_count, "H5Pget_external_count");
    REQUIRED(H5Pset_elink_cb, "H5Pset_elink_cb");
    REQUIRED(H5Pset_nlinks, "H5Pset_nlinks");
    REQUIRED(H5Pset_char_encoding, "H5Pset_char_encoding");
    REQUIRED(H5Pget_link_creation_order, "H5Pget_link_creation_order");
    REQUIRED(H5Pset_obj_track_times, "H5Pset_obj_track_times");
    REQUIRED(H5Pset_libver_bounds, "H5Pset_libver_bounds");
    REQUIRED(H5Pset_cache, "H5Pset_cache");

    REQUIRED(H5Dcreate2, "H5Dcreate2");
    REQUIRED(H5Dclose, "H5Dclose");
    REQUIRED(H5Dget_space, "H5Dget_space");
    REQUIRED(H5Dget_type, "H5Dget_type");
    REQUIRED(H5Dget_create_plist, "H5Dget_create_plist");
    REQUIRED(H5Dget_storage_size, "H5Dget_storage_size");
    REQUIRED(H5Dget_offset, "H5Dget_offset");
    OPTIONAL(H5Dget_num_chunks, "H5Dget_num_chunks");
    OPTIONAL(H5Drefresh, "H5Drefresh");
    REQUIRED(H5Dread, "H5Dread");
    REQUIRED(H5Dwrite, "H5Dwrite");
    OPTIONAL(H5Treclaim, "H5Treclaim");
    OPTIONAL(H5Dvlen_reclaim, "H5Dvlen_reclaim");
    if (api.H5Treclaim == NULL && api.H5Dvlen_reclaim == NULL) { missing = "H5Treclaim"; goto fail_symbol; }

    REQUIRED(H5Screate, "H5Screate");
    REQUIRED(H5Screate_simple, "H5Screate_simple");
    REQUIRED(H5Sclose, "H5Sclose");
    REQUIRED(H5Sget_simple_extent_type, "H5Sget_simple_extent_type");
    REQUIRED(H5Sget_simple_extent_ndims, "H5Sget_simple_extent_ndims");
    REQUIRED(H5Sget_simple_extent_dims, "H5Sget_simple_extent_dims");
    REQUIRED(H5Sselect_hyperslab, "H5Sselect_hyperslab");
    REQUIRED(H5Sselect_all, "H5Sselect_all");

    REQUIRED(H5Gcreate2, "H5Gcreate2");
    REQUIRED(H5Gclose, "H5Gclose");
    REQUIRED(H5Gget_create_plist, "H5Gget_create_plist");
    /* The link info struct changed in 1.12 (address -> token); the prefix we read did not. */
    OPTIONAL(H5Literate, "H5Literate2");
    OPTIONAL(H5Lget_info, "H5Lget_info2");
    if (api.H5Literate != NULL && api.H5Lget_info != NULL) {
        api.link_api_v2 = 1;
    } else {
        api.link_api_v2 = 0;
        REQUIRED(H5Literate, "H5Literate");
        REQUIRED(H5Lget_info, "H5Lget_info");
    }
    REQUIRED(H5Lget_val, "H5Lget_val");
    REQUIRED(H5Lexists, "H5Lexists");
    REQUIRED(H5Oopen, "H5Oopen");
    REQUIRED(H5Oclose, "H5Oclose");
    REQUIRED(H5Iget_type, "H5Iget_type");
    OPTIONAL(H5Oget_info3, "H5Oget_info3");
    OPTIONAL(H5Oget_info2, "H5Oget_info2");
    OPTIONAL(H5Oget_info, "H5Oget_info");
    if (api.link_api_v2 && api.H5Oget_info3 == NULL) { missing = "H5Oget_info3"; goto fail_symbol; }
    if (!api.link_api_v2 && api.H5Oget_info2 == NULL && api.H5Oget_info == NULL) {
        missing = "H5Oget_info";
        goto fail_symbol;
    }

    REQUIRED(H5Aopen, "H5Aopen");
    REQUIRED(H5Aexists, "H5Aexists");
    REQUIRED(H5Aclose, "H5Aclose");
    REQUIRED(H5Aget_type, "H5Aget_type");
    REQUIRED(H5Aget_space, "H5Aget_space");
    REQUIRED(H5Aread, "H5Aread");
    REQUIRED(H5Awrite, "H5Awrite");
    REQUIRED(H5Acreate2, "H5Acreate2");
    REQUIRED(H5Adelete, "H5Adelete");
    REQUIRED(H5Aiterate2, "H5Aiterate2");

    REQUIRED(H5Tget_class, "H5Tget_class");
    REQUIRED(H5Tget_size, "H5Tget_size");
    REQUIRED(H5Tget_order, "H5Tget_order");
    REQUIRED(H5Tget_sign, "H5Tget_sign");
    REQUIRED(H5Tis_variable_str, "H5Tis_variable_str");
    REQUIRED(H5Tget_cset, "H5Tget_cset");
    REQUIRED(H5Tget_strpad, "H5Tget_strpad");
    REQUIRED(H5Tget_super, "H5Tget_super");
    REQUIRED(H5Tget_nmembers, "H5Tget_nmembers");
    REQUIRED(H5Tget_member_name, "H5Tget_member_name");
    REQUIRED(H5Tget_member_value, "H5Tget_member_value");
    REQUIRED(H5Tclose, "H5Tclose");
    REQUIRED(H5Tcopy, "H5Tcopy");
    REQUIRED(H5Tcreate, "H5Tcreate");
    REQUIRED(H5Tset_size, "H5Tset_size");
    REQUIRED(H5Tset_cset, "H5Tset_cset");
    REQUIRED(H5Tset_strpad, "H5Tset_strpad");
    REQUIRED(H5Tset_order, "H5Tset_order");
    REQUIRED(H5Tset_fields, "H5Tset_fields");
    REQUIRED(H5Tget_fields, "H5Tget_fields");
    REQUIRED(H5Tset_ebias, "H5Tset_ebias");
    REQUIRED(H5Tget_ebias, "H5Tget_ebias");
    REQUIRED(H5Tget_precision, "H5Tget_precision");
    REQUIRED(H5Tget_offset, "H5Tget_offset");
    REQUIRED(H5Tenum_create, "H5Tenum_create");
    REQUIRED(H5Tenum_insert, "H5Tenum_insert");
    REQUIRED(H5Tget_tag, "H5Tget_tag");

    REQUIRED(H5Zfilter_avail, "H5Zfilter_avail");

    /* The predefined ids are globals set up by H5open(). */
    if (api.H5open() < 0) {
        snprintf(why, why_n, "H5open() failed");
        return -1;
    }
    GLOBAL_ID(T_IEEE_F32LE, "H5T_IEEE_F32LE_g");
    GLOBAL_ID(T_IEEE_F64LE, "H5T_IEEE_F64LE_g");
    GLOBAL_ID(T_STD_I8LE, "H5T_STD_I8LE_g");
    GLOBAL_ID(T_STD_I16LE, "H5T_STD_I16LE_g");
    GLOBAL_ID(T_STD_I32LE, "H5T_STD_I32LE_g");
    GLOBAL_ID(T_STD_I64LE, "H5T_STD_I64LE_g");
    GLOBAL_ID(T_STD_U8LE, "H5T_STD_U8LE_g");
    GLOBAL_ID(T_STD_U16LE, "H5T_STD_U16LE_g");
    GLOBAL_ID(T_STD_U32LE, "H5T_STD_U32LE_g");
    GLOBAL_ID(T_STD_U64LE, "H5T_STD_U64LE_g");
    GLOBAL_ID(T_C_S1, "H5T_C_S1_g");
    GLOBAL_ID(P_CLS_FILE_ACCESS, "H5P_CLS_FILE_ACCESS_ID_g");
    GLOBAL_ID(P_CLS_FILE_CREATE, "H5P_CLS_FILE_CREATE_ID_g");
    GLOBAL_ID(P_CLS_DATASET_CREATE, "H5P_CLS_DATASET_CREATE_ID_g");
    GLOBAL_ID(P_CLS_GROUP_CREATE, "H5P_CLS_GROUP_CREATE_ID_g");
    GLOBAL_ID(P_CLS_LINK_CREATE, "H5P_CLS_LINK_CREATE_ID_g");
    GLOBAL_ID(P_CLS_LINK_ACCESS, "H5P_CLS_LINK_ACCESS_ID_g");

    /* Never print to stderr; errors are read from the stack with H5Ewalk2. (Again on each other
     * thread that calls in: see ckpt_hdf5_lock.) */
    api.H5Eset_auto2(0 /* H5E_DEFAULT */, NULL, NULL);
    thread_quiet = 1;
    /* libhdf5 closes what is left open at exit (its own atexit handler, on the exiting thread):
     * in a threadsafe build that thread may never have called in, so quiet it first. Handlers run in
     * reverse order of registration, and libhdf5 registered its own in H5open() above. */
    if (api.H5is_library_threadsafe != NULL) {
        _Bool threadsafe = 0;
        if (api.H5is_library_threadsafe(&threadsafe) >= 0 && threadsafe) atexit(quiet_at_exit);
    }
    /* Never load filter plugins named by a (possibly hostile) file; built-in filters still work. */
    if (api.H5PLset_loading_state != NULL) api.H5PLset_loading_state(0);

    safe_lapl = api.H5Pcreate(api.P_CLS_LINK_ACCESS);
    if (safe_lapl < 0 || api.H5Pset_elink_cb(safe_lapl, refuse_external_link, NULL) < 0 ||
        api.H5Pset_nlinks(safe_lapl, 16) < 0) {
        snprintf(why, why_n, "could not create a link access property list");
        return -1;
    }
    return 0;

fail_symbol:
    snprintf(why, why_n, "it lacks %s", missing);
    return -1;
}

static int try_open(const char *name, int explain, char *tried, size_t tried_n) {
    void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        if (tried[0] != '\0') append(tried, tried_n, ", ");
        append(tried, tried_n, name);
        const char *why = dlerror();
        if (explain && why != NULL) {
            append(tried, tried_n, " (");
            append(tried, tried_n, why);
            append(tried, tried_n, ")");
        }
        return -1;
    }
    char why[512] = {0};
    if (bind_library(handle, why, sizeof why) != 0) {
        if (tried[0] != '\0') append(tried, tried_n, ", ");
        append(tried, tried_n, name);
        append(tried, tried_n, " (");
        append(tried, tried_n, why);
        append(tried, tried_n, ")");
        memset(&api, 0, sizeof(api));
        /* The handle is not closed: libhdf5 registers atexit handlers once initialized. */
        return -1;
    }
    snprintf(library_name, sizeof library_name, "%s", name);
    return 0;
}

int ckpt_hdf5_load(char *errbuf, size_t n) {
    ckpt_hdf5_lock();
    if (load_state == 0) {
        static const char *const names[] = {
#if defined(__APPLE__)
            "libhdf5.dylib", "libhdf5.310.dylib", "libhdf5.320.dylib", "libhdf5.200.dylib",
            "libhdf5.103.dylib", "/opt/homebrew/lib/libhdf5.dylib", "/usr/local/lib/libhdf5.dylib",
            "/opt/local/lib/libhdf5.dylib",
#else
            "libhdf5_serial.so.103", "libhdf5.so.320", "libhdf5.so.310", "libhdf5.so.200",
            "libhdf5.so.103", "libhdf5_serial.so", "libhdf5.so",
#endif
        };
        char tried[sizeof load_error] = {0};
        int ok = -1;
        const char *env = getenv("CKPT_LIBHDF5");
        if (ckpt_pretend_missing("hdf5")) {
            /* The tests' bare-machine switch: nothing is tried. */
            snprintf(load_error, sizeof load_error, "nothing: CKPT_PRETEND_MISSING lists hdf5");
            load_state = -1;
            goto done;
        }
        if (env != NULL && env[0] != '\0') {
            ok = try_open(env, 1, tried, sizeof tried);
            if (ok != 0) {
                /* An explicit choice that fails is reported as such, without silently using another. */
                snprintf(load_error, sizeof load_error, "CKPT_LIBHDF5=%s", tried);
                load_state = -1;
                goto done;
            }
        }
        for (size_t i = 0; ok != 0 && i < sizeof names / sizeof names[0]; i++) {
            ok = try_open(names[i], 0, tried, sizeof tried);
        }
        if (ok == 0) {
            load_state = 1;
        } else {
            snprintf(load_error, sizeof load_error, "%s", tried);
            load_state = -1;
        }
    }
done:;
    int result = load_state == 1 ? 0 : -1;
    if (result != 0 && errbuf != NULL && n > 0) snprintf(errbuf, n, "%s", load_error);
    ckpt_hdf5_unlock();
    return result;
}

const ckpt_hdf5_api *ckpt_hdf5_get_api(void) { return load_state == 1 ? &api : NULL; }

const char *ckpt_hdf5_library_name(void) { return library_name; }

hid_t ckpt_hdf5_safe_lapl(void) { return safe_lapl; }

/* ---------------------------------------------------------------- errors */

/* H5E_error2_t: identical in 1.8 through 2.0. */
typedef struct {
    hid_t cls_id;
    hid_t maj_num;
    hid_t min_num;
    unsigned line;
    const char *func_name;
    const char *file_name;
    const char *desc;
} error_record;

typedef struct {
    char first[512];
    char last[512];
    unsigned count;
} error_walk;

static void describe(const error_record *e, char *out, size_t n) {
    out[0] = '\0';
    if (e->desc != NULL && e->desc[0] != '\0') {
        snprintf(out, n, "%s", e->desc);
        return;
    }
    int type = 0;
    if (api.H5Eget_msg != NULL && api.H5Eget_msg(e->min_num, &type, out, n) < 0) out[0] = '\0';
}

static herr_t walk_error(unsigned idx, const void *desc, void *data) {
    (void)idx;
    const error_record *e = (const error_record *)desc;
    error_walk *w = (error_walk *)data;
    if (e == NULL) return 0;
    if (w->count == 0) {
        describe(e, w->first, sizeof w->first);
    }
    describe(e, w->last, sizeof w->last);
    w->count++;
    return 0;
}

size_t ckpt_hdf5_error_text(char *buf, size_t n) {
    if (buf == NULL || n == 0) return 0;
    buf[0] = '\0';
    if (load_state != 1) return 0;
    error_walk w;
    memset(&w, 0, sizeof w);
    /* H5E_WALK_UPWARD (0): the innermost (most specific) error first, the API call last. */
    if (api.H5Ewalk2(0 /* H5E_DEFAULT */, 0 /* H5E_WALK_UPWARD */, walk_error, &w) < 0) return 0;
    if (w.count == 0) return 0;
    if (w.count == 1 || strcmp(w.first, w.last) == 0) {
        snprintf(buf, n, "%s", w.first);
    } else {
        snprintf(buf, n, "%s: %s", w.last, w.first);
    }
    api.H5Eclear2(0);
    /* Keep it one line. */
    for (char *p = buf; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    }
    return strlen(buf);
}
