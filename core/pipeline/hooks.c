/*
 * hooks.c -- request-time Lua hooks.
 *
 * A pool of Lua states per pipeline: a request takes one (an atomic
 * exchange on a slot, no lock), runs the hook, and puts it back.  The pool
 * grows to the number of requests running hooks at once -- the number of
 * workers -- and a state is built (once) only when none is free.  The ad,
 * user and context tables are created once per state and updated in place,
 * so a steady-state hook call allocates nothing in Lua beyond what the
 * hook itself does.
 */
#include "pipeline/hooks.h"

#include <lauxlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "engine/rank_types.h"
#include "mem/arena.h"
#include "pipeline/compile.h"
#include "pipeline/sandbox.h"

#define POOL 16
#define HOOK_MEMORY (16u << 20)
#define HOOK_INSTRUCTIONS 2000000LL /* per request, all hook calls together */

const char *const af_hook_names[AF_N_HOOKS] = {"filter", "adjust"};

struct hook_state {
    af_sandbox *sb;
    int fn[AF_N_HOOKS]; /* registry refs, LUA_NOREF when absent */
    int ad, user, ctx;  /* reused argument tables               */
};

struct af_hooks {
    struct af_source_set *sources;
    char *file;
    uint32_t mask;
    _Atomic(struct hook_state *) pool[POOL];
};

struct af_hooks *
af_hooks_new(struct af_source_set *sources, const char *file, uint32_t mask)
{
    struct af_hooks *h = calloc(1, sizeof *h);
    if (!h || !(h->file = strdup(file))) {
        free(h);
        af_source_set_free(sources);
        return NULL;
    }
    h->sources = sources;
    h->mask = mask;
    return h;
}

static void
state_free(struct hook_state *st)
{
    if (st) {
        af_sandbox_free(st->sb);
        free(st);
    }
}

void
af_hooks_free(struct af_hooks *h)
{
    if (!h)
        return;
    for (int i = 0; i < POOL; i++)
        state_free(atomic_load(&h->pool[i]));
    af_source_set_free(h->sources);
    free(h->file);
    free(h);
}

int
af_hooks_has(const struct af_hooks *h, int hook)
{
    return h && (h->mask >> hook) & 1u;
}

/* --- ## States --- */

static int
new_table_ref(lua_State *L)
{
    lua_createtable(L, 0, 12);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Re-run the pipeline file from the recorded texts and keep its hooks. */
static struct hook_state *
state_new(struct af_hooks *h, char *err, size_t errlen)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", h->file);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    struct af_sandbox_limits lim = {HOOK_MEMORY, HOOK_INSTRUCTIONS};
    struct hook_state *st = calloc(1, sizeof *st);
    if (!st || !(st->sb = af_sandbox_new(&lim, dir))) {
        free(st);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    af_sandbox_replay(st->sb, h->sources);
    if (af_pipeline_declare(st->sb, h->file, err, errlen) != 0) {
        state_free(st);
        return NULL;
    }
    lua_State *L = af_sandbox_state(st->sb);
    lua_getfield(L, -1, "hooks"); /* spec.hooks */
    int hooks_table = lua_istable(L, -1);
    for (int k = 0; k < AF_N_HOOKS; k++) {
        st->fn[k] = LUA_NOREF;
        if (!hooks_table)
            continue;
        if (lua_getfield(L, -1, af_hook_names[k]) == LUA_TFUNCTION)
            st->fn[k] = luaL_ref(L, LUA_REGISTRYINDEX); /* pops it */
        else
            lua_pop(L, 1);
    }
    lua_settop(L, 0);
    st->ad = new_table_ref(L);
    st->user = new_table_ref(L);
    st->ctx = new_table_ref(L);
    return st;
}

static struct hook_state *
acquire(struct af_hooks *h, char *err, size_t errlen)
{
    for (int i = 0; i < POOL; i++) {
        struct hook_state *st = atomic_exchange(&h->pool[i], NULL);
        if (st)
            return st;
    }
    return state_new(h, err, errlen);
}

static void
release(struct af_hooks *h, struct hook_state *st)
{
    for (int i = 0; i < POOL; i++) {
        struct hook_state *expected = NULL;
        if (atomic_compare_exchange_strong(&h->pool[i], &expected, st))
            return;
    }
    state_free(st); /* more concurrent users than slots: let this one go */
}

/* --- ## Arguments --- */

static void
set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void
set_num(lua_State *L, const char *k, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void
fill_request(lua_State *L, const struct hook_state *st,
             const struct af_request *req)
{
    const struct af_user *u = &req->user;
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->user);
    set_int(L, "id", (lua_Integer)u->id);
    set_int(L, "geo", u->geo);
    set_int(L, "age_band", u->age_band);
    set_int(L, "device", u->device);
    set_int(L, "gender", u->gender);
    set_int(L, "interests", (lua_Integer)u->interests);
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->ctx);
    set_int(L, "hour", req->context.hour);
    set_int(L, "day_of_week", req->context.day_of_week);
    set_int(L, "time", req->time_s);
    lua_pushstring(L, req->surface);
    lua_setfield(L, -2, "surface");
    lua_pushstring(L, req->arm);
    lua_setfield(L, -2, "arm");
    lua_pop(L, 1);
}

