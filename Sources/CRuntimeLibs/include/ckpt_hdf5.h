#ifndef CKPT_HDF5_H
#define CKPT_HDF5_H
#pragma clang diagnostic push
/* Only the entry points' function pointers carry nullability; other pointers keep C's unspecified default. */
#pragma clang diagnostic ignored "-Wnullability-completeness"
/* libhdf5 loaded at run time with dlopen(3).
 *
 * No HDF5 header is needed to build: the few types and entry points the toolkit uses are declared
 * here. Supported: HDF5 >= 1.10 (hid_t is 64-bit since 1.10), checked against the 1.10, 1.12, 1.14
 * and 2.0 public headers. Structs whose layout changed between versions (H5L_info_t / H5L_info2_t,
 * H5O_info*_t) never cross this boundary: the C helpers below read only the fields whose offsets are
 * identical in every version and pick the versioned symbol (H5Literate2 / H5Literate, ...) at load.
 *
 * libhdf5's serial build is not thread-safe: every call into `ckpt_hdf5_api()` and every helper
 * below must be made with `ckpt_hdf5_lock()` held (the lock is recursive).
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef int64_t hid_t;
typedef int herr_t;
typedef int htri_t;
typedef unsigned long long hsize_t;
typedef long long hssize_t;
typedef uint64_t haddr_t;
typedef int H5Z_filter_t;

/* Enumerations are passed as `int` (C enums of these values are int-sized on every ABI HDF5 supports). */

typedef herr_t (*ckpt_H5A_operator2_t)(hid_t location_id, const char *attr_name, const void *ainfo, void *op_data);
typedef herr_t (*ckpt_H5L_iterate_t)(hid_t group, const char *name, const void *info, void *op_data);
typedef herr_t (*ckpt_H5E_walk2_t)(unsigned n, const void *err_desc, void *client_data);
typedef herr_t (*ckpt_H5L_elink_traverse_t)(const char *parent_file_name, const char *parent_group_name,
                                            const char *child_file_name, const char *child_object_name,
                                            unsigned *acc_flags, hid_t fapl_id, void *op_data);

/* The entry points, filled by dlsym. Required ones are `_Nonnull`: the loader refuses a library
 * that lacks one, so Swift calls them without unwrapping. Optional ones may be NULL (noted). */
