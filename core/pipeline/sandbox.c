/*
 * sandbox.c -- the Lua sandbox pipeline files run in.
 *
 * Redis' scripting host and lua.c show the building blocks: a counting
 * lua_Alloc that fails past a budget (Lua turns that into LUA_ERRMEM), a
 * LUA_MASKCOUNT hook that raises an error past an instruction budget, text
 * only loading, and an explicit allow-list of globals instead of
 * luaL_openlibs.
 */
#include "pipeline/sandbox.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOOK_EVERY 1000 /* instructions between two hook calls */
#define MAX_SOURCE (4u << 20)

struct source {
    struct source *next;
    char *path;
    char *text;
    size_t len;
};

struct af_source_set {
    struct source *head;
};

struct af_sandbox {
    lua_State *L;
    size_t mem_used;
    size_t mem_limit;
    long long insn_used;
    long long insn_limit;
    int env_ref;       /* registry ref of the environment table */
    int loaded_ref;    /* registry ref of the require cache      */
    char base_dir[1024];
    char *source;      /* text of the last file run              */
    struct af_source_set *recorded;      /* everything read (owned)   */
    const struct af_source_set *replay;  /* read from here (borrowed) */
};

static void *
sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    af_sandbox *s = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        s->mem_used -= old;
        free(ptr);
        return NULL;
    }
    if (nsize > old && s->mem_limit && s->mem_used + (nsize - old) > s->mem_limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        s->mem_used = s->mem_used - old + nsize;
    return p;
}

static void
sb_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    void *ud;
    lua_getallocf(L, &ud);
    af_sandbox *s = ud;
    s->insn_used += HOOK_EVERY;
    if (s->insn_limit && s->insn_used > s->insn_limit)
        luaL_error(L, "instruction limit exceeded (%I instructions)",
                   (lua_Integer)s->insn_limit);
}

static char *
read_disk(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open file", path);
        return NULL;
    }
    char *buf = malloc(MAX_SOURCE + 1);
    size_t n = buf ? fread(buf, 1, MAX_SOURCE + 1, f) : 0;
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (n > MAX_SOURCE) {
        free(buf);
        snprintf(err, errlen, "%s: file larger than %u bytes", path, MAX_SOURCE);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void
record(af_sandbox *s, const char *path, const char *text, size_t len)
{
    if (!s->recorded)
        s->recorded = calloc(1, sizeof *s->recorded);
    struct source *src = calloc(1, sizeof *src);
    if (!s->recorded || !src || !(src->path = strdup(path)) ||
        !(src->text = malloc(len + 1))) {
        if (src)
            free(src->path);
        free(src);
        return; /* replay of this file will then fail with "cannot open" */
    }
    memcpy(src->text, text, len + 1);
    src->len = len;
    src->next = s->recorded->head;
    s->recorded->head = src;
}

/* A file's text: from the replay set when there is one, else from the disk
 * (and recorded).  malloc'd, NUL-terminated. */
static char *
read_file(af_sandbox *s, const char *path, size_t *len, char *err,
          size_t errlen)
{
    if (s->replay) {
        for (const struct source *src = s->replay->head; src; src = src->next)
            if (strcmp(src->path, path) == 0) {
                char *t = malloc(src->len + 1);
                if (t) {
                    memcpy(t, src->text, src->len + 1);
                    *len = src->len;
                }
                return t;
            }
        snprintf(err, errlen, "%s: cannot open file (not among the sources "
                 "read when the pipeline was loaded)", path);
        return NULL;
    }
    char *t = read_disk(path, len, err, errlen);
    if (t)
        record(s, path, t, *len);
    return t;
}

struct af_source_set *
af_sandbox_take_sources(af_sandbox *s)
{
    struct af_source_set *set = s->recorded;
    s->recorded = NULL;
    return set ? set : calloc(1, sizeof *set);
}

void
af_sandbox_replay(af_sandbox *s, const struct af_source_set *set)
{
    s->replay = set;
}

void
af_source_set_free(struct af_source_set *set)
{
    if (!set)
        return;
    struct source *src = set->head;
    while (src) {
        struct source *next = src->next;
        free(src->path);
        free(src->text);
        free(src);
        src = next;
    }
    free(set);
}

void
af_sandbox_reset_budget(af_sandbox *s)
{
    s->insn_used = 0;
}

/* Load text as a chunk named "@path" with the sandbox _ENV; leaves the
 * function on the stack, or an error message. */
static int
load_chunk(af_sandbox *s, const char *text, size_t len, const char *path)
{
    lua_State *L = s->L;
    char name[4200];
    if (snprintf(name, sizeof name, "@%s", path) >= (int)sizeof name)
        return lua_pushfstring(L, "%s: path too long", path), LUA_ERRFILE;
    int rc = luaL_loadbufferx(L, text, len, name, "t");
    if (rc != LUA_OK)
        return rc;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->env_ref);
    lua_setupvalue(L, -2, 1); /* the chunk's only upvalue is _ENV */
    return LUA_OK;
}

