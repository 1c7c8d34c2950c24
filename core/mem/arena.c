/*
 * arena.c -- per-request bump allocator.
 *
 * Blocks form a chain that survives af_arena_reset(); a reset only rewinds
 * the cursor to the first block.  After the first few requests the chain is
 * as long as the largest request needs, so steady-state requests never call
 * malloc.
 */
#include "mem/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16

struct block {
    struct block *next;
    size_t size; /* usable bytes after the header */
    /* data follows, aligned */
};

struct af_arena {
    struct block *head;    /* first block (kept across resets)            */
    struct block *cur;     /* block being filled                          */
    size_t off;            /* offset into cur's data                      */
    size_t used;           /* bytes handed out since reset                */
    size_t block_size;
    size_t limit;          /* 0 = unlimited                               */
};

static size_t
hdr_size(void)
{
    return (sizeof(struct block) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

static char *
block_data(struct block *b)
{
    return (char *)b + hdr_size();
}

static struct block *
block_new(size_t size)
{
    struct block *b = malloc(hdr_size() + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    return b;
}

af_arena *
af_arena_create(size_t block_size, size_t limit)
{
    af_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->block_size = block_size < 4096 ? 4096 : block_size;
    a->limit = limit;
    a->head = block_new(a->block_size);
    if (!a->head) {
        free(a);
        return NULL;
    }
    a->cur = a->head;
    return a;
}

void
af_arena_destroy(af_arena *a)
{
    if (!a)
        return;
    struct block *b = a->head;
    while (b) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

/* Move to the next block in the chain that can hold `size`, appending a new
 * one when none can.  Blocks too small for this request are skipped, not
 * freed: a later, smaller allocation after a reset still uses them. */
static int
advance(af_arena *a, size_t size)
{
    while (a->cur->next) {
        a->cur = a->cur->next;
        a->off = 0;
        if (a->cur->size >= size)
            return 0;
    }
    size_t bs = size > a->block_size ? size : a->block_size;
    struct block *b = block_new(bs);
    if (!b)
        return -1;
    a->cur->next = b;
    a->cur = b;
    a->off = 0;
    return 0;
}

void *
af_arena_alloc(af_arena *a, size_t size)
{
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (size == 0)
        size = ARENA_ALIGN;
    if (a->limit && a->used + size > a->limit)
        return NULL;
    if (a->off + size > a->cur->size && advance(a, size) != 0)
        return NULL;
    void *p = block_data(a->cur) + a->off;
    a->off += size;
    a->used += size;
    return p;
}

void *
af_arena_calloc(af_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = af_arena_alloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

char *
af_arena_strndup(af_arena *a, const char *s, size_t n)
{
    char *d = af_arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
af_arena_strdup(af_arena *a, const char *s)
{
    return af_arena_strndup(a, s, strlen(s));
}

char *
af_arena_sprintf(af_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *d = af_arena_alloc(a, (size_t)n + 1);
    if (!d)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

void
af_arena_reset(af_arena *a)
{
    a->cur = a->head;
    a->off = 0;
    a->used = 0;
}

size_t
af_arena_used(const af_arena *a)
{
    return a->used;
}

size_t
af_arena_capacity(const af_arena *a)
{
    size_t n = 0;
    for (const struct block *b = a->head; b; b = b->next)
        n += b->size;
    return n;
}
