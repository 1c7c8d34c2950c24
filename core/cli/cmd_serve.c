/*
 * cmd_serve.c -- `adfunnel serve`: parse the options, then run the HTTP
 * server (core/http/server.h) until SIGTERM/SIGINT, with the control plane
 * (core/admin/control.h: SIGHUP, hot swaps) and, when configured, the admin
 * API listener (core/admin/admin_http.h).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin_http.h"
#include "admin/control.h"
#include "admin/plugin_cache.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "engine/generation.h"
#include "http/server.h"
#include "util/log.h"

#define MAX_LIST 64

static const char usage[] =
    "usage: adfunnel serve [options]\n"
    "\n"
    "Serve the pipelines over HTTP: POST /v1/rank, GET /healthz, GET /metrics.\n"
    "\n"
    "  --host ADDR           address to bind (default 127.0.0.1)\n"
    "  --port N              port, 0 for an ephemeral one (default 8080)\n"
    "  --workers N           worker threads (default: one per CPU)\n"
    "  --pipelines PATH      pipeline file, or directory of *.lua files;\n"
    "                        repeatable (default: pipelines)\n"
    "  --plugins DIR         plugin directory; repeatable (default: the\n"
    "                        plugins directory next to the executable)\n"
    "  --data DIR            world data: ads, users, models (default "
    "data/world)\n"
    "  --seed N              base seed of the request RNGs (default 1)\n"
    "  --port-file FILE      write the bound port to FILE once listening\n"
    "  --max-body BYTES      request body limit (default 65536)\n"
    "  --max-connections N   open connections per worker (default 1024)\n"
    "  --drain-timeout SECS  how long SIGTERM waits for requests (default 5)\n"
    "  --max-response BYTES  response body limit (default 1048576)\n"
    "\n"
    "Hot swap and administration (docs/operations.md):\n"
    "  --admin-token-file F  bearer tokens of the admin API ([ID:]TOKEN per\n"
    "                        line, mode 600); enables the admin listener\n"
    "  --admin-port N        admin API port (default 8081; 0: ephemeral)\n"
    "  --admin-host ADDR     admin API address (default 127.0.0.1)\n"
    "  --admin-allow-remote  allow a non-loopback --admin-host\n"
    "  --admin-port-file F   write the admin port to F once listening\n"
    "  --admin-audit-log F   append every admin change to F (JSON lines)\n"
    "  --admin-nice N        CPU priority of the admin thread, which builds\n"
    "                        new generations: 0..19 (default 10)\n"
    "  --keep-versions N     previous versions held for rollback (default 2)\n"
    "  --warmup N            synthetic requests per surface before a new\n"
    "                        generation serves (default 4)\n"
    "  --plugin-cache DIR    where private copies of plugin files go\n"
    "                        (default $TMPDIR or /tmp)\n"
    "  --help                this text\n"
    "\n"
    "SIGHUP reloads the pipelines from disk.\n";

/* A NULL-terminated list of strings; the strings are malloc'd. */
struct list {
    char *item[MAX_LIST + 1];
    size_t n;
};

static int
list_add(struct list *l, const char *s)
{
    if (l->n >= MAX_LIST) {
        fprintf(stderr, "adfunnel serve: too many entries (at most %d)\n",
                MAX_LIST);
        return -1;
    }
    l->item[l->n] = strdup(s);
    if (!l->item[l->n])
        return -1;
    l->n++;
    l->item[l->n] = NULL;
    return 0;
}

static void
list_free(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->item[i]);
    l->n = 0;
    l->item[0] = NULL;
}

static int
is_lua(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 4 &&
           strcmp(d->d_name + n - 4, ".lua") == 0;
}

/* A directory contributes its *.lua files in name order; anything else is
 * taken as a file (the pipeline loader reports a missing one). */
