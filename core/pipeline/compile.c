/*
 * compile.c -- turn a surface table declared in Lua into the C stage graph.
 *
 * The Lua run only declares; all checking happens here, in C, with the
 * error located at file:line.  Lua tables do not remember line numbers, so
 * a name or key is located by searching the file's text from the line of the
 * surface declaration: the first occurrence is where a reader would look.
 */
#include "pipeline/compile.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "learn/feature_stage.h"
#include "util/fnv.h"
#include "util/log.h"

const char *const af_stage_names[AF_N_STAGES] = {
#define AF__STAGE_NAME(id, key, kind, multi) key,
    AF_STAGE_MAP(AF__STAGE_NAME)
#undef AF__STAGE_NAME
};

static const int stage_kind[AF_N_STAGES] = {
#define AF__STAGE_KIND(id, key, kind, multi) kind,
    AF_STAGE_MAP(AF__STAGE_KIND)
#undef AF__STAGE_KIND
};

static const int stage_multi[AF_N_STAGES] = {
#define AF__STAGE_MULTI(id, key, kind, multi) multi,
    AF_STAGE_MAP(AF__STAGE_MULTI)
#undef AF__STAGE_MULTI
};

#define MAX_RETRIEVE_K 100000
#define DEFAULT_RETRIEVE_K 1000

/* --- ## Locating and reporting errors --- */

/* Line (1-based) of the first occurrence of needle at or after line `from`;
 * `from` itself when absent. */
static int
find_line(const char *src, const char *needle, int from)
{
    if (!src)
        return from;
    int line = 1;
    const char *p = src;
    while (*p && line < from) {
        if (*p == '\n')
            line++;
        p++;
    }
    const char *hit = strstr(p, needle);
    if (!hit)
        return from;
    for (; p < hit; p++)
        if (*p == '\n')
            line++;
    return line;
}

/* Line of a quoted name ("x" or 'x'). */
int
af_compile_line_of_name(const struct compiler *c, const char *name)
{
    char q1[128], q2[128];
    snprintf(q1, sizeof q1, "\"%s\"", name);
    snprintf(q2, sizeof q2, "'%s'", name);
    int a = find_line(c->src, q1, c->surface_line);
    int b = find_line(c->src, q2, c->surface_line);
    if (a == c->surface_line)
        return b;
    if (b == c->surface_line)
        return a;
    return a < b ? a : b;
}

/* Line of a table key ("key =" or "key="). */
int
af_compile_line_of_key(const struct compiler *c, const char *key)
{
    char k1[128], k2[128];
    snprintf(k1, sizeof k1, "%s =", key);
    snprintf(k2, sizeof k2, "%s=", key);
    int a = find_line(c->src, k1, c->surface_line);
    return a != c->surface_line ? a : find_line(c->src, k2, c->surface_line);
}

int
af_compile_fail(struct compiler *c, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%d: %s", c->file, line, msg);
    return -1;
}

/* Edit distance, for "did you mean" on misspelt keys. */
static int
distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 30 || lb > 30)
        return 99;
    int d[32][32];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

static const char *
suggest(const char *word, const char *const *known)
{
    const char *best = NULL;
    int bd = 3;
    for (; *known; known++) {
        int d = distance(word, *known);
        if (d < bd) {
            bd = d;
            best = *known;
        }
    }
    return best;
}

int
af_compile_unknown_key(struct compiler *c, const char *what, const char *key,
                       const char *const *known)
{
    const char *hint = suggest(key, known);
    char list[256];
    size_t n = 0;
    list[0] = '\0';
    for (const char *const *q = known; *q && n < sizeof list; q++)
        n += snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", *q);
    if (hint)
        return af_compile_fail(c, af_compile_line_of_key(c, key),
                               "%s: unknown key \"%s\" (did you mean \"%s\"?)",
                               what, key, hint);
    return af_compile_fail(c, af_compile_line_of_key(c, key),
                           "%s: unknown key \"%s\" (known: %s)", what, key, list);
}