static void
fill_ad(lua_State *L, const struct hook_state *st, const struct af_catalog *c,
        const struct af_batch *b, uint32_t i)
{
    uint32_t row = b->ad[i];
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->ad);
    set_int(L, "id", (lua_Integer)c->ad_id[row]);
    set_int(L, "advertiser", c->advertiser_id[row]);
    set_int(L, "campaign", c->campaign_id[row]);
    set_int(L, "category", c->category[row]);
    lua_pushstring(L, af_bid_type_name(c->bid_type[row]));
    lua_setfield(L, -2, "bid_type");
    set_num(L, "bid", b->bid[i]);
    set_num(L, "quality", c->quality[row]);
    set_num(L, "prior_ctr", c->prior_ctr[row]);
    set_num(L, "pctr", b->pctr[i]);
}

/* --- ## Running --- */

static int
call_one(lua_State *L, const struct hook_state *st, int hook,
         const struct af_request *req, struct af_batch *b, uint32_t i)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->fn[hook]);
    fill_ad(L, st, req->catalog, b, i);
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->user);
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->ctx);
    int rc = lua_pcall(L, 3, 1, 0);
    if (rc != LUA_OK)
        return rc;
    if (hook == AF_HOOK_FILTER) {
        if (!lua_toboolean(L, -1))
            b->drop[i] = 1;
    } else {
        int isnum;
        lua_Number m = lua_tonumberx(L, -1, &isnum);
        if (!isnum || !(m >= 0) || m > 1e6) {
            lua_pop(L, 1);
            lua_pushfstring(L, "adjust must return a number in [0, 1e6]");
            return LUA_ERRRUN;
        }
        float p = (float)(b->pctr[i] * m);
        b->pctr[i] = p > 1.0f ? 1.0f : p;
    }
    lua_pop(L, 1);
    return LUA_OK;
}

int
af_hooks_run(struct af_hooks *h, int hook, const struct af_request *req,
             struct af_batch *b, const char **errmsg)
{
    *errmsg = NULL;
    if (!af_hooks_has(h, hook) || b->n == 0)
        return AF_OK;
    char err[512];
    struct hook_state *st = acquire(h, err, sizeof err);
    if (!st) {
        *errmsg = af_arena_sprintf(req->arena, "hook %s: %s", af_hook_names[hook], err);
        return AF_EPLUGIN;
    }
    lua_State *L = af_sandbox_state(st->sb);
    af_sandbox_reset_budget(st->sb);
    fill_request(L, st, req);
    int rc = LUA_OK;
    for (uint32_t i = 0; i < b->n && rc == LUA_OK; i++)
        rc = call_one(L, st, hook, req, b, i);
    if (rc != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        *errmsg = af_arena_sprintf(req->arena, "hook %s: %s", af_hook_names[hook],
                                   rc == LUA_ERRMEM ? "memory limit exceeded"
                                   : m ? m : "error");
        lua_settop(L, 0);
    }
    release(h, st);
    return rc == LUA_OK ? AF_OK : AF_EPLUGIN;
}
