/*
 * pipeline.c -- load a pipeline file: run it in the sandbox to collect the
 * `surface "name" { ... }` declaration, then compile it (compile.c) into
 * stages, experiment arms included.  The Lua state is closed afterwards: no
 * Lua runs on the request path.
 */
#include "pipeline/pipeline.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/compile.h"
#include "pipeline/hooks.h"
#include "util/fnv.h"
#include "util/sha256.h"

#define DEFAULT_DEADLINE_MS 50.0
#define DEFAULT_SLOTS 5
/* Candidates one request may carry (the batch is sized for it: about 250
 * bytes a row, so 25 MiB of request arena at the limit). */
#define AF_MAX_CANDIDATES 100000u
#define SANDBOX_MEMORY (32u << 20)
#define SANDBOX_INSTRUCTIONS 10000000LL

static const char *const surface_keys[] = {
    "retrieve", "filter", "features", "prerank", "rank", "calibrate",
    "auction", "explore", "deadline_ms", "slots", "experiments", "hooks", NULL};

static const char *const arm_keys[] = {
    "name", "weight", "retrieve", "filter", "features", "prerank", "rank",
    "calibrate", "auction", "explore", NULL};

/* --- ## The `surface` declaration --- */

#define SURFACES_KEY "adfunnel.surfaces"

/* surface "name" returns this; it records (name, table, line). */
static int
surface_body(lua_State *L)
{
    if (!lua_istable(L, 1)) {
        luaL_where(L, 1);
        lua_pushfstring(L, "surface \"%s\" expects a table: surface \"%s\" { ... }",
                        lua_tostring(L, lua_upvalueindex(1)),
                        lua_tostring(L, lua_upvalueindex(1)));
        lua_concat(L, 2);
        return lua_error(L);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, SURFACES_KEY);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setfield(L, -2, "name");
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "spec");
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_setfield(L, -2, "line");
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    return 0;
}

static int
surface_decl(lua_State *L)
{
    const char *name = lua_tostring(L, 1);
    if (lua_type(L, 1) != LUA_TSTRING || !*name || strlen(name) >= AF_SURFACE_MAX) {
        luaL_where(L, 1);
        lua_pushfstring(L, "surface name must be a non-empty string of at most "
                           "%d bytes", AF_SURFACE_MAX - 1);
        lua_concat(L, 2);
        return lua_error(L);
    }
    lua_Debug ar;
    int line = 0;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
        line = ar.currentline;
    lua_pushvalue(L, 1);
    lua_pushinteger(L, line);
    lua_pushcclosure(L, surface_body, 2);
    return 1;
}

/* --- ## Compiling --- */

static int
check_keys(struct compiler *c, const char *what, const char *const *known)
{
    lua_State *L = c->L;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            int ok = 0;
            for (const char *const *q = known; *q; q++)
                ok |= !strcmp(k, *q);
            if (!ok) {
                char key[64];
                snprintf(key, sizeof key, "%s", k);
                lua_pop(L, 2);
                return af_compile_unknown_key(c, what, key, known);
            }
        }
        lua_pop(L, 1);
    }
    return 0;
}

static int
compile_stages(struct compiler *c, struct af_arm *arm, const struct af_arm *base,
               int *slots)
{
    lua_State *L = c->L;
    c->arm = arm->name;
    for (int id = 0; id < AF_N_STAGES; id++) {
        if (c->env->features_only && id > AF_STAGE_FEATURES)
            break;
        lua_getfield(L, -1, af_stage_names[id]);
        if (lua_isnil(L, -1)) {
            arm->stage[id] = base ? base->stage[id] : NULL;
        } else {
            const struct af_stage *st = af_compile_stage(c, id, slots);
            if (!st) {
                lua_pop(L, 1);
                return -1;
            }
            arm->stage[id] = st;
        }
        lua_pop(L, 1);
    }
    return 0;
}

static uint32_t
stage_capacity(const struct af_arm *arm)
{
    uint32_t total = 0;
    const struct af_stage *st = arm->stage[AF_STAGE_RETRIEVE];
    for (uint32_t i = 0; st && i < st->n; i++)
        total += st->p[i].k;
    return total;
}

