/*
 * state.h -- online state: event counters per entity and time window.
 *
 * The state outlives generations (a hot swap must not forget today's
 * spend), so the server owns it and every generation borrows it.  Behind
 * struct af_state_ops sit interchangeable backends: embedded (this process,
 * lock-free reads) and, for several replicas, Redis.  Plugins reach it only
 * through host->state_read (af_host_api.h); feedback reaches it through
 * af_state_record (POST /v1/events, the world simulator).
 */
#ifndef AF_CORE_STATE_H
#define AF_CORE_STATE_H

#include <stddef.h>
#include <stdint.h>
#include "adfunnel/af_types.h"

/* One piece of feedback about an ad shown to a user. */
struct af_state_event {
    int type;               /* enum af_event_type                           */
    uint64_t user_id;
    uint64_t ad_id;
    uint32_t campaign_id;
    uint32_t advertiser_id;
    double value;           /* 1 for counts; the price for AF_EV_SPEND       */
    int64_t time_s;         /* unix seconds (virtual in simulations)         */
};

typedef struct af_state af_state;

struct af_state_ops {
    /* Count the event in every entity family it concerns: impressions,
     * clicks, conversions and hides for ad, campaign, advertiser, user,
     * user x ad, user x campaign; spend for ad, campaign, advertiser. */
    int (*record)(af_state *s, const struct af_state_event *ev);
    /* out[i] = count of keys[i] for event over window ending at now_s. */
    int (*read)(af_state *s, int entity, int event, int window, int64_t now_s,
                const uint64_t *keys, uint32_t n, double *out);
    void (*free)(af_state *s);
};

/* Every backend's state struct starts with this. */
struct af_state {
    const struct af_state_ops *ops;
};

static inline int
af_state_record(af_state *s, const struct af_state_event *ev)
{
    return s->ops->record(s, ev);
}

static inline int
af_state_read(af_state *s, int entity, int event, int window, int64_t now_s,
              const uint64_t *keys, uint32_t n, double *out)
{
    return s->ops->read(s, entity, event, window, now_s, keys, n, out);
}

static inline void
af_state_free(af_state *s)
{
    if (s)
        s->ops->free(s);
}

/* The embedded backend.  max_keys bounds the keys per entity family
 * (memory is allocated up front, so the request path never allocates);
 * a family that is full stops counting new keys and says so in the log. */
af_state *af_state_embedded_new(uint32_t max_keys);

#endif