static int
valid_module(const char *m)
{
    if (!*m || *m == '.')
        return 0;
    for (const char *p = m; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.'))
            return 0;
        if (p[0] == '.' && p[1] == '.')
            return 0;
    }
    return 1;
}

/* require "a.b": <base_dir>/a/b.lua, run once, result cached. */
static int
sb_require(lua_State *L)
{
    af_sandbox *s = lua_touserdata(L, lua_upvalueindex(1));
    const char *mod = luaL_checkstring(L, 1);
    if (!valid_module(mod))
        return luaL_error(L, "require: invalid module name \"%s\" (letters, "
                             "digits, '_' and '.' only)", mod);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->loaded_ref);
    if (lua_getfield(L, -1, mod) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/", s->base_dir);
    for (const char *p = mod; *p && n < (int)sizeof path - 5; p++)
        path[n++] = *p == '.' ? '/' : *p;
    snprintf(path + n, sizeof path - n, ".lua");
    char err[1200];
    size_t len;
    char *text = read_file(s, path, &len, err, sizeof err);
    if (!text)
        return luaL_error(L, "require \"%s\": %s", mod, err);
    int rc = load_chunk(s, text, len, path);
    free(text);
    if (rc != LUA_OK)
        return lua_error(L);
    lua_call(L, 0, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, mod);
    return 1;
}

/* Globals a pipeline may use.  Everything else (io, os, package, debug,
 * load, loadfile, dofile, collectgarbage, print) is absent. */
static const char *const base_allowed[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal",
    "rawget", "rawlen", "rawset", "select", "setmetatable", "getmetatable",
    "tonumber", "tostring", "type", "xpcall", "_VERSION", NULL};

static void
build_env(af_sandbox *s)
{
    lua_State *L = s->L;
    lua_newtable(L); /* env */
    luaL_requiref(L, "_G", luaopen_base, 0);
    for (const char *const *k = base_allowed; *k; k++) {
        lua_getfield(L, -1, *k);
        lua_setfield(L, -3, *k);
    }
    lua_pop(L, 1);
    static const struct { const char *name; lua_CFunction open; } libs[] = {
        {LUA_STRLIBNAME, luaopen_string}, {LUA_TABLIBNAME, luaopen_table},
        {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8}};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        luaL_requiref(L, libs[i].name, libs[i].open, 0);
        lua_setfield(L, -2, libs[i].name);
    }
    lua_pushlightuserdata(L, s);
    lua_pushcclosure(L, sb_require, 1);
    lua_setfield(L, -2, "require");
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
    s->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    s->loaded_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

af_sandbox *
af_sandbox_new(const struct af_sandbox_limits *lim, const char *base_dir)
{
    af_sandbox *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->mem_limit = lim ? lim->memory : 0;
    s->insn_limit = lim ? lim->instructions : 0;
    snprintf(s->base_dir, sizeof s->base_dir, "%s", base_dir ? base_dir : ".");
    s->L = lua_newstate(sb_alloc, s);
    if (!s->L) {
        free(s);
        return NULL;
    }
    luaL_checkversion(s->L);
    lua_sethook(s->L, sb_hook, LUA_MASKCOUNT, HOOK_EVERY);
    build_env(s);
    return s;
}

void
af_sandbox_free(af_sandbox *s)
{
    if (!s)
        return;
    lua_close(s->L);
    free(s->source);
    af_source_set_free(s->recorded);
    free(s);
}

lua_State *
af_sandbox_state(af_sandbox *s)
{
    return s->L;
}

void
af_sandbox_push_env(af_sandbox *s)
{
    lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->env_ref);
}

const char *
af_sandbox_source(const af_sandbox *s)
{
    return s->source;
}

/* Error text from the stack top; "not enough memory" gets the budget. */
static void
take_error(af_sandbox *s, int rc, const char *file, char *err, size_t errlen)
{
    const char *msg = lua_tostring(s->L, -1);
    if (rc == LUA_ERRMEM)
        snprintf(err, errlen, "%s: memory limit exceeded (%zu bytes)", file,
                 s->mem_limit);
    else
        snprintf(err, errlen, "%s", msg ? msg : "error object is not a string");
    lua_pop(s->L, 1);
}

int
af_sandbox_run_file(af_sandbox *s, const char *file, char *err, size_t errlen)
{
    size_t len;
    free(s->source);
    s->source = read_file(s, file, &len, err, errlen);
    if (!s->source)
        return -1;
    int rc = load_chunk(s, s->source, len, file);
    if (rc != LUA_OK) {
        take_error(s, rc, file, err, errlen);
        return -1;
    }
    s->insn_used = 0;
    rc = lua_pcall(s->L, 0, 0, 0);
    if (rc != LUA_OK) {
        take_error(s, rc, file, err, errlen);
        return -1;
    }
    return 0;
}
