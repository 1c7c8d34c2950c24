/*
 * featspec.c -- load a feature spec file (featspec.h): run it in the
 * pipeline sandbox to collect the `features "name" { ... }` declaration,
 * then check and convert it in C.  Errors carry file:line; since Lua tables
 * do not remember lines, a field's line is found by searching the text for
 * its quoted name (as the pipeline compiler does).
 */
#include "learn/featspec.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "pipeline/sandbox.h"
#include "util/strbuf.h"

#define SPEC_KEY "adfunnel.featspec"
#define SANDBOX_MEMORY (32u << 20)
#define SANDBOX_INSTRUCTIONS 10000000LL
#define MAX_HASH_BUCKETS (1u << 26)
#define MAX_LEN_LIMIT 64

static const char *const serving_names[AF_SRC_N] = {
    [AF_SRC_NONE] = NULL,
    [AF_SRC_USER_ID] = "user.id",
    [AF_SRC_USER_GEO] = "user.geo",
    [AF_SRC_USER_AGE_BAND] = "user.age_band",
    [AF_SRC_USER_DEVICE] = "user.device",
    [AF_SRC_USER_GENDER] = "user.gender",
    [AF_SRC_USER_INTERESTS] = "user.interests",
    [AF_SRC_CTX_HOUR] = "context.hour",
    [AF_SRC_CTX_DAY_OF_WEEK] = "context.day_of_week",
    [AF_SRC_CTX_POSITION] = "context.position",
    [AF_SRC_AD_ID] = "ad.id",
    [AF_SRC_AD_ADVERTISER] = "ad.advertiser",
    [AF_SRC_AD_CAMPAIGN] = "ad.campaign",
    [AF_SRC_AD_CATEGORY] = "ad.category",
    [AF_SRC_AD_BID] = "ad.bid",
    [AF_SRC_AD_QUALITY] = "ad.quality",
    [AF_SRC_AD_PRIOR_CTR] = "ad.prior_ctr",
};

const char *
af_serving_src_name(int src)
{
    return src > AF_SRC_NONE && src < AF_SRC_N ? serving_names[src] : NULL;
}

int
af_serving_src_parse(const char *name)
{
    for (int i = 1; i < AF_SRC_N; i++)
        if (strcmp(name, serving_names[i]) == 0)
            return i;
    return AF_SRC_NONE;
}

/* --- ## Declaration (runs inside Lua) --- */

static int
spec_body(lua_State *L)
{
    if (!lua_istable(L, 1))
        return luaL_error(L, "features \"%s\" expects a table: features "
                          "\"%s\" { ... }", lua_tostring(L, lua_upvalueindex(1)),
                          lua_tostring(L, lua_upvalueindex(1)));
    lua_getfield(L, LUA_REGISTRYINDEX, SPEC_KEY);
    if (!lua_isnil(L, -1))
        return luaL_error(L, "a spec file declares one `features` table");
    lua_pop(L, 1);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setfield(L, -2, "name");
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "spec");
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_setfield(L, -2, "line");
    lua_setfield(L, LUA_REGISTRYINDEX, SPEC_KEY);
    return 0;
}

static int
spec_decl(lua_State *L)
{
    size_t len = 0;
    lua_tolstring(L, 1, &len);
    if (lua_type(L, 1) != LUA_TSTRING || len == 0 || len >= AF_SPEC_NAME_MAX)
        return luaL_error(L, "features: the name must be a non-empty string "
                          "of at most %d bytes", AF_SPEC_NAME_MAX - 1);
    lua_Debug ar;
    int line = 0;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar))
        line = ar.currentline;
    lua_pushvalue(L, 1);
    lua_pushinteger(L, line);
    lua_pushcclosure(L, spec_body, 2);
    return 1;
}

/* --- ## Checking in C --- */

struct loader {
    lua_State *L;
    const char *file;
    const char *src;
    int decl_line;
    struct af_featspec *s;
    char *err;
    size_t errlen;
};

static int
fail(struct loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct loader *ld, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ld->err, ld->errlen, "%s:%d: %s", ld->file, line, msg);
    return -1;
}

/* Line of the first occurrence of needle after the declaration. */
static int
line_of(const struct loader *ld, const char *needle)
{
    int line = 1;
    const char *p = ld->src;
    if (p == NULL)
        return ld->decl_line;
    while (*p && line < ld->decl_line) {
        line += *p == '\n';
        p++;
    }
    const char *hit = strstr(p, needle);
    if (hit == NULL)
        return ld->decl_line;
    for (; p < hit; p++)
        line += *p == '\n';
    return line;
}