static int
compile_arm(struct compiler *c, int index, double *lo, int *slots)
{
    lua_State *L = c->L;
    struct af_pipeline *p = c->p;
    if (!lua_istable(L, -1))
        return -2;
    if (check_keys(c, "experiment arm", arm_keys) != 0)
        return -1;
    lua_getfield(L, -1, "name");
    const char *name = lua_tostring(L, -1);
    char namebuf[48];
    snprintf(namebuf, sizeof namebuf, "%s", name ? name : "");
    lua_pop(L, 1);
    lua_getfield(L, -1, "weight");
    double w = lua_tonumber(L, -1);
    int has_w = lua_isnumber(L, -1);
    lua_pop(L, 1);
    int line = c->surface_line;
    if (!name || !namebuf[0] || !strcmp(namebuf, "control"))
        return af_compile_fail(c, af_compile_line_of_key(c, "experiments"),
                               "experiment arm %d needs a name other than "
                               "\"control\"", index);
    line = af_compile_line_of_name(c, namebuf);
    if (!has_w || !(w > 0 && w <= 1))
        return af_compile_fail(c, line, "experiment arm \"%s\": weight must be in (0, 1]", namebuf);
    if (*lo + w > 1.0 + 1e-9)
        return af_compile_fail(c, line, "experiment weights add up to more than 1");
    if (p->n_arms == AF_MAX_ARMS)
        return af_compile_fail(c, line, "more than %d experiment arms", AF_MAX_ARMS - 1);
    for (uint32_t a = 0; a < p->n_arms; a++)
        if (!strcmp(p->arm[a].name, namebuf))
            return af_compile_fail(c, line, "experiment arm \"%s\" declared twice", namebuf);
    struct af_arm *arm = &p->arm[p->n_arms++];
    memset(arm, 0, sizeof *arm);
    arm->name = strdup(namebuf);
    arm->lo = *lo;
    arm->hi = *lo + w;
    *lo += w;
    uint64_t fp = p->fingerprint;
    /* An arm with its own features stage fingerprints its own models; the
     * pipeline's fingerprint stays control's. */
    int rc = compile_stages(c, arm, &p->arm[0], slots);
    p->fingerprint = fp;
    return rc;
}

static int
compile_experiments(struct compiler *c, int *slots)
{
    lua_State *L = c->L;
    struct af_pipeline *p = c->p;
    lua_getfield(L, -1, "experiments");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    int line = af_compile_line_of_key(c, "experiments");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return af_compile_fail(c, line, "experiments must be a table");
    }
    lua_getfield(L, -1, "salt");
    const char *salt = lua_tostring(L, -1);
    p->salt = strdup(salt ? salt : p->surface);
    lua_pop(L, 1);
    double lo = 0;
    size_t n = lua_rawlen(L, -1);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        int rc = compile_arm(c, (int)i, &lo, slots);
        if (rc != 0) {
            lua_pop(L, 2);
            if (rc == -2)
                af_compile_fail(c, line, "experiment arm %zu must be a table", i);
            return -1;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    /* Control keeps whatever share the arms leave. */
    p->arm[0].lo = lo;
    p->arm[0].hi = 1.0;
    return 0;
}

