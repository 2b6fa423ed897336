#ifndef CKPT_HDF5_INTERNAL_H
#define CKPT_HDF5_INTERNAL_H
/* Shared between hdf5_loader.c and hdf5_objects.c; not part of the module's public header. */
#include "ckpt_hdf5.h"

extern ckpt_hdf5_api ckpt_hdf5_table;
extern int ckpt_hdf5_load_state; /* 0 not tried, 1 loaded, -1 failed */
#define api ckpt_hdf5_table
#define load_state ckpt_hdf5_load_state
#endif
