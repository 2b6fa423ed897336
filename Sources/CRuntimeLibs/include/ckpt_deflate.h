#ifndef CKPT_DEFLATE_H
#define CKPT_DEFLATE_H
/* libdeflate loaded with dlopen (optional accelerator). */
int ckpt_deflate_placeholder(void);
#endif