/* --- ## Stage storage --- */

static struct af_stage *
new_stage(struct af_pipeline *p)
{
    if (p->n_owned == p->cap_owned) {
        uint32_t cap = p->cap_owned ? p->cap_owned * 2 : 16;
        struct af_stage *ns = realloc(p->owned, cap * sizeof *ns);
        if (!ns)
            return NULL;
        /* Arms point into `owned`; rebase them after a move. */
        for (uint32_t a = 0; a < p->n_arms; a++)
            for (int s = 0; s < AF_N_STAGES; s++)
                if (p->arm[a].stage[s])
                    p->arm[a].stage[s] = ns + (p->arm[a].stage[s] - p->owned);
        p->owned = ns;
        p->cap_owned = cap;
    }
    struct af_stage *st = &p->owned[p->n_owned++];
    memset(st, 0, sizeof *st);
    return st;
}

/* --- ## Parameters --- */

static int
is_stage_param(int id, const char *key)
{
    if (!strcmp(key, "keep") || !strcmp(key, "deadline_ms") ||
        !strcmp(key, "on_timeout"))
        return 1;
    if (id == AF_STAGE_RETRIEVE && !strcmp(key, "merge"))
        return 1;
    if (id == AF_STAGE_AUCTION && !strcmp(key, "slots"))
        return 1;
    return 0;
}

/* Copy the Lua value at the stack top into cfg under `key` (tables are
 * flattened with dots). */
static int
put_param(struct compiler *c, af_config *cfg, const char *key, int depth)
{
    lua_State *L = c->L;
    int t = lua_type(L, -1);
    if (t == LUA_TNUMBER)
        return af_config_set_num(cfg, key, lua_tonumber(L, -1));
    if (t == LUA_TBOOLEAN)
        return af_config_set_bool(cfg, key, lua_toboolean(L, -1));
    if (t == LUA_TSTRING)
        return af_config_set_str(cfg, key, lua_tostring(L, -1));
    if (t == LUA_TTABLE && depth < 4) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            char sub[256];
            int n = -1;
            if (lua_type(L, -2) == LUA_TSTRING)
                n = snprintf(sub, sizeof sub, "%s.%s", key, lua_tostring(L, -2));
            else if (lua_isinteger(L, -2))
                n = snprintf(sub, sizeof sub, "%s.%lld", key,
                             (long long)lua_tointeger(L, -2));
            if (n >= (int)sizeof sub) {
                lua_pop(L, 2);
                return af_compile_fail(c, af_compile_line_of_key(c, key),
                                       "parameter \"%s\": nested key too long",
                                       key);
            }
            if (n < 0) {
                lua_pop(L, 2);
                return af_compile_fail(c, af_compile_line_of_key(c, key),
                            "parameter \"%s\": table keys must be strings or "
                            "integers", key);
            }
            if (put_param(c, cfg, sub, depth + 1) != 0) {
                lua_pop(L, 2);
                return -1;
            }
            lua_pop(L, 1);
        }
        return 0;
    }
    return af_compile_fail(c, af_compile_line_of_key(c, key),
                "parameter \"%s\" is a %s; parameters are numbers, strings, "
                "booleans or tables of them", key, lua_typename(L, t));
}

/* --- ## Plugins --- */

