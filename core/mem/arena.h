/*
 * arena.h -- per-request bump allocator (the nginx pool idea).
 *
 * Each worker owns one arena and resets it after every request: memory comes
 * from blocks kept across requests, so a steady-state request performs no
 * malloc.  A request that needs more than the block chain holds grows it
 * (once), up to `limit` bytes, after which allocation returns NULL.
 * Not thread-safe: one arena belongs to one thread at a time.
 */
#ifndef AF_CORE_ARENA_H
#define AF_CORE_ARENA_H

#include <stddef.h>

typedef struct af_arena af_arena;

/* block_size: size of each block; limit: max bytes per request (0 = none). */
af_arena *af_arena_create(size_t block_size, size_t limit);
void af_arena_destroy(af_arena *a);

/* 16-byte aligned; NULL when over the limit or out of memory. */
void *af_arena_alloc(af_arena *a, size_t size);
void *af_arena_calloc(af_arena *a, size_t n, size_t size);
char *af_arena_strdup(af_arena *a, const char *s);
char *af_arena_strndup(af_arena *a, const char *s, size_t n);
char *af_arena_sprintf(af_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Forget every allocation; keeps the blocks for the next request. */
void af_arena_reset(af_arena *a);
/* Bytes handed out since the last reset. */
size_t af_arena_used(const af_arena *a);
/* Bytes held in blocks. */
size_t af_arena_capacity(const af_arena *a);

#endif