static int
add_pipelines(struct list *out, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return list_add(out, path);
    struct dirent **names;
    int n = scandir(path, &names, is_lua, alphasort);
    if (n < 0) {
        fprintf(stderr, "adfunnel serve: cannot read %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char full[PATH_MAX];
        snprintf(full, sizeof full, "%s/%s", path, names[i]->d_name);
        if (rc == 0)
            rc = list_add(out, full);
        free(names[i]);
    }
    free(names);
    if (rc == 0 && n == 0) {
        fprintf(stderr, "adfunnel serve: no *.lua pipelines in %s\n", path);
        rc = -1;
    }
    return rc;
}

static int
parse_long(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "adfunnel serve: %s expects an integer in %ld..%ld, "
                        "got \"%s\"\n",
                opt, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

struct serve_args {
    struct af_server_opts opts;
    struct af_gen_config gen;
    struct af_admin_opts admin;
    struct af_control_opts control;
    int admin_enabled;
    const char *plugin_cache;
    struct list pipelines, plugins;
    const char *pipeline_args[MAX_LIST + 1];
    size_t n_pipeline_args;
};

/* The hot-swap and admin options: 0 when applied (*x = 0), -1 after
 * printing why (*x = -1), 1 when opt is not one of them. */
static int
apply_admin_option(struct serve_args *a, const char *opt, const char *v,
                   long *x)
{
    long n;
    *x = 0;
    if (strcmp(opt, "--admin-token-file") == 0) {
        a->admin.token_file = v;
        a->admin_enabled = 1;
    } else if (strcmp(opt, "--admin-port") == 0) {
        if (parse_long(opt, v, 0, 65535, &n))
            return *x = -1;
        a->admin.port = (int)n;
        a->admin_enabled = 1;
    } else if (strcmp(opt, "--admin-host") == 0) {
        a->admin.host = v;
    } else if (strcmp(opt, "--admin-port-file") == 0) {
        a->admin.port_file = v;
    } else if (strcmp(opt, "--admin-audit-log") == 0) {
        a->control.audit_file = v;
    } else if (strcmp(opt, "--admin-nice") == 0) {
        if (parse_long(opt, v, 0, 19, &n))
            return *x = -1;
        a->admin.nice = (int)n;
    } else if (strcmp(opt, "--keep-versions") == 0) {
        if (parse_long(opt, v, 0, 16, &n))
            return *x = -1;
        a->control.keep_previous = (unsigned)n;
    } else if (strcmp(opt, "--warmup") == 0) {
        if (parse_long(opt, v, 0, 10000, &n))
            return *x = -1;
        a->control.warmup_requests = (unsigned)n;
    } else if (strcmp(opt, "--plugin-cache") == 0) {
        a->plugin_cache = v;
    } else {
        return 1;
    }
    return 0;
}

/* One option with its value; returns 0, or -1 after printing why. */
static int
apply_option(struct serve_args *a, const char *opt, const char *v)
{
    long x;
    struct af_server_opts *o = &a->opts;
    if (strcmp(opt, "--host") == 0) {
        o->host = v;
    } else if (strcmp(opt, "--port") == 0) {
        if (parse_long(opt, v, 0, 65535, &x))
            return -1;
        o->port = (int)x;
    } else if (strcmp(opt, "--workers") == 0) {
        if (parse_long(opt, v, 0, 256, &x))
            return -1;
        o->workers = (int)x;
    } else if (strcmp(opt, "--pipelines") == 0) {
        if (a->n_pipeline_args >= MAX_LIST) {
            fprintf(stderr, "adfunnel serve: too many --pipelines\n");
            return -1;
        }
        a->pipeline_args[a->n_pipeline_args++] = v;
    } else if (strcmp(opt, "--plugins") == 0) {
        return list_add(&a->plugins, v);
    } else if (strcmp(opt, "--data") == 0) {
        a->gen.data_dir = v;
    } else if (strcmp(opt, "--seed") == 0) {
        if (parse_long(opt, v, 0, LONG_MAX, &x))
            return -1;
        a->gen.seed = (uint64_t)x;
    } else if (strcmp(opt, "--port-file") == 0) {
        o->port_file = v;
    } else if (strcmp(opt, "--max-body") == 0) {
        if (parse_long(opt, v, 1, 1L << 30, &x))
            return -1;
        o->max_body = (size_t)x;
    } else if (strcmp(opt, "--max-connections") == 0) {
        if (parse_long(opt, v, 1, 1000000, &x))
            return -1;
        o->max_connections = (unsigned)x;
    } else if (strcmp(opt, "--drain-timeout") == 0) {
        if (parse_long(opt, v, 1, 3600, &x))
            return -1;
        o->drain_timeout_s = (double)x;
    } else if (strcmp(opt, "--max-response") == 0) {
        if (parse_long(opt, v, 1024, 1L << 30, &x))
            return -1;
        o->max_response = (size_t)x;
    } else if (apply_admin_option(a, opt, v, &x) != 1) {
        return x < 0 ? -1 : 0;
    } else {
        fprintf(stderr, "adfunnel serve: unknown option %s\n%s", opt, usage);
        return -1;
    }
    return 0;
}

/* Returns 0 to serve, 1 after --help, -1 on a usage error. */
static int
parse_args(struct serve_args *a, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "adfunnel serve: unexpected argument \"%s\"\n%s",
                    arg, usage);
            return -1;
        }
        if (strcmp(arg, "--admin-allow-remote") == 0) { /* a flag */
            a->admin.allow_remote = 1;
            continue;
        }
        /* --opt=value or --opt value */
        char opt[64];
        const char *eq = strchr(arg, '=');
        const char *v;
        if (eq) {
            snprintf(opt, sizeof opt, "%.*s", (int)(eq - arg), arg);
            v = eq + 1;
        } else if (i + 1 < argc) {
            snprintf(opt, sizeof opt, "%s", arg);
            v = argv[++i];
        } else {
            fprintf(stderr, "adfunnel serve: %s needs a value\n", arg);
            return -1;
        }
        if (apply_option(a, opt, v) != 0)
            return -1;
    }
    return 0;
}

