/* libhdf5 in-memory file images, link and attribute listings; see include/ckpt_hdf5.h. */
#include "ckpt_hdf5.h"
#include "hdf5_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long image_counter;

/* ---------------------------------------------------------------- file images */

/* H5FD_file_image_callbacks_t and H5FD_file_image_op_t: identical in 1.8.9 through 2.0. */
typedef struct {
    void *(*image_malloc)(size_t size, int file_image_op, void *udata);
    void *(*image_memcpy)(void *dest, const void *src, size_t size, int file_image_op, void *udata);
    void *(*image_realloc)(void *ptr, size_t size, int file_image_op, void *udata);
    herr_t (*image_free)(void *ptr, int file_image_op, void *udata);
    void *(*udata_copy)(void *udata);
    herr_t (*udata_free)(void *udata);
    void *udata;
} file_image_callbacks;

enum {
    OP_NO_OP = 0,
    OP_PROPERTY_LIST_SET,
    OP_PROPERTY_LIST_COPY,
    OP_PROPERTY_LIST_GET,
    OP_PROPERTY_LIST_CLOSE,
    OP_FILE_OPEN,
    OP_FILE_RESIZE,
    OP_FILE_CLOSE
};

/* The caller's buffer is handed to the property list and to the core driver as is: "allocating"
 * returns it, "copying" into it is a no-op, "freeing" it only drops a reference. Same scheme as
 * H5LTopen_file_image(..., H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE). */
typedef struct {
    void *image;
    size_t size;
    int plist_refs;
    int driver_refs;
    int udata_refs;
} image_udata;

static void *image_malloc(size_t size, int op, void *data) {
    image_udata *u = (image_udata *)data;
    if (u == NULL || size != u->size) return NULL;
    switch (op) {
    case OP_PROPERTY_LIST_SET:
    case OP_PROPERTY_LIST_COPY:
        u->plist_refs++;
        return u->image;
    case OP_FILE_OPEN:
        u->driver_refs++;
        return u->image;
    default:
        return NULL; /* OP_PROPERTY_LIST_GET would hand our buffer to a caller that frees it */
    }
}

static void *image_memcpy(void *dest, const void *src, size_t size, int op, void *data) {
    image_udata *u = (image_udata *)data;
    if (u == NULL || dest != u->image || src != u->image || size != u->size) return NULL;
    switch (op) {
    case OP_PROPERTY_LIST_SET:
    case OP_PROPERTY_LIST_COPY:
    case OP_FILE_OPEN:
        return dest;
    default:
        return NULL;
    }
}

static void *image_realloc(void *ptr, size_t size, int op, void *data) {
    (void)ptr; (void)size; (void)op; (void)data;
    return NULL; /* read-only: the image never grows */
}

static herr_t image_free(void *ptr, int op, void *data) {
    image_udata *u = (image_udata *)data;
    if (u == NULL || ptr != u->image) return -1;
    switch (op) {
    case OP_PROPERTY_LIST_CLOSE:
        if (u->plist_refs <= 0) return -1;
        u->plist_refs--;
        return 0;
    case OP_FILE_CLOSE:
        if (u->driver_refs <= 0) return -1;
        u->driver_refs--;
        /* The driver keeps the udata pointer without a reference of its own: free here if the
         * property lists are all gone. Nothing uses u after this call. */
        if (u->driver_refs == 0 && u->udata_refs <= 0) free(u);
        return 0;
    default:
        return -1;
    }
}

static void *udata_copy(void *data) {
    image_udata *u = (image_udata *)data;
    if (u == NULL) return NULL;
    u->udata_refs++;
    return u;
}

static herr_t udata_free(void *data) {
    image_udata *u = (image_udata *)data;
    if (u == NULL) return -1;
    u->udata_refs--;
    /* An open file's core driver still uses u (it copied the pointer without udata_copy). */
    if (u->udata_refs <= 0 && u->driver_refs == 0) free(u);
    return 0;
}