static const af_loaded *
find_plugin(struct compiler *c, int id, const char *name, int line)
{
    const af_loaded *pl = af_registry_find(c->env->registry, name);
    if (!pl) /* a plugin built into the host (learn/feature_stage.h)? */
        pl = af_builtin_plugin(name, stage_kind[id]);
    if (!pl) {
        char list[512] = "";
        size_t n = 0;
        for (uint32_t i = 0; i < af_registry_count(c->env->registry); i++) {
            const af_loaded *o = af_registry_at(c->env->registry, i);
            if (o->desc->kind == stage_kind[id])
                n += snprintf(list + n, n < sizeof list ? sizeof list - n : 0,
                              "%s%s", n ? ", " : "", o->desc->name);
        }
        af_compile_fail(c, line, "unknown plugin \"%s\" in stage %s (loaded %s plugins: %s)",
             name, af_stage_names[id], af_kind_name(stage_kind[id]),
             list[0] ? list : "none");
        return NULL;
    }
    if (pl->desc->kind != stage_kind[id]) {
        af_compile_fail(c, line, "plugin \"%s\" is a %s, stage %s needs a %s", name,
             af_kind_name(pl->desc->kind), af_stage_names[id],
             af_kind_name(stage_kind[id]));
        return NULL;
    }
    return pl;
}

/* Parameters the environment sets for this surface, arm and stage (admin
 * model deploys) win over the file's. */
static int
apply_overrides(struct compiler *c, const struct af_stage *st, af_config *cfg,
                int line)
{
    const struct af_pipeline_env *env = c->env;
    for (uint32_t i = 0; i < env->n_overrides; i++) {
        const struct af_param_override *o = &env->overrides[i];
        if (strcmp(o->surface, c->p->surface) != 0 ||
            strcmp(o->arm, c->arm ? c->arm : "control") != 0 ||
            strcmp(o->stage, af_stage_names[st->id]) != 0)
            continue;
        if (af_config_set_str(cfg, o->key, o->value) != 0)
            return af_compile_fail(c, line, "out of memory");
    }
    return 0;
}

/* --- ## Reusing instances across generations (hot swap) --- */

/* Mix the identity of the file `path` (if it exists) into h. */
static uint64_t
mix_file(uint64_t h, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return h;
    uint64_t id[5] = {(uint64_t)st.st_dev, (uint64_t)st.st_ino,
                      (uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
                      (uint64_t)st.st_mtim.tv_nsec};
    h = af_fnv1a(h, path, strlen(path));
    return af_fnv1a(h, id, sizeof id);
}

/* Identity of the files a plugin's parameters name: every string value
 * taken as a path as it is, against the data directory (where the host
 * resolves data paths) and against the pipeline file's directory (where
 * built-in stages resolve theirs).  A file replaced or rewritten changes
 * it, so an instance that read it is not reused. */
static uint64_t
param_files(const struct compiler *c, const af_config *cfg)
{
    uint64_t h = AF_FNV_OFFSET;
    const char *slash = strrchr(c->file, '/');
    int dirlen = slash ? (int)(slash - c->file) : 1;
    const char *dir = slash ? c->file : ".";
    for (uint32_t i = 0; i < af_config_count(cfg); i++) {
        const char *v = af_config_str(cfg, af_config_key(cfg, i), NULL);
        if (!v || !*v || strlen(v) > 1024)
            continue;
        char p[2200];
        h = mix_file(h, v);
        if (v[0] == '/')
            continue;
        snprintf(p, sizeof p, "%s/%s", c->env->data_dir ? c->env->data_dir
                                                        : ".", v);
        h = mix_file(h, p);
        snprintf(p, sizeof p, "%.*s/%s", dirlen, dir, v);
        h = mix_file(h, p);
    }
    return h;
}

/* Same keys and values, in any order (Lua's table order is not stable
 * from one Lua state to the next). */
static int
same_params(const af_config *a, const af_config *b)
{
    uint32_t n = af_config_count(a);
    if (n != af_config_count(b))
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *k = af_config_key(a, i);
        const char *va = af_config_str(a, k, NULL);
        const char *vb = af_config_str(b, k, NULL);
        if (!va || !vb || strcmp(va, vb) != 0)
            return 0;
    }
    return 1;
}

/* An instance of the pipeline being replaced that this stage plugin may
 * share (see af_pipeline_env.reuse), or NULL. */
