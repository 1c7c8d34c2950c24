/*
 * strbuf.h -- a growable byte buffer for text built off the request path
 * (/metrics, reports, error messages).
 */
#ifndef AF_CORE_STRBUF_H
#define AF_CORE_STRBUF_H

#include <stddef.h>

typedef struct af_buf {
    char *data; /* NUL-terminated when len > 0; malloc'd */
    size_t len;
    size_t cap;
    int oom;    /* set once an append failed; later appends are ignored */
} af_buf;

void af_buf_init(af_buf *b);
void af_buf_free(af_buf *b);
int af_buf_append(af_buf *b, const char *s, size_t n);
int af_buf_puts(af_buf *b, const char *s);
int af_buf_printf(af_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