static int
line_of_name(const struct loader *ld, const char *name)
{
    char q[128];
    snprintf(q, sizeof q, "\"%s\"", name);
    int a = line_of(ld, q);
    if (a != ld->decl_line)
        return a;
    snprintf(q, sizeof q, "'%s'", name);
    return line_of(ld, q);
}

static int
line_of_key(const struct loader *ld, const char *key)
{
    char q[128];
    snprintf(q, sizeof q, "%s =", key);
    int a = line_of(ld, q);
    if (a != ld->decl_line)
        return a;
    snprintf(q, sizeof q, "%s=", key);
    return line_of(ld, q);
}

/* Reject keys of the table at the top that are not in `known`. */
static int
check_keys(struct loader *ld, const char *what, const char *const *known,
           int line)
{
    lua_State *L = ld->L;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            int ok = 0;
            for (const char *const *q = known; *q; q++)
                ok |= strcmp(k, *q) == 0;
            if (!ok) {
                char key[64], list[400];
                size_t n = 0;
                snprintf(key, sizeof key, "%s", k);
                list[0] = '\0';
                for (const char *const *q = known; *q; q++)
                    n += snprintf(list + n, n < sizeof list ? sizeof list - n : 0,
                                  "%s%s", n ? ", " : "", *q);
                lua_pop(L, 2);
                int kl = line_of_key(ld, key);
                return fail(ld, kl != ld->decl_line ? kl : line,
                            "%s: unknown key \"%s\" (known: %s)", what, key,
                            list);
            }
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Source index of `name`, added when new. */
static int
add_source(struct loader *ld, const char *name, int line, uint32_t *out)
{
    struct af_featspec *s = ld->s;
    for (uint32_t i = 0; i < s->n_sources; i++)
        if (strcmp(s->source[i].name, name) == 0) {
            *out = i;
            return 0;
        }
    if (strlen(name) >= AF_SPEC_NAME_MAX || !*name)
        return fail(ld, line, "source name \"%s\" must have 1..%d bytes", name,
                    AF_SPEC_NAME_MAX - 1);
    if (s->n_sources == sizeof s->source / sizeof s->source[0])
        return fail(ld, line, "too many distinct sources");
    struct af_source *src = &s->source[s->n_sources];
    snprintf(src->name, sizeof src->name, "%s", name);
    src->serving = af_serving_src_parse(name);
    if (src->serving == AF_SRC_NONE &&
        (strncmp(name, "user.", 5) == 0 || strncmp(name, "context.", 8) == 0 ||
         strncmp(name, "ad.", 3) == 0)) {
        char list[512];
        size_t n = 0;
        for (int i = 1; i < AF_SRC_N; i++)
            n += snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "",
                          serving_names[i]);
        return fail(ld, line, "unknown serving source \"%s\" (known: %s)",
                    name, list);
    }
    *out = s->n_sources++;
    return 0;
}

/* Optional string field of the table at the top into buf. */
static int
opt_string(struct loader *ld, const char *key, char *buf, size_t n, int line)
{
    lua_State *L = ld->L;
    lua_getfield(L, -1, key);
    int t = lua_type(L, -1);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (t != LUA_TSTRING) {
        lua_pop(L, 1);
        return fail(ld, line_of_key(ld, key) != ld->decl_line
                            ? line_of_key(ld, key) : line,
                    "%s must be a string", key);
    }
    size_t len;
    const char *v = lua_tolstring(L, -1, &len);
    if (len >= n) {
        lua_pop(L, 1);
        return fail(ld, line, "%s is longer than %zu bytes", key, n - 1);
    }
    memcpy(buf, v, len + 1);
    lua_pop(L, 1);
    return 1;
}

/* Optional non-negative integer field (0 when absent). */
static int
opt_uint(struct loader *ld, const char *key, uint64_t max, uint64_t *out,
         int line)
{
    lua_State *L = ld->L;
    lua_getfield(L, -1, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    int isint = lua_isinteger(L, -1);
    lua_Integer v = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (!isint || v < 0 || (uint64_t)v > max) {
        int kl = line_of_key(ld, key);
        return fail(ld, kl != ld->decl_line ? kl : line,
                    "%s must be an integer in 0..%llu", key,
                    (unsigned long long)max);
    }
    *out = (uint64_t)v;
    return 1;
}

/* --- ### data = { ... } --- */

static const char *const data_keys[] = {"format", "file", "featindex", "sep",
                                        "header", "columns", NULL};
static const char *const formats[] = {"tsv", "csv", "libsvm", "libffm",
                                      "movielens", "ipinyou", NULL};

static int
load_columns(struct loader *ld, struct af_data_cfg *d, int line)
{
    lua_State *L = ld->L;
    lua_getfield(L, -1, "columns");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return fail(ld, line, "data.columns must be a list of names");
    }
    size_t n = lua_rawlen(L, -1);
    if (n == 0 || n > 4096) {
        lua_pop(L, 1);
        return fail(ld, line, "data.columns must list 1..4096 names");
    }
    d->columns = calloc(n, sizeof *d->columns);
    if (d->columns == NULL) {
        lua_pop(L, 1);
        return fail(ld, line, "out of memory");
    }
    d->n_columns = (uint32_t)n;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        const char *c = lua_tostring(L, -1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 2);
            return fail(ld, line, "data.columns[%zu] is not a string", i);
        }
        d->columns[i - 1] = strdup(c);
        lua_pop(L, 1);
        if (d->columns[i - 1] == NULL) {
            lua_pop(L, 1);
            return fail(ld, line, "out of memory");
        }
    }
    lua_pop(L, 1);
    return 0;
}