static const struct af_instance *
reusable(const struct compiler *c, const struct af_stage *st,
         const af_loaded *pl, const struct af_stage_plugin *sp,
         const struct af_instance_opts *opts)
{
    const struct af_pipeline *old = c->env->reuse;
    if (!old || (c->env->fresh && !strcmp(c->env->fresh, pl->desc->name)))
        return NULL;
    for (uint32_t s = 0; s < old->n_owned; s++) {
        const struct af_stage *os = &old->owned[s];
        if (os->id != st->id)
            continue;
        for (uint32_t i = 0; i < os->n; i++) {
            const struct af_stage_plugin *op = &os->p[i];
            if (op->files == sp->files && same_params(op->cfg, sp->cfg) &&
                af_instance_matches(&op->in, pl, opts))
                return &op->in;
        }
    }
    return NULL;
}

/* Create the plugin named by the table at the stack top ({ "name", k = v })
 * or string; stage-level keys are skipped when skip_stage_keys. */
static int
add_plugin(struct compiler *c, struct af_stage *st, int skip_stage_keys)
{
    lua_State *L = c->L;
    const char *name;
    int is_table = lua_istable(L, -1);
    if (is_table) {
        lua_rawgeti(L, -1, 1);
        name = lua_tostring(L, -1);
        lua_pop(L, 1);
    } else {
        name = lua_tostring(L, -1);
    }
    if (!name || (!is_table && lua_type(L, -1) != LUA_TSTRING))
        return af_compile_fail(c, af_compile_line_of_key(c, af_stage_names[st->id]),
                    "stage %s: a plugin is named by a string, or by a table "
                    "whose first element is its name", af_stage_names[st->id]);
    char namebuf[64];
    snprintf(namebuf, sizeof namebuf, "%s", name);
    int line = af_compile_line_of_name(c, namebuf);
    const af_loaded *pl = find_plugin(c, st->id, namebuf, line);
    if (!pl)
        return -1;

    struct af_stage_plugin *sp = &st->p[st->n];
    memset(sp, 0, sizeof *sp);
    sp->line = line;
    sp->cfg = af_config_new();
    if (!sp->cfg)
        return af_compile_fail(c, line, "out of memory");
    st->n++; /* counted now so a later failure frees cfg */
    if (is_table) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) == LUA_TNUMBER && lua_tointeger(L, -2) == 1) {
                lua_pop(L, 1);
                continue;
            }
            if (lua_type(L, -2) != LUA_TSTRING) {
                lua_pop(L, 2);
                return af_compile_fail(c, line, "plugin \"%s\": parameters need names "
                                     "(key = value)", namebuf);
            }
            const char *key = lua_tostring(L, -2);
            if (!(skip_stage_keys && is_stage_param(st->id, key)) &&
                put_param(c, sp->cfg, key, 0) != 0) {
                lua_pop(L, 2);
                return -1;
            }
            lua_pop(L, 1);
        }
    }
    if (apply_overrides(c, st, sp->cfg, line) != 0)
        return -1;
    /* Built-in extractors resolve their files against the pipeline's. */
    if (pl->handle == NULL &&
        af_config_set_str(sp->cfg, AF_SPEC_STAGE_PIPELINE_KEY, c->file) != 0)
        return af_compile_fail(c, line, "out of memory");
    if (st->id == AF_STAGE_RETRIEVE) {
        double k = af_config_num(sp->cfg, "k", DEFAULT_RETRIEVE_K);
        if (!(k >= 1 && k <= MAX_RETRIEVE_K) || k != floor(k))
            return af_compile_fail(c, line, "retriever \"%s\": k must be an integer in "
                                 "1..%d, got %g", namebuf, MAX_RETRIEVE_K, k);
        sp->k = (uint32_t)k;
        if (!af_config_has(sp->cfg, "k"))
            af_config_set_num(sp->cfg, "k", k);
    }

    char label[256], err[1024];
    snprintf(label, sizeof label, "%s/%s/%s", c->p->surface,
             af_stage_names[st->id], namebuf);
    struct af_instance_opts opts = {
        .label = label,
        .data_dir = c->env->data_dir,
        .catalog = c->env->catalog,
        .feature_fingerprint = c->p->fingerprint,
        .state = c->env->state,
    };
    sp->files = param_files(c, sp->cfg);
    const struct af_instance *old = reusable(c, st, pl, sp, &opts);
    if (old) {
        af_instance_share(old, pl, &sp->in);
        return 0;
    }
    if (af_instance_create(pl, sp->cfg, &opts, &sp->in, err, sizeof err) != 0)
        return af_compile_fail(c, line, "%s", err);
    return 0;
}