typedef struct ckpt_hdf5_api {
    unsigned version_major, version_minor, version_release;
    /* 1 when the library has the 1.12+ token-based link API (H5Literate2, H5Lget_info2). */
    int link_api_v2;

    /* library */
    herr_t (* _Nonnull H5open)(void);
    herr_t (* _Nonnull H5get_libversion)(unsigned *majnum, unsigned *minnum, unsigned *relnum);
    herr_t (* _Nonnull H5free_memory)(void *mem);
    herr_t (*H5PLset_loading_state)(unsigned int plugin_control_mask); /* optional */
    herr_t (*H5is_library_threadsafe)(_Bool *is_ts);                   /* optional */

    /* errors */
    herr_t (* _Nonnull H5Eset_auto2)(hid_t estack_id, void *func, void *client_data);
    herr_t (* _Nonnull H5Ewalk2)(hid_t err_stack, int direction, ckpt_H5E_walk2_t func, void *client_data);
    ssize_t (* _Nonnull H5Eget_msg)(hid_t msg_id, int *type, char *msg, size_t size);
    herr_t (* _Nonnull H5Eclear2)(hid_t err_stack);

    /* files */
    hid_t (* _Nonnull H5Fopen)(const char *filename, unsigned flags, hid_t fapl_id);
    hid_t (* _Nonnull H5Fcreate)(const char *filename, unsigned flags, hid_t fcpl_id, hid_t fapl_id);
    herr_t (* _Nonnull H5Fclose)(hid_t file_id);
    herr_t (* _Nonnull H5Fflush)(hid_t object_id, int scope);

    /* property lists */
    hid_t (* _Nonnull H5Pcreate)(hid_t cls_id);
    herr_t (* _Nonnull H5Pclose)(hid_t plist_id);
    herr_t (* _Nonnull H5Pset_fapl_core)(hid_t fapl_id, size_t increment, _Bool backing_store);
    herr_t (* _Nonnull H5Pset_file_image)(hid_t fapl_id, void *buf_ptr, size_t buf_len);
    herr_t (* _Nonnull H5Pset_file_image_callbacks)(hid_t fapl_id, void *callbacks_ptr);
    herr_t (*H5Pset_file_locking)(hid_t fapl_id, _Bool use_file_locking, _Bool ignore_when_disabled); /* optional, 1.10.7+ */
    int (* _Nonnull H5Pget_layout)(hid_t plist_id);
    int (* _Nonnull H5Pget_chunk)(hid_t plist_id, int max_ndims, hsize_t dim[]);
    int (* _Nonnull H5Pget_nfilters)(hid_t plist_id);
    H5Z_filter_t (* _Nonnull H5Pget_filter2)(hid_t plist_id, unsigned idx, unsigned int *flags, size_t *cd_nelmts,
                                   unsigned cd_values[], size_t namelen, char name[], unsigned *filter_config);
    int (* _Nonnull H5Pget_external_count)(hid_t plist_id);
    herr_t (* _Nonnull H5Pset_elink_cb)(hid_t lapl_id, ckpt_H5L_elink_traverse_t func, void *op_data);
    herr_t (* _Nonnull H5Pset_nlinks)(hid_t plist_id, size_t nlinks);
    herr_t (* _Nonnull H5Pset_char_encoding)(hid_t plist_id, int encoding);
    herr_t (* _Nonnull H5Pget_link_creation_order)(hid_t plist_id, unsigned *crt_order_flags);
    herr_t (* _Nonnull H5Pset_obj_track_times)(hid_t plist_id, _Bool track_times);
    herr_t (* _Nonnull H5Pset_libver_bounds)(hid_t plist_id, int low, int high);
    herr_t (* _Nonnull H5Pset_cache)(hid_t plist_id, int mdc_nelmts, size_t rdcc_nslots, size_t rdcc_nbytes, double rdcc_w0);

    /* datasets */
    hid_t (* _Nonnull H5Dcreate2)(hid_t loc_id, const char *name, hid_t type_id, hid_t space_id, hid_t lcpl_id,
                        hid_t dcpl_id, hid_t dapl_id);
    herr_t (* _Nonnull H5Dclose)(hid_t dset_id);
    hid_t (* _Nonnull H5Dget_space)(hid_t dset_id);
    hid_t (* _Nonnull H5Dget_type)(hid_t dset_id);
    hid_t (* _Nonnull H5Dget_create_plist)(hid_t dset_id);
    hsize_t (* _Nonnull H5Dget_storage_size)(hid_t dset_id);
    haddr_t (* _Nonnull H5Dget_offset)(hid_t dset_id);
    herr_t (*H5Dget_num_chunks)(hid_t dset_id, hid_t fspace_id, hsize_t *nchunks); /* optional, 1.10.5+ */
    herr_t (*H5Drefresh)(hid_t dset_id); /* optional, 1.10+ */
    herr_t (* _Nonnull H5Dread)(hid_t dset_id, hid_t mem_type_id, hid_t mem_space_id, hid_t file_space_id, hid_t dxpl_id,
                      void *buf);
    herr_t (* _Nonnull H5Dwrite)(hid_t dset_id, hid_t mem_type_id, hid_t mem_space_id, hid_t file_space_id, hid_t dxpl_id,
                       const void *buf);
    herr_t (*H5Treclaim)(hid_t type_id, hid_t space_id, hid_t plist_id, void *buf);      /* 1.12+ */
    herr_t (*H5Dvlen_reclaim)(hid_t type_id, hid_t space_id, hid_t plist_id, void *buf); /* deprecated */

    /* dataspaces */
    hid_t (* _Nonnull H5Screate)(int type);
    hid_t (* _Nonnull H5Screate_simple)(int rank, const hsize_t dims[], const hsize_t maxdims[]);
    herr_t (* _Nonnull H5Sclose)(hid_t space_id);
    int (* _Nonnull H5Sget_simple_extent_type)(hid_t space_id);
    int (* _Nonnull H5Sget_simple_extent_ndims)(hid_t space_id);
    int (* _Nonnull H5Sget_simple_extent_dims)(hid_t space_id, hsize_t dims[], hsize_t maxdims[]);
    herr_t (* _Nonnull H5Sselect_hyperslab)(hid_t space_id, int op, const hsize_t start[], const hsize_t stride[],
                                  const hsize_t count[], const hsize_t block[]);
    herr_t (* _Nonnull H5Sselect_all)(hid_t space_id);

    /* groups, links, objects */
    hid_t (* _Nonnull H5Gcreate2)(hid_t loc_id, const char *name, hid_t lcpl_id, hid_t gcpl_id, hid_t gapl_id);
    herr_t (* _Nonnull H5Gclose)(hid_t group_id);
    hid_t (* _Nonnull H5Gget_create_plist)(hid_t group_id);
    herr_t (* _Nonnull H5Literate)(hid_t grp_id, int idx_type, int order, hsize_t *idx, ckpt_H5L_iterate_t op,
                         void *op_data); /* H5Literate2 (1.12+) or H5Literate (1.10) */
    herr_t (* _Nonnull H5Lget_info)(hid_t loc_id, const char *name, void *linfo,
                          hid_t lapl_id); /* H5Lget_info2 (1.12+) or H5Lget_info (1.10) */
    herr_t (* _Nonnull H5Lget_val)(hid_t loc_id, const char *name, void *buf, size_t size, hid_t lapl_id);
    htri_t (* _Nonnull H5Lexists)(hid_t loc_id, const char *name, hid_t lapl_id);
    hid_t (* _Nonnull H5Oopen)(hid_t loc_id, const char *name, hid_t lapl_id);
    herr_t (* _Nonnull H5Oclose)(hid_t object_id);
    int (* _Nonnull H5Iget_type)(hid_t id);
    /* Object info: H5Oget_info3 (1.12+, token), else H5Oget_info2 (1.10.3+, address, with fields),
     * else H5Oget_info (1.10.0-1.10.2). Used through ckpt_hdf5_object_token only. */
    herr_t (*H5Oget_info3)(hid_t loc_id, void *oinfo, unsigned fields);
    herr_t (*H5Oget_info2)(hid_t loc_id, void *oinfo, unsigned fields);
    herr_t (*H5Oget_info)(hid_t loc_id, void *oinfo);

    /* attributes */
    hid_t (* _Nonnull H5Aopen)(hid_t obj_id, const char *attr_name, hid_t aapl_id);
    htri_t (* _Nonnull H5Aexists)(hid_t obj_id, const char *attr_name);
    herr_t (* _Nonnull H5Aclose)(hid_t attr_id);
    hid_t (* _Nonnull H5Aget_type)(hid_t attr_id);
    hid_t (* _Nonnull H5Aget_space)(hid_t attr_id);
    herr_t (* _Nonnull H5Aread)(hid_t attr_id, hid_t type_id, void *buf);
    herr_t (* _Nonnull H5Awrite)(hid_t attr_id, hid_t type_id, const void *buf);
    hid_t (* _Nonnull H5Acreate2)(hid_t loc_id, const char *attr_name, hid_t type_id, hid_t space_id, hid_t acpl_id,
                        hid_t aapl_id);
    herr_t (* _Nonnull H5Adelete)(hid_t loc_id, const char *attr_name);
    herr_t (* _Nonnull H5Aiterate2)(hid_t loc_id, int idx_type, int order, hsize_t *idx, ckpt_H5A_operator2_t op,
                          void *op_data);

    /* datatypes */
    int (* _Nonnull H5Tget_class)(hid_t type_id);
    size_t (* _Nonnull H5Tget_size)(hid_t type_id);
    int (* _Nonnull H5Tget_order)(hid_t type_id);
    int (* _Nonnull H5Tget_sign)(hid_t type_id);
    htri_t (* _Nonnull H5Tis_variable_str)(hid_t type_id);
    int (* _Nonnull H5Tget_cset)(hid_t type_id);
    int (* _Nonnull H5Tget_strpad)(hid_t type_id);
    hid_t (* _Nonnull H5Tget_super)(hid_t type);
    int (* _Nonnull H5Tget_nmembers)(hid_t type_id);
    char *(* _Nonnull H5Tget_member_name)(hid_t type_id, unsigned membno);
    herr_t (* _Nonnull H5Tget_member_value)(hid_t type_id, unsigned membno, void *value);
    herr_t (* _Nonnull H5Tclose)(hid_t type_id);
    hid_t (* _Nonnull H5Tcopy)(hid_t type_id);
    hid_t (* _Nonnull H5Tcreate)(int type, size_t size);
    herr_t (* _Nonnull H5Tset_size)(hid_t type_id, size_t size);
    herr_t (* _Nonnull H5Tset_cset)(hid_t type_id, int cset);
    herr_t (* _Nonnull H5Tset_strpad)(hid_t type_id, int strpad);
    herr_t (* _Nonnull H5Tset_order)(hid_t type_id, int order);
    herr_t (* _Nonnull H5Tset_fields)(hid_t type_id, size_t spos, size_t epos, size_t esize, size_t mpos, size_t msize);
    herr_t (* _Nonnull H5Tget_fields)(hid_t type_id, size_t *spos, size_t *epos, size_t *esize, size_t *mpos, size_t *msize);
    herr_t (* _Nonnull H5Tset_ebias)(hid_t type_id, size_t ebias);
    size_t (* _Nonnull H5Tget_ebias)(hid_t type_id);
    size_t (* _Nonnull H5Tget_precision)(hid_t type_id);
    int (* _Nonnull H5Tget_offset)(hid_t type_id);
    hid_t (* _Nonnull H5Tenum_create)(hid_t base_id);
    herr_t (* _Nonnull H5Tenum_insert)(hid_t type, const char *name, const void *value);
    char *(* _Nonnull H5Tget_tag)(hid_t type);

    /* filters */
    htri_t (* _Nonnull H5Zfilter_avail)(H5Z_filter_t id);

    /* Global ids, read after H5open(). */
    hid_t T_IEEE_F32LE, T_IEEE_F64LE;
    hid_t T_STD_I8LE, T_STD_I16LE, T_STD_I32LE, T_STD_I64LE;
    hid_t T_STD_U8LE, T_STD_U16LE, T_STD_U32LE, T_STD_U64LE;
    hid_t T_C_S1;
    hid_t P_CLS_FILE_ACCESS, P_CLS_FILE_CREATE, P_CLS_DATASET_CREATE, P_CLS_GROUP_CREATE;
    hid_t P_CLS_LINK_CREATE, P_CLS_LINK_ACCESS;
} ckpt_hdf5_api;