static int
load_data(struct loader *ld)
{
    lua_State *L = ld->L;
    struct af_data_cfg *d = &ld->s->data;
    lua_getfield(L, -1, "data");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0; /* serving-only spec */
    }
    int line = line_of_key(ld, "data");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return fail(ld, line, "data must be a table");
    }
    int rc = check_keys(ld, "data", data_keys, line);
    if (rc == 0 && opt_string(ld, "format", d->format, sizeof d->format,
                              line) <= 0)
        rc = rc ? rc : fail(ld, line, "data.format is required (one of tsv, "
                            "csv, libsvm, libffm, movielens, ipinyou)");
    int known = 0;
    for (const char *const *f = formats; rc == 0 && *f; f++)
        known |= strcmp(d->format, *f) == 0;
    if (rc == 0 && !known)
        rc = fail(ld, line_of_name(ld, d->format), "data.format \"%s\" is not "
                  "one of tsv, csv, libsvm, libffm, movielens, ipinyou",
                  d->format);
    if (rc == 0 && opt_string(ld, "file", d->file, sizeof d->file, line) <= 0)
        rc = rc ? rc : fail(ld, line, "data.file is required");
    if (rc == 0 && opt_string(ld, "featindex", d->aux, sizeof d->aux, line) < 0)
        rc = -1;
    if (rc == 0 && strcmp(d->format, "ipinyou") == 0 && !d->aux[0])
        rc = fail(ld, line, "data.featindex is required for format ipinyou");
    char sep[8] = "";
    if (rc == 0 && opt_string(ld, "sep", sep, sizeof sep, line) < 0)
        rc = -1;
    if (rc == 0) {
        d->sep = strcmp(d->format, "csv") == 0 ? ',' : '\t';
        if (sep[0]) {
            if (sep[1])
                rc = fail(ld, line, "data.sep must be one character");
            d->sep = sep[0];
        }
        lua_getfield(L, -1, "header");
        d->header = lua_isnil(L, -1) ? strcmp(d->format, "csv") == 0
                                     : lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    if (rc == 0)
        rc = load_columns(ld, d, line);
    if (rc == 0 && (strcmp(d->format, "tsv") == 0 ||
                    strcmp(d->format, "csv") == 0) &&
        !d->header && d->columns == NULL)
        rc = fail(ld, line, "data.columns is required without a header line");
    lua_pop(L, 1);
    return rc;
}

/* --- ### transforms --- */

struct step_def {
    const char *name;
    int op;
    int n_args; /* -1: a list of boundaries */
};

static const struct step_def step_defs[] = {
    {"criteo_int", AF_STEP_CRITEO_INT, 0}, {"int", AF_STEP_INT, 0},
    {"mod", AF_STEP_MOD, 1},               {"div", AF_STEP_DIV, 1},
    {"substr", AF_STEP_SUBSTR, 2},         {"suffix", AF_STEP_SUFFIX, 1},
    {"log_bucket", AF_STEP_LOG_BUCKET, 1}, {"buckets", AF_STEP_BUCKETS, -1},
    {"log1p", AF_STEP_LOG1P, 0},           {"scale", AF_STEP_SCALE, 1},
    {NULL, 0, 0}};

