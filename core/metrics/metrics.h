/*
 * metrics.h -- server metrics in Prometheus text format.
 *
 * Updates on the request path are lock-free: each worker writes its own shard
 * (plain stores, one writer per shard) and /metrics sums the shards.  Plugin
 * metrics are atomics because an instance is shared by all workers.
 */
#ifndef AF_CORE_METRICS_H
#define AF_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "engine/rank_types.h"

typedef struct af_metrics af_metrics;
typedef struct af_metrics_shard af_metrics_shard;

/* Latency histogram bucket upper bounds, seconds (Prometheus "le"). */
#define AF_LATENCY_BUCKETS                                                     \
    {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,   \
     0.25, 1.0}
#define AF_N_LATENCY_BUCKETS 12

af_metrics *af_metrics_create(unsigned n_shards);
void af_metrics_free(af_metrics *m);
af_metrics_shard *af_metrics_shard_of(af_metrics *m, unsigned i);

/* One finished HTTP request: path label ("/v1/rank", ...), surface (may be
 * NULL), HTTP status, total latency in seconds. */
void af_metrics_request(af_metrics_shard *s, const char *path,
                        const char *surface, int status, double seconds);
/* One finished ranking: per-stage latency and candidate counts, degraded flag. */
void af_metrics_rank(af_metrics_shard *s, const struct af_rank_resp *r);

/* Render the Prometheus exposition of the server metrics into buf. Returns 0
 * or AF_ENOMEM. */
struct af_buf;
int af_metrics_render(af_metrics *m, struct af_buf *buf);

#endif
