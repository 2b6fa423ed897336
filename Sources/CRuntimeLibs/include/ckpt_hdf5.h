#ifndef CKPT_HDF5_H
#define CKPT_HDF5_H
/* Owned by the HDF5 binding work: declarations of the libhdf5 entry points loaded with dlopen. */
int ckpt_hdf5_placeholder(void);
#endif