/* One step: a name, or { name, args... } at the stack top. */
static int
load_step(struct loader *ld, struct af_field *f, int line)
{
    lua_State *L = ld->L;
    int is_table = lua_istable(L, -1);
    if (is_table)
        lua_rawgeti(L, -1, 1);
    else
        lua_pushvalue(L, -1);
    char name[32];
    const char *nm = lua_tostring(L, -1);
    snprintf(name, sizeof name, "%s", nm && lua_type(L, -1) == LUA_TSTRING ? nm : "");
    lua_pop(L, 1);
    const struct step_def *def = step_defs;
    while (def->name && strcmp(def->name, name) != 0)
        def++;
    if (def->name == NULL)
        return fail(ld, line, "field \"%s\": unknown transform \"%s\" (known: "
                    "criteo_int, int, mod, div, substr, suffix, log_bucket, "
                    "buckets, log1p, scale)", f->name, name);
    if (f->n_steps == AF_SPEC_MAX_STEPS)
        return fail(ld, line, "field \"%s\": more than %d transform steps",
                    f->name, AF_SPEC_MAX_STEPS);
    struct af_step *st = &f->step[f->n_steps++];
    memset(st, 0, sizeof *st);
    st->op = def->op;
    size_t n_args = is_table ? lua_rawlen(L, -1) - 1 : 0;
    if (def->n_args >= 0 && n_args != (size_t)def->n_args)
        return fail(ld, line, "field \"%s\": transform \"%s\" takes %d "
                    "argument(s): { \"%s\"%s }", f->name, name, def->n_args,
                    name, def->n_args == 0 ? "" : def->n_args == 1 ? ", a"
                                                                    : ", a, b");
    if (def->n_args < 0 && (n_args == 0 || n_args > 1024))
        return fail(ld, line, "field \"%s\": buckets takes 1..1024 ascending "
                    "boundaries", f->name);
    double args[2] = {0, 0};
    if (def->n_args < 0) {
        st->bounds = malloc(n_args * sizeof *st->bounds);
        if (st->bounds == NULL)
            return fail(ld, line, "out of memory");
        st->n_bounds = (uint32_t)n_args;
    }
    for (size_t i = 0; i < n_args; i++) {
        lua_rawgeti(L, -1, (lua_Integer)(i + 2));
        int isnum = lua_type(L, -1) == LUA_TNUMBER;
        double v = lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (!isnum || !isfinite(v))
            return fail(ld, line, "field \"%s\": transform \"%s\": argument "
                        "%zu is not a number", f->name, name, i + 1);
        if (def->n_args < 0) {
            if (i > 0 && v <= st->bounds[i - 1])
                return fail(ld, line, "field \"%s\": buckets boundaries must "
                            "ascend", f->name);
            st->bounds[i] = v;
        } else {
            args[i] = v;
        }
    }
    st->a = args[0];
    st->b = args[1];
    int bad = 0;
    switch (st->op) {
    case AF_STEP_MOD:
    case AF_STEP_DIV: bad = !(st->a >= 1 && st->a == floor(st->a)); break;
    case AF_STEP_SUBSTR:
        bad = !(st->a >= 1 && st->b >= 1 && st->a == floor(st->a) &&
                st->b == floor(st->b));
        break;
    case AF_STEP_SUFFIX: bad = !(st->a >= 1 && st->a == floor(st->a)); break;
    case AF_STEP_LOG_BUCKET: bad = !(st->a > 1); break;
    default: break;
    }
    if (bad)
        return fail(ld, line, "field \"%s\": transform \"%s\" has an invalid "
                    "argument (mod/div/suffix: integer >= 1; substr: start, "
                    "length >= 1; log_bucket: base > 1)", f->name, name);
    return 0;
}

static int
load_transform(struct loader *ld, struct af_field *f, int line)
{
    lua_State *L = ld->L;
    lua_getfield(L, -1, "transform");
    int rc = 0;
    if (lua_isstring(L, -1)) {
        rc = load_step(ld, f, line);
    } else if (lua_istable(L, -1)) {
        /* { "mod", 100 } and { "int" } are one step; { "int", {"mod", 100} }
         * is a list: a step's second element is a number (or absent). */
        lua_rawgeti(L, -1, 1);
        int named = lua_type(L, -1) == LUA_TSTRING;
        lua_pop(L, 1);
        lua_rawgeti(L, -1, 2);
        int t2 = lua_type(L, -1);
        lua_pop(L, 1);
        if (named && (t2 == LUA_TNUMBER || t2 == LUA_TNIL)) {
            rc = load_step(ld, f, line);
        } else {
            size_t n = lua_rawlen(L, -1);
            for (size_t i = 1; rc == 0 && i <= n; i++) {
                lua_rawgeti(L, -1, (lua_Integer)i);
                rc = load_step(ld, f, line);
                lua_pop(L, 1);
            }
        }
    } else if (!lua_isnil(L, -1)) {
        rc = fail(ld, line, "field \"%s\": transform must be a name, a "
                  "{ name, args } table or a list of them", f->name);
    }
    lua_pop(L, 1);
    return rc;
}

/* --- ### fields --- */

static const char *const field_keys[] = {
    "source", "cross", "type", "transform", "hash", "min_count", "sep",
    "max_len", "values", NULL};