/* Loads libhdf5 (once; later calls return the first result). Tries $CKPT_LIBHDF5, then
 * libhdf5_serial.so.103, libhdf5.so.320, libhdf5.so.310, libhdf5.so.200, libhdf5.so.103,
 * libhdf5_serial.so, libhdf5.so (macOS: libhdf5.*.dylib in Homebrew's prefixes); nothing when
 * CKPT_PRETEND_MISSING lists "hdf5" (see ckpt_pretend_missing). Returns 0 on
 * success; otherwise -1 and a message naming what was tried in errbuf. Turns HDF5's automatic error
 * printing off and disables filter-plugin loading. */
int ckpt_hdf5_load(char *errbuf, size_t n);
/* The loaded table (NULL before a successful ckpt_hdf5_load). */
const ckpt_hdf5_api *ckpt_hdf5_get_api(void);
/* The path or name dlopen accepted. */
const char *ckpt_hdf5_library_name(void);

/* One recursive lock serializing every libhdf5 call of the process (libhdf5's serial build is not
 * thread-safe). */
void ckpt_hdf5_lock(void);
void ckpt_hdf5_unlock(void);

/* libhdf5's error stack as one line ("H5Fopen failed: truncated file: eof = ..."), NUL-terminated.
 * Call right after the failing call, before any other libhdf5 call. Returns the length (0 if the
 * stack is empty). */
