/* compile.h -- shared by pipeline.c and compile.c (host-internal). */
#ifndef AF_CORE_COMPILE_H
#define AF_CORE_COMPILE_H

#include <lua.h>
#include <stddef.h>
#include "engine/rank_types.h"
#include "pipeline/pipeline.h"
#include "pipeline/sandbox.h"
#include "pipeline/stage.h"

struct compiler {
    af_sandbox *sb;
    lua_State *L;
    const char *file;
    const char *src;     /* file text, to locate names               */
    const struct af_pipeline_env *env;
    struct af_pipeline *p;
    const char *arm;     /* name of the arm being compiled (overrides) */
    int surface_line;
    uint32_t hook_mask;  /* request-time Lua hooks declared            */
    char *err;
    size_t errlen;
};

/* Compile the stage value on the stack top (left there).  NULL on error
 * (c->err set).  *slots is updated when an auction stage sets it. */
struct af_stage *af_compile_stage(struct compiler *c, int id, int *slots);

/* Run a pipeline file in sb and leave its surface table on the stack
 * (request-time hook states re-run the file this way).  0, or -1 with
 * "file:line: message" in err. */
int af_pipeline_declare(af_sandbox *sb, const char *file, char *err,
                        size_t errlen);

/* Error "file:line: message" into c->err; returns -1. */
int af_compile_fail(struct compiler *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Line of a table key / a quoted name, searched from the surface line. */
int af_compile_line_of_key(const struct compiler *c, const char *key);
int af_compile_line_of_name(const struct compiler *c, const char *name);
/* Report an unknown key with a suggestion; returns -1. */
int af_compile_unknown_key(struct compiler *c, const char *what,
                           const char *key, const char *const *known);

#endif