static int
field_sources(struct loader *ld, struct af_field *f, int line)
{
    lua_State *L = ld->L;
    lua_getfield(L, -1, "cross");
    if (!lua_isnil(L, -1)) {
        int ok = lua_istable(L, -1) && lua_rawlen(L, -1) == 2;
        for (int i = 1; ok && i <= 2; i++) {
            lua_rawgeti(L, -1, i);
            char nm[AF_SPEC_NAME_MAX + 8];
            ok = lua_type(L, -1) == LUA_TSTRING;
            snprintf(nm, sizeof nm, "%s", ok ? lua_tostring(L, -1) : "");
            lua_pop(L, 1);
            if (ok && add_source(ld, nm, line, &f->src[i - 1]) != 0) {
                lua_pop(L, 1);
                return -1;
            }
        }
        lua_pop(L, 1);
        if (!ok)
            return fail(ld, line, "field \"%s\": cross must list two source "
                        "names", f->name);
        f->n_src = 2;
        lua_getfield(L, -1, "source");
        int both = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (both)
            return fail(ld, line, "field \"%s\": give source or cross, not "
                        "both", f->name);
        return 0;
    }
    lua_pop(L, 1);
    char src[AF_SPEC_NAME_MAX + 8];
    snprintf(src, sizeof src, "%s", f->name);
    if (opt_string(ld, "source", src, sizeof src, line) < 0)
        return -1;
    f->n_src = 1;
    return add_source(ld, src, line, &f->src[0]);
}

static int
field_type(struct loader *ld, struct af_field *f, int line)
{
    char type[24] = "categorical";
    if (opt_string(ld, "type", type, sizeof type, line) < 0)
        return -1;
    if (strcmp(type, "categorical") == 0)
        f->type = AF_FIELD_CATEGORICAL;
    else if (strcmp(type, "multi") == 0)
        f->type = AF_FIELD_MULTI;
    else if (strcmp(type, "dense") == 0)
        f->type = AF_FIELD_DENSE;
    else
        return fail(ld, line, "field \"%s\": type \"%s\" is not categorical, "
                    "multi or dense", f->name, type);
    return 0;
}

static int
field_options(struct loader *ld, struct af_field *f, int line)
{
    uint64_t v = 0;
    int r = opt_uint(ld, "hash", MAX_HASH_BUCKETS, &v, line);
    if (r < 0)
        return -1;
    if (r > 0 && v == 0)
        return fail(ld, line, "field \"%s\": hash needs at least 1 bucket",
                    f->name);
    f->hash_buckets = (uint32_t)v;
    v = ld->s->min_count;
    if (opt_uint(ld, "min_count", 1u << 30, &v, line) < 0)
        return -1;
    f->min_count = v ? (uint32_t)v : 1;
    v = 0;
    if (opt_uint(ld, "max_len", MAX_LEN_LIMIT, &v, line) < 0)
        return -1;
    f->max_len = (uint32_t)v;
    char sep[8] = ",";
    if (opt_string(ld, "sep", sep, sizeof sep, line) < 0)
        return -1;
    if (strlen(sep) != 1)
        return fail(ld, line, "field \"%s\": sep must be one character",
                    f->name);
    f->sep = sep[0];
    lua_getfield(ld->L, -1, "values");
    f->with_values = lua_toboolean(ld->L, -1);
    lua_pop(ld->L, 1);
    if (f->type != AF_FIELD_MULTI && (f->max_len || f->with_values))
        return fail(ld, line, "field \"%s\": max_len and values apply to "
                    "type = \"multi\" only", f->name);
    if (f->type == AF_FIELD_DENSE && (f->hash_buckets || f->n_src != 1))
        return fail(ld, line, "field \"%s\": a dense field has one source "
                    "and no hash", f->name);
    return 0;
}

/* Side of a field: request when every source is user.* or context.*. */
static void
field_side(struct af_featspec *s, struct af_field *f)
{
    int req = 1;
    for (uint32_t i = 0; i < f->n_src; i++) {
        int sv = s->source[f->src[i]].serving;
        req &= sv >= AF_SRC_USER_ID && sv <= AF_SRC_CTX_POSITION;
    }
    f->request_side = req;
}

