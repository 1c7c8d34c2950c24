#include "util/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"

void
af_buf_init(af_buf *b)
{
    memset(b, 0, sizeof *b);
}

void
af_buf_free(af_buf *b)
{
    free(b->data);
    af_buf_init(b);
}

static int
buf_reserve(af_buf *b, size_t extra)
{
    if (b->oom)
        return AF_ENOMEM;
    if (b->len + extra + 1 <= b->cap)
        return AF_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = 1;
        return AF_ENOMEM;
    }
    b->data = d;
    b->cap = cap;
    return AF_OK;
}

int
af_buf_append(af_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != AF_OK)
        return AF_ENOMEM;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return AF_OK;
}

int
af_buf_puts(af_buf *b, const char *s)
{
    return af_buf_append(b, s, strlen(s));
}

int
af_buf_printf(af_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != AF_OK)
        return AF_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return AF_OK;
}