/* hooks = { filter = function ... end, adjust = function ... end } */
static int
compile_hooks(struct compiler *c)
{
    lua_State *L = c->L;
    lua_getfield(L, -1, "hooks");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    int line = af_compile_line_of_key(c, "hooks");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return af_compile_fail(c, line, "hooks must be a table of functions");
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int id = -1;
        for (int h = 0; k && h < AF_N_HOOKS; h++)
            if (!strcmp(k, af_hook_names[h]))
                id = h;
        if (id < 0 || !lua_isfunction(L, -1)) {
            char key[64];
            snprintf(key, sizeof key, "%s", k ? k : "?");
            lua_pop(L, 3);
            if (id < 0)
                return af_compile_fail(c, line, "hooks: unknown hook \"%s\" "
                                       "(hooks: filter, adjust)", key);
            return af_compile_fail(c, af_compile_line_of_key(c, key),
                                   "hooks: %s must be a function", key);
        }
        c->hook_mask |= 1u << id;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

static int
compile_surface(struct compiler *c)
{
    lua_State *L = c->L;
    struct af_pipeline *p = c->p;
    if (check_keys(c, "surface", surface_keys) != 0)
        return -1;
    lua_getfield(L, -1, "deadline_ms");
    double dl = lua_isnil(L, -1) ? DEFAULT_DEADLINE_MS : lua_tonumber(L, -1);
    int bad = !lua_isnil(L, -1) && !lua_isnumber(L, -1);
    lua_pop(L, 1);
    if (bad || !(dl > 0 && dl <= 60000))
        return af_compile_fail(c, af_compile_line_of_key(c, "deadline_ms"), "deadline_ms must be a number in (0, 60000]");
    p->deadline_ns = (uint64_t)(dl * 1e6);
    int slots = DEFAULT_SLOTS;
    lua_getfield(L, -1, "slots");
    if (!lua_isnil(L, -1)) {
        lua_Integer v = lua_tointeger(L, -1);
        if (!lua_isinteger(L, -1) || v < 1 || v > AF_MAX_SLOTS) {
            lua_pop(L, 1);
            return af_compile_fail(c, af_compile_line_of_key(c, "slots"), "slots must be an integer in 1..%d", AF_MAX_SLOTS);
        }
        slots = (int)v;
    }
    lua_pop(L, 1);

    struct af_arm *control = &p->arm[0];
    p->n_arms = 1;
    control->name = strdup("control");
    control->lo = 0;
    control->hi = 1;
    if (compile_stages(c, control, NULL, &slots) != 0)
        return -1;
    if (!control->stage[AF_STAGE_RETRIEVE])
        return af_compile_fail(c, c->surface_line, "surface \"%s\" has no retrieve stage", p->surface);
    if (!c->env->features_only && !control->stage[AF_STAGE_AUCTION])
        return af_compile_fail(c, c->surface_line, "surface \"%s\" has no auction stage", p->surface);
    if (compile_experiments(c, &slots) != 0)
        return -1;
    if (compile_hooks(c) != 0)
        return -1;
    p->slots = (uint32_t)slots;
    for (uint32_t a = 0; a < p->n_arms; a++) {
        uint32_t cap = stage_capacity(&p->arm[a]);
        if (cap > AF_MAX_CANDIDATES)
            return af_compile_fail(c, af_compile_line_of_key(c, "retrieve"),
                                   "arm \"%s\": retrievers ask for %u candidates "
                                   "in total, at most %u are allowed per request",
                                   p->arm[a].name, cap, AF_MAX_CANDIDATES);
        if (cap > p->max_candidates)
            p->max_candidates = cap;
    }
    return 0;
}

/* --- ## Lifecycle --- */

/* Install `surface` and run the file in sb. */
static int
run_declaration(af_sandbox *sb, const char *file, char *err, size_t errlen)
{
    lua_State *L = af_sandbox_state(sb);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, SURFACES_KEY);
    af_sandbox_push_env(sb);
    lua_pushcfunction(L, surface_decl);
    lua_setfield(L, -2, "surface");
    lua_pop(L, 1);
    return af_sandbox_run_file(sb, file, err, errlen);
}

int
af_pipeline_declare(af_sandbox *sb, const char *file, char *err, size_t errlen)
{
    if (run_declaration(sb, file, err, errlen) != 0)
        return -1;
    lua_State *L = af_sandbox_state(sb);
    lua_getfield(L, LUA_REGISTRYINDEX, SURFACES_KEY);
    if (lua_rawlen(L, -1) != 1) {
        snprintf(err, errlen, "%s:1: a pipeline file declares exactly one surface",
                 file);
        return -1;
    }
    lua_rawgeti(L, -1, 1);
    lua_getfield(L, -1, "spec");
    lua_replace(L, -3);
    lua_pop(L, 1);
    return 0;
}

static int
collect_surface(struct compiler *c)
{
    lua_State *L = c->L;
    lua_getfield(L, LUA_REGISTRYINDEX, SURFACES_KEY);
    size_t n = lua_rawlen(L, -1);
    if (n != 1) {
        lua_pop(L, 1);
        return af_compile_fail(c, 1, "a pipeline file declares exactly one "
                               "surface (surface \"name\" { ... }), this one "
                               "declares %zu", n);
    }
    lua_rawgeti(L, -1, 1);
    lua_getfield(L, -1, "name");
    c->p->surface = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, -1, "line");
    c->surface_line = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "spec");
    return 0;
}