size_t ckpt_hdf5_error_text(char *buf, size_t n);

/* A link access property list whose external-link traversal callback always refuses, and whose
 * soft-link hop limit is small. Created once at load. */
hid_t ckpt_hdf5_safe_lapl(void);

/* Opens `size` bytes at `data` as an HDF5 file, read-only, without copying them (core driver +
 * file-image callbacks). The memory must stay valid and unchanged until the file and every object
 * opened in it are closed. Returns a file id or a negative value. */
hid_t ckpt_hdf5_open_image(const void *data, size_t size, size_t chunk_cache_bytes);

/* A link, as read from H5L_info_t (1.10) or H5L_info2_t (1.12+): only the fields whose layout is
 * identical in both. */
typedef struct ckpt_hdf5_link {
    char *name;           /* malloc'd; NULL from ckpt_hdf5_get_link */
    int type;             /* H5L_type_t: 0 hard, 1 soft, 64 external, 65..255 user-defined */
    int corder_valid;
    int64_t corder;
    int cset;
    uint8_t token[16];    /* hard links: object address (1.10, 8 bytes) or token (1.12+) */
    uint64_t val_size;    /* soft / external / user-defined links: size of the link value */
} ckpt_hdf5_link;

/* Lists the links of `group` (index_type 0 = name, 1 = creation order; increasing). At most
 * max_links; returns 0 on success, -1 on an HDF5 error, -2 if there are more than max_links,
 * -3 if out of memory. Free with ckpt_hdf5_free_links. */