static int
finish_config(struct serve_args *a)
{
    if (a->n_pipeline_args == 0)
        a->pipeline_args[a->n_pipeline_args++] = "pipelines";
    for (size_t i = 0; i < a->n_pipeline_args; i++)
        if (add_pipelines(&a->pipelines, a->pipeline_args[i]) != 0)
            return -1;
    char defdir[PATH_MAX];
    if (a->plugins.n == 0 &&
        list_add(&a->plugins,
                 af_cli_default_plugin_dir(defdir, sizeof defdir)) != 0)
        return -1;
    /* The generation gets the paths as given, so that a reload of all
     * pipelines rescans the directories (new files are picked up). */
    a->pipeline_args[a->n_pipeline_args] = NULL;
    a->gen.pipelines = a->pipeline_args;
    a->gen.plugin_dirs = (const char *const *)a->plugins.item;
    a->opts.gen = &a->gen;
    return 0;
}

/* Server, control plane and admin listener, in that order; torn down in
 * reverse (the plugin cache last: generations hold its copies). */
static int
serve(struct serve_args *a)
{
    char err[1024];
    /* Models and indexes are large and freed whole when their generation is
     * replaced.  A fixed mmap threshold keeps each in its own mapping, given
     * back to the system on free; glibc would otherwise raise the threshold
     * to the size of the first such block freed, put the later ones in the
     * heap, and every swap would fragment it a little more. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    /* A SIGHUP during startup waits (pending) for the server to handle it
     * instead of killing the process (its default action). */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, NULL);
    af_plugin_cache *cache = af_plugin_cache_create(a->plugin_cache, err,
                                                    sizeof err);
    if (!cache) {
        af_log(AF_LOG_LEVEL_ERROR, "serve", "cannot start: %s", err);
        return 1;
    }
    a->gen.plugin_cache = cache;
    af_server *s = af_server_create(&a->opts, err, sizeof err);
    af_control *c = NULL;
    af_admin_server *adm = NULL;
    int rc = 1;
    if (!s) {
        af_log(AF_LOG_LEVEL_ERROR, "serve", "cannot start: %s", err);
        goto out;
    }
    a->control.server = s;
    if (!(c = af_control_create(&a->control, err, sizeof err))) {
        af_log(AF_LOG_LEVEL_ERROR, "serve", "cannot start: %s", err);
        goto out;
    }
    a->opts.on_sighup = af_control_sighup;
    a->opts.metrics_hook = af_control_metrics;
    a->opts.hook_arg = c;
    if (a->admin_enabled &&
        !(adm = af_admin_server_start(&a->admin, c, err, sizeof err))) {
        af_log(AF_LOG_LEVEL_ERROR, "serve", "cannot start: %s", err);
        goto out;
    }
    rc = af_server_serve(s) == 0 ? 0 : 1;
out:
    af_admin_server_stop(adm);
    /* The hooks point at the control plane: unhook before freeing it. */
    a->opts.on_sighup = NULL;
    a->opts.metrics_hook = NULL;
    af_control_free(c);
    af_server_destroy(s);
    af_plugin_cache_free(cache);
    return rc;
}

int
af_cmd_serve(int argc, char **argv)
{
    struct serve_args a;
    memset(&a, 0, sizeof a);
    a.opts.host = "127.0.0.1";
    a.opts.port = 8080;
    a.gen.data_dir = "data/world";
    a.gen.seed = 1;
    a.admin.port = 8081;
    a.admin.nice = 10;
    a.control.keep_previous = 2;
    a.control.warmup_requests = 4;
    int rc = parse_args(&a, argc, argv);
    if (rc > 0)
        rc = 0; /* --help */
    else if (rc < 0)
        rc = 2; /* usage error */
    else if (finish_config(&a) != 0)
        rc = 1;
    else
        rc = serve(&a);
    list_free(&a.pipelines);
    list_free(&a.plugins);
    return rc;
}