/* --- ## Stages --- */

static int
stage_params(struct compiler *c, struct af_stage *st, int *slots)
{
    lua_State *L = c->L;
    const char *sname = af_stage_names[st->id];
    st->on_timeout = st->id <= AF_STAGE_FEATURES ? AF_TIMEOUT_KEEP
                                                 : AF_TIMEOUT_USE_PREVIOUS;
    if (!lua_istable(L, -1))
        return 0;
    lua_getfield(L, -1, "keep");
    if (!lua_isnil(L, -1)) {
        lua_Integer v;
        int ok = lua_isinteger(L, -1);
        v = lua_tointeger(L, -1);
        if (!ok || v < 0 || v > MAX_RETRIEVE_K * 16) {
            lua_pop(L, 1);
            return af_compile_fail(c, af_compile_line_of_key(c, "keep"),
                        "stage %s: keep must be a non-negative integer", sname);
        }
        st->keep = (uint32_t)v;
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "deadline_ms");
    if (!lua_isnil(L, -1)) {
        double v = lua_tonumber(L, -1);
        if (!lua_isnumber(L, -1) || !(v > 0 && v <= 60000)) {
            lua_pop(L, 1);
            return af_compile_fail(c, af_compile_line_of_key(c, "deadline_ms"),
                        "stage %s: deadline_ms must be a number in (0, 60000]",
                        sname);
        }
        st->deadline_ns = (uint64_t)(v * 1e6);
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "on_timeout");
    if (!lua_isnil(L, -1)) {
        const char *v = lua_tostring(L, -1);
        if (v && (!strcmp(v, "use_previous") || !strcmp(v, "use_prerank")))
            st->on_timeout = AF_TIMEOUT_USE_PREVIOUS;
        else if (v && !strcmp(v, "keep"))
            st->on_timeout = AF_TIMEOUT_KEEP;
        else {
            lua_pop(L, 1);
            return af_compile_fail(c, af_compile_line_of_key(c, "on_timeout"),
                        "stage %s: on_timeout must be \"use_previous\" or "
                        "\"keep\"", sname);
        }
    }
    lua_pop(L, 1);
    if (st->id == AF_STAGE_RETRIEVE) {
        lua_getfield(L, -1, "merge");
        const char *m = lua_tostring(L, -1);
        int bad = !lua_isnil(L, -1) && (!m || strcmp(m, "dedup") != 0);
        lua_pop(L, 1);
        if (bad)
            return af_compile_fail(c, af_compile_line_of_key(c, "merge"),
                        "stage retrieve: merge must be \"dedup\" (duplicates "
                        "are always removed)");
    }
    if (st->id == AF_STAGE_AUCTION) {
        lua_getfield(L, -1, "slots");
        if (!lua_isnil(L, -1)) {
            lua_Integer v = lua_tointeger(L, -1);
            if (!lua_isinteger(L, -1) || v < 1 || v > AF_MAX_SLOTS) {
                lua_pop(L, 1);
                return af_compile_fail(c, af_compile_line_of_key(c, "slots"),
                            "auction: slots must be an integer in 1..%d",
                            AF_MAX_SLOTS);
            }
            *slots = (int)v;
        }
        lua_pop(L, 1);
    }
    /* Unknown string keys of a multi-plugin stage are typos. */
    if (stage_multi[st->id]) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) == LUA_TSTRING &&
                !is_stage_param(st->id, lua_tostring(L, -2))) {
                char key[64];
                snprintf(key, sizeof key, "%s", lua_tostring(L, -2));
                lua_pop(L, 2);
                return af_compile_fail(c, af_compile_line_of_key(c, key),
                            "stage %s: unknown parameter \"%s\" (stage "
                            "parameters: keep, deadline_ms, on_timeout%s; "
                            "plugin parameters go in { \"name\", key = value })",
                            sname, key,
                            st->id == AF_STAGE_RETRIEVE ? ", merge" : "");
            }
            lua_pop(L, 1);
        }
    }
    return 0;
}