static void
set_version(struct af_pipeline *p, const char *src)
{
    char hex[65];
    af_sha256_buf(src, strlen(src), hex);
    snprintf(p->version, sizeof p->version, "%s@%.12s", p->surface, hex);
}

struct af_pipeline *
af_pipeline_load(const char *file, const struct af_pipeline_env *env,
                 char *err, size_t errlen)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    struct af_sandbox_limits lim = {SANDBOX_MEMORY, SANDBOX_INSTRUCTIONS};
    af_sandbox *sb = af_sandbox_new(&lim, dir);
    struct af_pipeline *p = calloc(1, sizeof *p);
    if (!sb || !p) {
        snprintf(err, errlen, "%s: out of memory", file);
        af_sandbox_free(sb);
        free(p);
        return NULL;
    }
    p->file = strdup(file);
    lua_State *L = af_sandbox_state(sb);
    struct compiler c = {.sb = sb, .L = L, .file = file, .env = env, .p = p,
                         .err = err, .errlen = errlen};
    err[0] = '\0';
    int rc = run_declaration(sb, file, err, errlen);
    if (rc == 0) {
        c.src = af_sandbox_source(sb);
        rc = collect_surface(&c);
    }
    if (rc == 0)
        rc = compile_surface(&c);
    if (rc == 0)
        set_version(p, c.src);
    if (rc == 0 && c.hook_mask) {
        p->hooks = af_hooks_new(af_sandbox_take_sources(sb), file, c.hook_mask);
        if (!p->hooks)
            rc = af_compile_fail(&c, c.surface_line, "out of memory");
    }
    af_sandbox_free(sb);
    if (rc != 0) {
        af_pipeline_free(p);
        return NULL;
    }
    return p;
}

void
af_pipeline_free(struct af_pipeline *p)
{
    if (!p)
        return;
    /* Destroy in reverse creation order: models before the features they
     * were fingerprinted against, like a stack unwinding. */
    for (uint32_t s = p->n_owned; s-- > 0;) {
        struct af_stage *st = &p->owned[s];
        for (uint32_t i = st->n; i-- > 0;) {
            af_instance_destroy(&st->p[i].in);
            af_config_free(st->p[i].cfg);
        }
        free(st->p);
        free(st->label);
    }
    for (uint32_t a = 0; a < p->n_arms; a++)
        free(p->arm[a].name);
    free(p->owned);
    af_hooks_free(p->hooks);
    free(p->salt);
    free(p->surface);
    free(p->file);
    free(p);
}

const char *
af_pipeline_surface(const struct af_pipeline *p)
{
    return p->surface;
}

const char *
af_pipeline_file(const struct af_pipeline *p)
{
    return p->file;
}

const char *
af_pipeline_version(const struct af_pipeline *p)
{
    return p->version;
}

uint64_t
af_pipeline_fingerprint(const struct af_pipeline *p)
{
    return p->fingerprint;
}

const struct af_arm *
af_pipeline_arm(const struct af_pipeline *p, uint64_t user_id)
{
    if (p->n_arms <= 1)
        return &p->arm[0];
    uint64_t h = af_fnv1a(AF_FNV_OFFSET, p->salt, strlen(p->salt));
    h = af_fnv1a(h, &user_id, sizeof user_id);
    h ^= h >> 33; /* FNV's low bits are weak; fold before scaling */
    double u = (double)(h >> 11) * 0x1.0p-53;
    for (uint32_t a = 1; a < p->n_arms; a++)
        if (u >= p->arm[a].lo && u < p->arm[a].hi)
            return &p->arm[a];
    return &p->arm[0];
}

int
af_pipeline_run_features(const struct af_pipeline *p,
                         const struct af_request *req, struct af_batch *b)
{
    const struct af_stage *st = p->arm[0].stage[AF_STAGE_FEATURES];
    b->n_fields = b->n_dense = b->n_req_fields = b->n_req_dense = 0;
    for (uint32_t i = 0; st && i < st->n; i++) {
        const struct af_feature_ops *ops = st->p[i].in.ops;
        int rc = ops->extract(st->p[i].in.inst, req, b);
        if (rc != 0)
            return rc;
    }
    return 0;
}
