/*
 * conntab.h -- a worker's table of open client connections (internal to
 * core/http).
 *
 * libevent 2.1 has no connection limit (evhttp_set_max_connections arrived
 * in 2.2) and tells the application about a connection only through its
 * requests, so the worker registers a connection here on its first request
 * and removes it in the connection's close callback.  Fixed capacity, open
 * addressing with linear probing and backward-shift deletion: no allocation
 * after creation, O(1) per request.  Owned and used by one worker thread.
 */
#ifndef AF_CORE_HTTP_CONNTAB_H
#define AF_CORE_HTTP_CONNTAB_H

#include <stddef.h>
#include <stdint.h>

struct af_conn {
    const void *key;  /* the struct evhttp_connection; NULL = free slot   */
    uint32_t pending; /* replies dispatched and not yet fully written     */
};

struct af_conntab {
    struct af_conn *slot; /* mask + 1 entries                             */
    size_t mask;
    size_t count;
    size_t max;           /* count never exceeds this                     */
};

/* Room for `max` connections (>= 1).  Returns 0 or AF_ENOMEM. */
int af_conntab_init(struct af_conntab *t, size_t max);
void af_conntab_free(struct af_conntab *t);

/* The entry of `key`, or NULL. */
struct af_conn *af_conntab_find(struct af_conntab *t, const void *key);
/* Add `key` (not present); NULL when the table holds `max` already. */
struct af_conn *af_conntab_add(struct af_conntab *t, const void *key);
/* Remove `key` if present; returns its pending count (0 when absent). */
uint32_t af_conntab_remove(struct af_conntab *t, const void *key);

#endif
