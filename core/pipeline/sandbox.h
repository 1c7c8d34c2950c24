/*
 * sandbox.h -- a Lua state for running untrusted pipeline files.
 *
 * Only base (without dofile/loadfile/load/require/print/collectgarbage),
 * string, table, math and utf8 are available; `require "a.b"` loads
 * <pipeline dir>/a/b.lua into the same sandbox (no absolute paths, no "..").
 * Memory is capped by the allocator and CPU by an instruction-count hook;
 * chunks are loaded as text only (no bytecode).
 */
#ifndef AF_CORE_SANDBOX_H
#define AF_CORE_SANDBOX_H

#include <lua.h>
#include <stddef.h>

struct af_sandbox_limits {
    size_t memory;          /* bytes, e.g. 32 MiB */
    long long instructions; /* VM instructions, e.g. 10 million */
};

typedef struct af_sandbox af_sandbox;

af_sandbox *af_sandbox_new(const struct af_sandbox_limits *lim,
                           const char *base_dir);
void af_sandbox_free(af_sandbox *s);
lua_State *af_sandbox_state(af_sandbox *s);

/* Push the sandbox environment table (globals visible to scripts). */
void af_sandbox_push_env(af_sandbox *s);

/* Load `file` as text and run it with the sandbox environment.  On failure
 * returns -1 and writes "file:line: message" into err. */
int af_sandbox_run_file(af_sandbox *s, const char *file, char *err,
                        size_t errlen);

/* The file's text as last read by af_sandbox_run_file (for locating names
 * in error messages), or NULL. */
const char *af_sandbox_source(const af_sandbox *s);

/* The texts a sandbox has read (the file and every module it required),
 * so another state -- a worker's, for request-time hooks -- can run exactly
 * the same code without touching the disk, whatever happened to the files
 * since. */
struct af_source_set;

/* Hand over what s has read so far (s forgets it).  NULL when out of memory. */
struct af_source_set *af_sandbox_take_sources(af_sandbox *s);
/* Read files from `set` (borrowed) instead of the disk. */
void af_sandbox_replay(af_sandbox *s, const struct af_source_set *set);
void af_source_set_free(struct af_source_set *set);

/* Reset the instruction budget (request-time hooks get a fresh budget per
 * request). */
void af_sandbox_reset_budget(af_sandbox *s);

#endif