static void
make_label(struct af_stage *st)
{
    size_t n = 1;
    for (uint32_t i = 0; i < st->n; i++)
        n += strlen(st->p[i].in.plugin->desc->name) + 1;
    st->label = malloc(n);
    if (!st->label)
        return;
    st->label[0] = '\0';
    for (uint32_t i = 0; i < st->n; i++) {
        if (i)
            strcat(st->label, "+");
        strcat(st->label, st->p[i].in.plugin->desc->name);
    }
}

/* Fingerprint of the feature stage: FNV-1a of the extractors' schemas. */
static uint64_t
feature_fingerprint(const struct af_stage *st)
{
    uint64_t h = AF_FNV_OFFSET;
    for (uint32_t i = 0; i < st->n; i++) {
        const struct af_feature_ops *ops = st->p[i].in.ops;
        const char *schema = NULL;
        if (ops->schema)
            schema = ops->schema(st->p[i].in.inst);
        if (!schema)
            schema = st->p[i].in.plugin->desc->name;
        h = af_fnv1a(h, schema, strlen(schema));
        h = af_fnv1a(h, "|", 1);
    }
    return h;
}

/* Compile the stage value at the stack top. */
struct af_stage *
af_compile_stage(struct compiler *c, int id, int *slots)
{
    lua_State *L = c->L;
    struct af_stage *st = new_stage(c->p);
    if (!st) {
        af_compile_fail(c, c->surface_line, "out of memory");
        return NULL;
    }
    st->id = id;
    st->name = af_stage_names[id];
    int t = lua_type(L, -1);
    if (t != LUA_TSTRING && t != LUA_TTABLE) {
        af_compile_fail(c, af_compile_line_of_key(c, st->name),
             "stage %s must be a plugin name or a table, not a %s", st->name,
             lua_typename(L, t));
        return NULL;
    }
    size_t n_items = (t == LUA_TTABLE && stage_multi[id]) ? lua_rawlen(L, -1) : 1;
    if (n_items == 0) {
        af_compile_fail(c, af_compile_line_of_key(c, st->name), "stage %s lists no plugin", st->name);
        return NULL;
    }
    if (n_items > 32) {
        af_compile_fail(c, af_compile_line_of_key(c, st->name), "stage %s lists more than 32 plugins",
             st->name);
        return NULL;
    }
    st->p = calloc(n_items, sizeof *st->p);
    if (!st->p || stage_params(c, st, slots) != 0)
        return st->p ? NULL : (af_compile_fail(c, c->surface_line, "out of memory"), NULL);

    if (t == LUA_TTABLE && stage_multi[id]) {
        for (size_t i = 1; i <= n_items; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i);
            int rc = add_plugin(c, st, 0);
            lua_pop(L, 1);
            if (rc != 0)
                return NULL;
        }
    } else if (add_plugin(c, st, 1) != 0) {
        return NULL;
    }
    if (id == AF_STAGE_FEATURES)
        c->p->fingerprint = feature_fingerprint(st);
    make_label(st);
    return st;
}