static int
load_field(struct loader *ld, uint32_t index)
{
    lua_State *L = ld->L;
    struct af_field *f = &ld->s->field[index];
    memset(f, 0, sizeof *f);
    int line = ld->decl_line;
    if (!lua_istable(L, -1))
        return fail(ld, line_of_key(ld, "fields"), "fields[%u] must be a "
                    "table { \"name\", ... }", index + 1);
    lua_rawgeti(L, -1, 1);
    size_t len = 0;
    const char *nm = lua_tolstring(L, -1, &len);
    int ok = lua_type(L, -1) == LUA_TSTRING && len > 0 && len < AF_SPEC_NAME_MAX;
    if (ok)
        memcpy(f->name, nm, len + 1);
    lua_pop(L, 1);
    if (!ok)
        return fail(ld, line_of_key(ld, "fields"), "fields[%u]: the first "
                    "element must be the field name (1..%d bytes)", index + 1,
                    AF_SPEC_NAME_MAX - 1);
    line = f->line = line_of_name(ld, f->name);
    for (uint32_t j = 0; j < index; j++)
        if (strcmp(ld->s->field[j].name, f->name) == 0)
            return fail(ld, line, "field \"%s\" declared twice", f->name);
    char what[96];
    snprintf(what, sizeof what, "field \"%s\"", f->name);
    if (check_keys(ld, what, field_keys, line) != 0 ||
        field_sources(ld, f, line) != 0 || field_type(ld, f, line) != 0 ||
        field_options(ld, f, line) != 0 || load_transform(ld, f, line) != 0)
        return -1;
    if (f->n_src == 2 && f->n_steps > 0)
        return fail(ld, line, "field \"%s\": a cross joins its sources as "
                    "they are; transform the sources in fields of their own",
                    f->name);
    field_side(ld->s, f);
    return 0;
}

static int
load_fields(struct loader *ld)
{
    lua_State *L = ld->L;
    struct af_featspec *s = ld->s;
    lua_getfield(L, -1, "fields");
    int line = line_of_key(ld, "fields");
    size_t n = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
    if (n == 0 || n > AF_SPEC_MAX_FIELDS) {
        lua_pop(L, 1);
        return fail(ld, line, "fields must list 1..%d fields",
                    AF_SPEC_MAX_FIELDS);
    }
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        int rc = load_field(ld, (uint32_t)(i - 1));
        lua_pop(L, 1);
        if (rc != 0) {
            s->n_fields = (uint32_t)i; /* free the steps of loaded fields */
            lua_pop(L, 1);
            return -1;
        }
    }
    s->n_fields = (uint32_t)n;
    lua_pop(L, 1);
    int seen_cand = 0;
    for (uint32_t i = 0; i < s->n_fields; i++) {
        const struct af_field *f = &s->field[i];
        if (f->type == AF_FIELD_DENSE) {
            s->dense_field[s->n_dense++] = i;
            continue;
        }
        if (f->request_side && seen_cand)
            return fail(ld, f->line, "field \"%s\" is request-side (user.*, "
                        "context.*) but follows a candidate-side field: list "
                        "request-side fields first", f->name);
        seen_cand |= !f->request_side;
        s->n_req_fields += f->request_side;
        s->cat_field[s->n_cat++] = i;
    }
    if (s->n_cat == 0)
        return fail(ld, line, "fields: at least one categorical or multi "
                    "field is needed");
    return 0;
}

/* --- ### label, order, split --- */

static int
load_label(struct loader *ld)
{
    lua_State *L = ld->L;
    struct af_featspec *s = ld->s;
    s->label_src = UINT32_MAX;
    s->label_ge = NAN;
    lua_getfield(L, -1, "label");
    int line = line_of_key(ld, "label");
    int rc = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
        rc = add_source(ld, lua_tostring(L, -1), line, &s->label_src);
    } else if (lua_istable(L, -1)) {
        lua_rawgeti(L, -1, 1);
        char nm[AF_SPEC_NAME_MAX + 8];
        int ok = lua_type(L, -1) == LUA_TSTRING;
        snprintf(nm, sizeof nm, "%s", ok ? lua_tostring(L, -1) : "");
        lua_pop(L, 1);
        lua_getfield(L, -1, "ge");
        if (lua_type(L, -1) == LUA_TNUMBER)
            s->label_ge = lua_tonumber(L, -1);
        else if (!lua_isnil(L, -1))
            ok = 0;
        lua_pop(L, 1);
        rc = ok ? add_source(ld, nm, line, &s->label_src)
                : fail(ld, line, "label must be a column name or "
                       "{ \"column\", ge = threshold }");
    } else if (!lua_isnil(L, -1)) {
        rc = fail(ld, line, "label must be a column name or { \"column\", "
                  "ge = threshold }");
    }
    lua_pop(L, 1);
    return rc;
}