hid_t ckpt_hdf5_open_image(const void *data, size_t size, size_t chunk_cache_bytes) {
    if (load_state != 1 || data == NULL || size == 0) return -1;
    hid_t fapl = api.H5Pcreate(api.P_CLS_FILE_ACCESS);
    if (fapl < 0) return -1;
    /* A chunk cache that holds the chunks one read crosses: each chunk is inflated once, not once
     * per piece (libhdf5's default 1 MiB cache cannot keep a larger chunk). */
    if (chunk_cache_bytes > 0) (void)api.H5Pset_cache(fapl, 0, 12421, chunk_cache_bytes, 1.0);
    hid_t file = -1;
    image_udata *u = (image_udata *)calloc(1, sizeof *u);
    if (u == NULL) goto out;
    u->image = (void *)data; /* opened read-only: libhdf5 never writes through this pointer */
    u->size = size;
    u->udata_refs = 1; /* the reference set_file_image_callbacks stores; released via udata_free */
    file_image_callbacks cb = {image_malloc, image_memcpy, image_realloc, image_free, udata_copy, udata_free, u};
    if (api.H5Pset_fapl_core(fapl, 1 << 16, 0) < 0) { free(u); goto out; }
    /* From here on the property list owns u: its udata_copy/udata_free calls manage the count. */
    if (api.H5Pset_file_image_callbacks(fapl, &cb) < 0) { free(u); goto out; }
    udata_free(u); /* drop our own reference; the property list took a copy with udata_copy */
    if (api.H5Pset_file_image(fapl, (void *)data, size) < 0) goto out;
    /* A name that cannot exist on disk: the core driver refuses to open an image whose name is an
     * existing file, and uses the name to tell open files apart. */
    char name[96];
    snprintf(name, sizeof name, "/nonexistent-ckpt-hdf5-image/%lu", ++image_counter);
    file = api.H5Fopen(name, 0x0000u /* H5F_ACC_RDONLY */, fapl);
out:
    api.H5Pclose(fapl);
    return file;
}

/* ---------------------------------------------------------------- links and attributes */

/* The common prefix of H5L_info_t (1.10) and H5L_info2_t (1.12+); `u` holds an 8-byte address in
 * 1.10 and a 16-byte token in 1.12+. Padded so that either version's struct fits. */
typedef struct {
    int type;
    _Bool corder_valid;
    int64_t corder;
    int cset;
    union {
        uint8_t token[16];
        uint64_t address;
        size_t val_size;
    } u;
    uint8_t padding[64];
} link_info_any;

static void fill_link(const link_info_any *info, ckpt_hdf5_link *out) {
    out->type = info->type;
    out->corder_valid = info->corder_valid ? 1 : 0;
    out->corder = info->corder;
    out->cset = info->cset;
    memset(out->token, 0, sizeof out->token);
    if (info->type == 0) {
        memcpy(out->token, info->u.token, api.link_api_v2 ? 16 : 8);
        out->val_size = 0;
    } else {
        out->val_size = (uint64_t)info->u.val_size;
    }
}

typedef struct {
    ckpt_hdf5_link *items;
    size_t count, capacity, max;
    int status;
} link_list;

static herr_t collect_link(hid_t group, const char *name, const void *info, void *data) {
    (void)group;
    link_list *l = (link_list *)data;
    if (l->count >= l->max) { l->status = -2; return 1; }
    if (l->count == l->capacity) {
        size_t cap = l->capacity ? l->capacity * 2 : 16;
        ckpt_hdf5_link *items = (ckpt_hdf5_link *)realloc(l->items, cap * sizeof *items);
        if (items == NULL) { l->status = -3; return 1; }
        l->items = items;
        l->capacity = cap;
    }
    ckpt_hdf5_link *it = &l->items[l->count];
    memset(it, 0, sizeof *it);
    /* The library's struct is only as large as its version's; copy the fields we read. */
    link_info_any tmp;
    memset(&tmp, 0, sizeof tmp);
    memcpy(&tmp, info, api.link_api_v2 ? 40 : 32);
    fill_link(&tmp, it);
    it->name = strdup(name != NULL ? name : "");
    if (it->name == NULL) { l->status = -3; return 1; }
    l->count++;
    return 0;
}

int ckpt_hdf5_list_links(hid_t group, int index_type, size_t max_links, ckpt_hdf5_link **out, size_t *count) {
    *out = NULL;
    *count = 0;
    link_list l = {NULL, 0, 0, max_links, 0};
    hsize_t idx = 0;
    herr_t r = api.H5Literate(group, index_type, 0 /* H5_ITER_INC */, &idx, collect_link, &l);
    if (l.status != 0 || r < 0) {
        ckpt_hdf5_free_links(l.items, l.count);
        return l.status != 0 ? l.status : -1;
    }
    *out = l.items;
    *count = l.count;
    return 0;
}

