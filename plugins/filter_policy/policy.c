/*
 * policy.c -- filter "policy": ads a surface or a user must not see.
 *
 *   filter = { { "policy", blocked_categories = { 7, 12 }, hidden = "campaign" } }
 *
 * blocked_categories  categories never shown on this surface (a list of
 *                     category ids < 64; the catalog's category column)
 * hidden              per user, from the user's own negative feedback in the
 *                     online state (AF_EV_HIDE, all time):
 *                       "none"      (default) ignore hides
 *                       "ad"        never show a user an ad they hid
 *                       "campaign"  never show a user any ad of a campaign
 *                                   one of whose ads they hid (also the ad)
 *
 * Per-user blocked categories sent with the request are not supported: the
 * request ABI (struct af_user) has no field for them.  The per-user rule is
 * the user's hides, which the server already records.
 *
 * When the state cannot be read the filter fails closed (on_error =
 * "closed", the default: drops every row) or open ("open").  The instance is
 * read-only after create.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <adfunnel/adfunnel.h>
#include <adfunnel/af_params.h>

#define MAX_CATEGORY 64
#define LIST "blocked_categories."

enum hidden { HIDDEN_NONE, HIDDEN_AD, HIDDEN_CAMPAIGN };

struct policy {
    const struct af_host_api *host;
    af_plugin_ctx *pc;
    uint64_t blocked; /* bit c: category c blocked */
    int hidden;
    int fail_open;
    af_counter *blocked_count, *hidden_count;
};

/* --- ## Life cycle --- */

static int
read_categories(const struct af_host_api *h, const af_config *c,
                struct policy *p, char *err, size_t errlen)
{
    uint32_t n = h->config_count(c);
    if (h->config_has(c, "blocked_categories")) {
        snprintf(err, errlen, "blocked_categories must be a list of category "
                              "ids, as in blocked_categories = { 7, 12 }");
        return AF_EINVAL;
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *key = h->config_key(c, i);
        if (strncmp(key, LIST, strlen(LIST)) != 0)
            continue;
        int64_t cat;
        int rc = af_param_int(h, c, key, 0, 0, MAX_CATEGORY - 1, &cat, err,
                              errlen);
        if (rc != AF_OK)
            return rc;
        p->blocked |= UINT64_C(1) << cat;
    }
    return AF_OK;
}

static int
policy_create(const struct af_create_args *args, void **inst, char *err,
              size_t errlen)
{
    const struct af_host_api *h = args->host;
    const af_config *c = args->config;
    uint32_t n = h->config_count(c);
    for (uint32_t i = 0; i < n; i++) {
        const char *key = h->config_key(c, i);
        if (strncmp(key, LIST, strlen(LIST)) && strcmp(key, "hidden") &&
            strcmp(key, "on_error") && strcmp(key, "blocked_categories")) {
            snprintf(err, errlen, "unknown parameter \"%s\" (takes "
                                  "blocked_categories, hidden, on_error)", key);
            return AF_EINVAL;
        }
    }
    struct policy *p = calloc(1, sizeof *p);
    if (p == NULL)
        return AF_ENOMEM;
    int rc = read_categories(h, c, p, err, errlen);
    const char *hidden = h->config_str(c, "hidden", "none");
    const char *on_error = h->config_str(c, "on_error", "closed");
    if (rc == AF_OK) {
        if (strcmp(hidden, "none") == 0)
            p->hidden = HIDDEN_NONE;
        else if (strcmp(hidden, "ad") == 0)
            p->hidden = HIDDEN_AD;
        else if (strcmp(hidden, "campaign") == 0)
            p->hidden = HIDDEN_CAMPAIGN;
        else {
            snprintf(err, errlen, "hidden must be \"none\", \"ad\" or "
                                  "\"campaign\", got %s", hidden);
            rc = AF_EINVAL;
        }
    }
    if (rc == AF_OK && strcmp(on_error, "open") && strcmp(on_error, "closed")) {
        snprintf(err, errlen, "on_error must be \"open\" or \"closed\", got %s",
                 on_error);
        rc = AF_EINVAL;
    }
    if (rc == AF_OK && p->hidden != HIDDEN_NONE && !AF_HOST_HAS(h, state_read)) {
        snprintf(err, errlen, "hidden needs the online state, which the host "
                              "does not offer");
        rc = AF_EINVAL;
    }
    if (rc != AF_OK) {
        free(p);
        return rc;
    }
    p->fail_open = strcmp(on_error, "open") == 0;
    p->host = h;
    p->pc = args->pc;
    p->blocked_count = h->counter(args->pc, "blocked",
                                  "candidates dropped: blocked category");
    p->hidden_count = h->counter(args->pc, "hidden",
                                 "candidates dropped: hidden by the user");
    *inst = p;
    return AF_OK;
}