static int
load_order(struct loader *ld)
{
    lua_State *L = ld->L;
    struct af_featspec *s = ld->s;
    s->order_src = UINT32_MAX;
    s->time_src = UINT32_MAX;
    int line = line_of_key(ld, "order");
    char nm[AF_SPEC_NAME_MAX + 8] = "";
    int r = opt_string(ld, "time", nm, sizeof nm, line_of_key(ld, "time"));
    if (r < 0 || (r > 0 && add_source(ld, nm, line_of_key(ld, "time"),
                                      &s->time_src) != 0))
        return -1;
    lua_getfield(L, -1, "order");
    int rc = 0;
    if (lua_istable(L, -1)) {
        lua_rawgeti(L, -1, 1);
        int ok = lua_type(L, -1) == LUA_TSTRING;
        snprintf(nm, sizeof nm, "%s", ok ? lua_tostring(L, -1) : "");
        lua_pop(L, 1);
        lua_getfield(L, -1, "numeric");
        s->order_numeric = lua_toboolean(L, -1);
        lua_pop(L, 1);
        rc = ok ? add_source(ld, nm, line, &s->order_src)
                : fail(ld, line, "order must be { \"column\", numeric = "
                       "true|false }");
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        rc = add_source(ld, lua_tostring(L, -1), line, &s->order_src);
    } else if (!lua_isnil(L, -1)) {
        rc = fail(ld, line, "order must be a column name or { \"column\", "
                  "numeric = true }");
    }
    lua_pop(L, 1);
    return rc;
}

static int
split_ratio(struct loader *ld, const char *text, int line)
{
    unsigned a, b, c;
    char tail;
    if (sscanf(text, "%u/%u/%u%c", &a, &b, &c, &tail) != 3 || a + b + c != 10 ||
        a == 0)
        return fail(ld, line, "split \"%s\" must be train/valid/test in "
                    "tenths adding up to 10, e.g. \"80/10/10\" or \"8/1/1\"",
                    text);
    ld->s->split.kind = AF_SPLIT_RATIO;
    ld->s->split.tenths[0] = a;
    ld->s->split.tenths[1] = b;
    ld->s->split.tenths[2] = c;
    return 0;
}

static int
load_split(struct loader *ld)
{
    lua_State *L = ld->L;
    struct af_split_cfg *sp = &ld->s->split;
    int line = line_of_key(ld, "split");
    lua_getfield(L, -1, "split");
    int rc = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
        char text[32];
        snprintf(text, sizeof text, "%s", lua_tostring(L, -1));
        /* "80/10/10" is read in percent, "8/1/1" in tenths. */
        unsigned a, b, c;
        if (sscanf(text, "%u/%u/%u", &a, &b, &c) == 3 && a + b + c == 100 &&
            a % 10 == 0 && b % 10 == 0 && c % 10 == 0)
            snprintf(text, sizeof text, "%u/%u/%u", a / 10, b / 10, c / 10);
        rc = split_ratio(ld, text, line);
    } else if (lua_istable(L, -1)) {
        static const char *const names[3] = {"train", "valid", "test"};
        sp->kind = AF_SPLIT_ROWS;
        for (int i = 0; rc == 0 && i < 3; i++) {
            lua_getfield(L, -1, names[i]);
            int ok = lua_istable(L, -1) && lua_rawlen(L, -1) == 2;
            for (int j = 0; ok && j < 2; j++) {
                lua_rawgeti(L, -1, j + 1);
                lua_Integer v = lua_tointeger(L, -1);
                ok = lua_isinteger(L, -1) && v >= 1;
                sp->rows[i][j] = (uint64_t)v;
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
            if (!ok || sp->rows[i][1] < sp->rows[i][0])
                rc = fail(ld, line, "split.%s must be { first_row, last_row } "
                          "(1-based, inclusive)", names[i]);
        }
    } else if (!lua_isnil(L, -1)) {
        rc = fail(ld, line, "split must be \"80/10/10\" or { train = {a, b}, "
                  "valid = {c, d}, test = {e, f} }");
    }
    lua_pop(L, 1);
    return rc;
}

/* --- ## Canonical text --- */

static void
canon_step(af_buf *b, const struct af_step *st)
{
    static const char *const names[] = {
        [AF_STEP_CRITEO_INT] = "criteo_int", [AF_STEP_INT] = "int",
        [AF_STEP_MOD] = "mod", [AF_STEP_DIV] = "div", [AF_STEP_SUBSTR] = "substr",
        [AF_STEP_SUFFIX] = "suffix", [AF_STEP_LOG_BUCKET] = "log_bucket",
        [AF_STEP_BUCKETS] = "buckets", [AF_STEP_LOG1P] = "log1p",
        [AF_STEP_SCALE] = "scale"};
    af_buf_printf(b, "%s(%.17g,%.17g", names[st->op], st->a, st->b);
    for (uint32_t i = 0; i < st->n_bounds; i++)
        af_buf_printf(b, ",%.17g", st->bounds[i]);
    af_buf_printf(b, ")");
}

/* The fields that decide the inputs, in a fixed text form: two specs with
 * the same canonical text encode every row identically (given the same
 * vocabularies).  Data location and split are not part of it. */