void ckpt_hdf5_free_links(ckpt_hdf5_link *links, size_t count) {
    if (links == NULL) return;
    for (size_t i = 0; i < count; i++) free(links[i].name);
    free(links);
}

int ckpt_hdf5_get_link(hid_t loc, const char *name, hid_t lapl, ckpt_hdf5_link *out) {
    link_info_any info;
    memset(&info, 0, sizeof info);
    memset(out, 0, sizeof *out);
    if (api.H5Lget_info(loc, name, &info, lapl) < 0) return -1;
    fill_link(&info, out);
    return 0;
}

int ckpt_hdf5_object_token(hid_t object, uint8_t token[16]) {
    /* H5O_info2_t (1.12+): unsigned long fileno; H5O_token_t token (16 bytes) at offset 8; ...
     * H5O_info_t / H5O_info1_t (1.10): unsigned long fileno; haddr_t addr at offset 8; ...
     * The buffer is larger than any version's struct (the largest, 1.10's full H5O_info_t, is
     * under 200 bytes). */
    union { uint8_t bytes[1024]; uint64_t align; } info;
    memset(&info, 0, sizeof info);
    memset(token, 0, 16);
    herr_t r;
    if (api.link_api_v2) {
        r = api.H5Oget_info3(object, &info, 0x0001u /* H5O_INFO_BASIC */);
        if (r < 0) return -1;
        memcpy(token, info.bytes + 8, 16);
        return 0;
    }
    if (api.H5Oget_info2 != NULL) {
        r = api.H5Oget_info2(object, &info, 0x0001u /* H5O_INFO_BASIC */);
    } else {
        r = api.H5Oget_info(object, &info);
    }
    if (r < 0) return -1;
    memcpy(token, info.bytes + 8, 8);
    return 0;
}

typedef struct {
    char **names;
    size_t count, capacity, max;
    int status;
} name_list;

static herr_t collect_attribute(hid_t location, const char *name, const void *info, void *data) {
    (void)location; (void)info;
    name_list *l = (name_list *)data;
    if (l->count >= l->max) { l->status = -2; return 1; }
    if (l->count == l->capacity) {
        size_t cap = l->capacity ? l->capacity * 2 : 8;
        char **names = (char **)realloc(l->names, cap * sizeof *names);
        if (names == NULL) { l->status = -3; return 1; }
        l->names = names;
        l->capacity = cap;
    }
    l->names[l->count] = strdup(name != NULL ? name : "");
    if (l->names[l->count] == NULL) { l->status = -3; return 1; }
    l->count++;
    return 0;
}

int ckpt_hdf5_list_attributes(hid_t object, size_t max_attrs, char ***out, size_t *count) {
    *out = NULL;
    *count = 0;
    name_list l = {NULL, 0, 0, max_attrs, 0};
    hsize_t idx = 0;
    herr_t r = api.H5Aiterate2(object, 0 /* H5_INDEX_NAME */, 0 /* H5_ITER_INC */, &idx, collect_attribute, &l);
    if (l.status != 0 || r < 0) {
        ckpt_hdf5_free_names(l.names, l.count);
        return l.status != 0 ? l.status : -1;
    }
    *out = l.names;
    *count = l.count;
    return 0;
}

void ckpt_hdf5_free_names(char **names, size_t count) {
    if (names == NULL) return;
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

long ckpt_hdf5_take_string(char *s, char *buf, size_t n) {
    if (s == NULL) return -1;
    size_t len = strlen(s);
    if (buf != NULL && n > 0) snprintf(buf, n, "%s", s);
    api.H5free_memory(s);
    return (long)len;
}

herr_t ckpt_hdf5_reclaim(hid_t type_id, hid_t space_id, void *buf) {
    if (api.H5Treclaim != NULL) return api.H5Treclaim(type_id, space_id, 0 /* H5P_DEFAULT */, buf);
    return api.H5Dvlen_reclaim(type_id, space_id, 0 /* H5P_DEFAULT */, buf);
}