static void
policy_destroy(void *inst)
{
    free(inst);
}

/* --- ## Request path --- */

/* Drop rows whose ad (or campaign) the user hid; `ent` picks which. */
static int
drop_hidden(const struct policy *p, const struct af_request *req,
            struct af_batch *b, int ent, uint64_t *keys, double *hides,
            uint64_t *dropped)
{
    const struct af_catalog *cat = req->catalog;
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t row = b->ad[i];
        keys[i] = af_state_key2(req->user.id, ent == AF_ENT_USER_AD
                                                  ? cat->ad_id[row]
                                                  : cat->campaign_id[row]);
    }
    int rc = p->host->state_read(p->pc, req, ent, AF_EV_HIDE, AF_WIN_ALL, keys,
                                 b->n, hides);
    if (rc != AF_OK)
        return rc;
    for (uint32_t i = 0; i < b->n; i++)
        if (hides[i] > 0 && !b->drop[i]) {
            b->drop[i] = 1;
            (*dropped)++;
        }
    return AF_OK;
}

static int
policy_filter(void *inst, const struct af_request *req, struct af_batch *b)
{
    const struct policy *p = inst;
    const struct af_catalog *cat = req->catalog;
    uint64_t blocked = 0, hidden = 0;
    if (p->blocked)
        for (uint32_t i = 0; i < b->n; i++) {
            uint32_t c = cat->category[b->ad[i]];
            if (c < MAX_CATEGORY && (p->blocked >> c & 1u)) {
                b->drop[i] = 1;
                blocked++;
            }
        }
    p->host->counter_add(p->blocked_count, blocked);
    if (p->hidden == HIDDEN_NONE || b->n == 0 || req->user.id == 0)
        return AF_OK;
    uint64_t *keys = p->host->arena_alloc(req->arena, b->n * sizeof *keys);
    double *hides = p->host->arena_alloc(req->arena, b->n * sizeof *hides);
    if (!keys || !hides)
        return AF_ENOMEM;
    int rc = drop_hidden(p, req, b, AF_ENT_USER_AD, keys, hides, &hidden);
    if (rc == AF_OK && p->hidden == HIDDEN_CAMPAIGN)
        rc = drop_hidden(p, req, b, AF_ENT_USER_CAMPAIGN, keys, hides, &hidden);
    if (rc != AF_OK && !p->fail_open)
        for (uint32_t i = 0; i < b->n; i++)
            b->drop[i] = 1;
    p->host->counter_add(p->hidden_count, hidden);
    return rc;
}

/* --- ## Descriptor --- */

static const struct af_filter_ops policy_ops = {
    .struct_size = sizeof policy_ops,
    .filter = policy_filter,
};

static const struct af_plugin policy_plugin = {
    AF_PLUGIN_HEADER,
    .kind = AF_KIND_FILTER,
    .name = "policy",
    .version = "1.0.0",
    .description = "drops blocked categories of the surface and ads or "
                   "campaigns the user hid",
    .create = policy_create,
    .destroy = policy_destroy,
    .ops = &policy_ops,
};

AF_PLUGIN_EXPORT const struct af_plugin *
af_plugin_entry(void)
{
    return &policy_plugin;
}