static int
build_canonical(struct af_featspec *s)
{
    af_buf b;
    af_buf_init(&b);
    static const char *const types[] = {"cat", "multi", "dense"};
    af_buf_printf(&b, "spec=%s;", s->name);
    for (uint32_t i = 0; i < s->n_fields; i++) {
        const struct af_field *f = &s->field[i];
        af_buf_printf(&b, "field=%s,%s,src=%s", f->name, types[f->type],
                      s->source[f->src[0]].name);
        if (f->n_src == 2)
            af_buf_printf(&b, "x%s", s->source[f->src[1]].name);
        af_buf_printf(&b, ",hash=%u,min=%u,sep=%d,max=%u,val=%d,t=", f->hash_buckets,
                      f->min_count, f->sep, f->max_len, f->with_values);
        for (uint32_t k = 0; k < f->n_steps; k++)
            canon_step(&b, &f->step[k]);
        af_buf_printf(&b, ";");
    }
    if (b.oom || b.data == NULL) {
        af_buf_free(&b);
        return -1;
    }
    s->canonical = b.data; /* ownership moves to the spec */
    return 0;
}

/* --- ## Entry points --- */

static const char *const spec_keys[] = {"data", "label", "order", "time",
                                        "split", "min_count", "fields", NULL};

static int
convert(struct loader *ld)
{
    lua_State *L = ld->L;
    struct af_featspec *s = ld->s;
    uint64_t mc = 1;
    if (check_keys(ld, "features", spec_keys, ld->decl_line) != 0 ||
        opt_uint(ld, "min_count", 1u << 30, &mc, line_of_key(ld, "min_count")) < 0)
        return -1;
    s->min_count = mc ? (uint32_t)mc : 1;
    if (load_data(ld) != 0 || load_label(ld) != 0 || load_order(ld) != 0 ||
        load_split(ld) != 0 || load_fields(ld) != 0)
        return -1;
    (void)L;
    if (build_canonical(s) != 0)
        return fail(ld, ld->decl_line, "out of memory");
    return 0;
}

static int
collect(struct loader *ld)
{
    lua_State *L = ld->L;
    lua_getfield(L, LUA_REGISTRYINDEX, SPEC_KEY);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return fail(ld, 1, "the file declares no spec: features \"name\" "
                    "{ ... }");
    }
    lua_getfield(L, -1, "name");
    snprintf(ld->s->name, sizeof ld->s->name, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, -1, "line");
    ld->decl_line = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "spec");
    int rc = convert(ld);
    lua_pop(L, 2);
    return rc;
}

struct af_featspec *
af_featspec_load(const char *file, char *err, size_t errlen)
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
    struct af_featspec *s = calloc(1, sizeof *s);
    if (sb == NULL || s == NULL || (s->file = strdup(file)) == NULL) {
        snprintf(err, errlen, "%s: out of memory", file);
        af_sandbox_free(sb);
        af_featspec_free(s);
        return NULL;
    }
    lua_State *L = af_sandbox_state(sb);
    af_sandbox_push_env(sb);
    lua_pushcfunction(L, spec_decl);
    lua_setfield(L, -2, "features");
    lua_pop(L, 1);
    struct loader ld = {.L = L, .file = file, .s = s, .err = err,
                        .errlen = errlen};
    int rc = af_sandbox_run_file(sb, file, err, errlen);
    if (rc == 0) {
        ld.src = af_sandbox_source(sb);
        rc = collect(&ld);
    }
    af_sandbox_free(sb);
    if (rc != 0) {
        af_featspec_free(s);
        return NULL;
    }
    return s;
}

void
af_featspec_free(struct af_featspec *s)
{
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < s->n_fields; i++)
        for (uint32_t k = 0; k < s->field[i].n_steps; k++)
            free(s->field[i].step[k].bounds);
    for (uint32_t i = 0; s->data.columns && i < s->data.n_columns; i++)
        free(s->data.columns[i]);
    free(s->data.columns);
    free(s->canonical);
    free(s->file);
    free(s);
}

uint32_t
af_featspec_source(const struct af_featspec *s, const char *name)
{
    for (uint32_t i = 0; i < s->n_sources; i++)
        if (strcmp(s->source[i].name, name) == 0)
            return i;
    return UINT32_MAX;
}

uint32_t
af_featspec_slots(const struct af_featspec *s, uint32_t k)
{
    const struct af_field *f = &s->field[s->cat_field[k]];
    return f->type == AF_FIELD_MULTI && f->max_len ? f->max_len : 1;
}

int
af_featspec_set_min_count(struct af_featspec *s, uint32_t m)
{
    s->min_count = m ? m : 1;
    for (uint32_t i = 0; i < s->n_fields; i++)
        s->field[i].min_count = s->min_count;
    free(s->canonical);
    s->canonical = NULL;
    return build_canonical(s) == 0 ? 0 : AF_ENOMEM;
}