int ckpt_hdf5_list_links(hid_t group, int index_type, size_t max_links, ckpt_hdf5_link **out, size_t *count);
void ckpt_hdf5_free_links(ckpt_hdf5_link *links, size_t count);
/* Information about one link `name` (no '/') in `loc`. 0 on success, -1 on an HDF5 error. */
int ckpt_hdf5_get_link(hid_t loc, const char *name, hid_t lapl, ckpt_hdf5_link *out);

/* The identity of an object (16 bytes: the 1.12+ token, or the 1.10 address followed by zeros),
 * comparable with ckpt_hdf5_link.token. 0 on success, -1 on an HDF5 error. */
int ckpt_hdf5_object_token(hid_t object, uint8_t token[16]);

/* Attribute names of an object, in name order. Same return values as ckpt_hdf5_list_links.
 * Free with ckpt_hdf5_free_names. */
int ckpt_hdf5_list_attributes(hid_t object, size_t max_attrs, char ***out, size_t *count);
void ckpt_hdf5_free_names(char **names, size_t count);

/* Copies a string libhdf5 allocated (H5Tget_member_name, H5Tget_tag) into buf and frees it with
 * H5free_memory. Returns the full length, or -1 if s is NULL. */
long ckpt_hdf5_take_string(char *s, char *buf, size_t n);

/* Frees variable-length data read into buf (H5Treclaim, or H5Dvlen_reclaim before 1.12). */
herr_t ckpt_hdf5_reclaim(hid_t type_id, hid_t space_id, void *buf);

#pragma clang diagnostic pop
#endif
