/*
 * cmd_ctl.c -- `adfunnel ctl`: the command-line client of the admin API
 * (core/admin/admin_http.h).  A plain blocking HTTP/1.1 client over a
 * socket: one request, "Connection: close", read to the end.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "admin/token.h"
#include "cli/commands.h"
#include "util/strbuf.h"

#define DEFAULT_ADMIN "127.0.0.1:8081"
#define TIMEOUT_S 120
#define MAX_REPLY (16u << 20)

static const char usage[] =
    "usage: adfunnel ctl [options] COMMAND [ARGS]\n"
    "\n"
    "Talk to a running server's admin API (serve --admin-token-file ...).\n"
    "\n"
    "commands:\n"
    "  plugins                      plugins: name, kind, version, ABI, sha256, file\n"
    "  load FILE                    load a plugin file from a plugin directory\n"
    "  reload PLUGIN                read a plugin's file again\n"
    "  unload PLUGIN                unload (refused while a pipeline uses it)\n"
    "  reload-pipelines [SURFACE]   reload one or all pipelines from disk\n"
    "  deploy SURFACE MODEL         serve MODEL in SURFACE's rank stage\n"
    "  undeploy SURFACE             back to the pipeline file's own model\n"
    "  versions                     stable, canary, previous versions\n"
    "  rollback                     the previous version becomes stable again\n"
    "  promote                      the canary becomes stable\n"
    "  drop-canary                  remove the canary\n"
    "  canary-share FRACTION        share of users the canary serves\n"
    "  audit [N]                    the last N admin changes (default 20)\n"
    "\n"
    "options:\n"
    "  --admin HOST:PORT    admin address (default $ADFUNNEL_ADMIN or "
    DEFAULT_ADMIN ")\n"
    "  --token-file F       token file (default $ADFUNNEL_ADMIN_TOKEN_FILE)\n"
    "  --token-id ID        which token of the file (default: the first)\n"
    "  --stage S, --arm A   deploy/undeploy target (default rank, control)\n"
    "  --canary             publish the change as the canary version\n"
    "  --share X            with --canary: share of users in [0, 1]\n"
    "  --json               print the server's JSON answer as is\n"
    "\n"
    "Exit status: 0 when the server accepted the request, 1 when it refused\n"
    "it (the reason is printed), 2 for a usage or connection error.\n";

struct ctl {
    char host[256];
    char port[16];
    const char *token_file;
    const char *token_id;
    const char *stage, *arm;
    int canary;
    double share;
    int json;
    char token[AF_TOKEN_MAX_LEN + 1];
};

struct reply {
    int status;
    char *body; /* NUL-terminated, malloc'd */
};

/* --- ## HTTP --- */

static int
connect_to(const struct ctl *c)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(c->host, c->port, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "adfunnel ctl: cannot resolve %s: %s\n", c->host,
                gai_strerror(gai));
        return -1;
    }
    int fd = -1, e = 0;
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {TIMEOUT_S, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "adfunnel ctl: cannot connect to %s:%s: %s (is the "
                "server running with --admin-token-file?)\n", c->host,
                c->port, strerror(e));
    return fd;
}

static int
send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
read_all(int fd, af_buf *b)
{
    char chunk[16384];
    for (;;) {
        ssize_t r = recv(fd, chunk, sizeof chunk, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        if (b->len + (size_t)r > MAX_REPLY ||
            af_buf_append(b, chunk, (size_t)r) != 0)
            return -1;
    }
}

/* Parse "HTTP/1.1 200 ...\r\n...\r\n\r\nbody". */
static int
parse_reply(af_buf *b, struct reply *out)
{
    if (!b->data || b->len < 12 || strncmp(b->data, "HTTP/1.", 7) != 0)
        return -1;
    out->status = atoi(b->data + 9);
    char *body = strstr(b->data, "\r\n\r\n");
    if (!body)
        return -1;
    out->body = strdup(body + 4);
    return out->body ? 0 : -1;
}

static int
request(const struct ctl *c, const char *method, const char *path,
        json_t *body, struct reply *out)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t len = text ? strlen(text) : 0;
    af_buf req, rep;
    af_buf_init(&req);
    af_buf_init(&rep);
    af_buf_printf(&req,
                  "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                  "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                  "Connection: close\r\n\r\n%s",
                  method, path, c->host, c->token, len, text ? text : "");
    free(text);
    int rc = -1;
    errno = 0;
    int fd = req.oom ? -1 : connect_to(c);
    if (fd >= 0) {
        if (send_all(fd, req.data, req.len) != 0 || read_all(fd, &rep) != 0 ||
            parse_reply(&rep, out) != 0)
            fprintf(stderr, "adfunnel ctl: no valid answer from %s:%s: %s\n",
                    c->host, c->port, errno ? strerror(errno) : "malformed");
        else
            rc = 0;
        close(fd);
    }
    af_buf_free(&req);
    af_buf_free(&rep);
    return rc;
}

/* --- ## Printing --- */

static const char *
str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void
print_plugins(json_t *j)
{
    printf("%-16s %-12s %-8s %-4s %-12s %s\n", "NAME", "KIND", "VERSION",
           "ABI", "SHA256", "FILE (USED BY)");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(j, "plugins"), i, p) {
        const char *used = str(p, "used_by");
        printf("%-16s %-12s %-8s %-4s %.12s %s%s%s%s\n", str(p, "name"),
               str(p, "kind"), str(p, "version"), str(p, "abi"),
               str(p, "sha256"), str(p, "file"), *used ? " (" : "", used,
               *used ? ")" : "");
    }
    json_array_foreach(json_object_get(j, "refused"), i, p)
        printf("refused: %s\n", json_string_value(p));
}

static void
print_models(json_t *detail)
{
    size_t i, k;
    json_t *s, *m;
    json_array_foreach(json_object_get(detail, "surfaces"), i, s) {
        printf("    %s (%s)", str(s, "surface"), str(s, "pipeline"));
        json_array_foreach(json_object_get(s, "models"), k, m)
            printf(" %s/%s=%s %s", str(m, "arm"), str(m, "stage"),
                   str(m, "plugin"), str(m, "version"));
        printf("\n");
    }
}

static void
print_versions(json_t *j)
{
    json_t *canary = json_object_get(j, "canary");
    printf("stable %lld", (long long)json_integer_value(
                              json_object_get(j, "stable")));
    if (json_is_integer(canary))
        printf(", canary %lld (share %.4g%%)",
               (long long)json_integer_value(canary),
               100 * json_number_value(json_object_get(j, "canary_share")));
    printf("\n");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "versions"), i, v) {
        printf("  %-6lld %-9s %-16s by %s\n",
               (long long)json_integer_value(json_object_get(v, "version")),
               str(v, "label"), str(v, "action"), str(v, "who"));
        json_t *d = json_object_get(v, "detail");
        if (d)
            print_models(d);
    }
}

static void
print_audit(json_t *j)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "entries"), i, e)
        printf("%s %s %s %s %s -> %s (%lld) %s\n", str(e, "when"),
               str(e, "who"), str(e, "peer"), str(e, "action"),
               str(e, "target"), str(e, "result"),
               (long long)json_integer_value(json_object_get(e, "status")),
               str(e, "message"));
}

/* Print the answer; returns the exit status. */
static int
show(const struct ctl *c, const char *cmd, const struct reply *r)
{
    json_error_t je;
    json_t *j = json_loads(r->body, 0, &je);
    if (c->json || !j) {
        fputs(r->body, stdout);
        json_decref(j);
        return r->status == 200 ? 0 : 1;
    }
    int rc = r->status == 200 ? 0 : 1;
    if (rc) {
        fprintf(stderr, "adfunnel ctl: %s refused (%d): %s\n", cmd, r->status,
                str(j, "error"));
    } else if (!strcmp(cmd, "plugins")) {
        print_plugins(j);
    } else if (!strcmp(cmd, "versions")) {
        print_versions(j);
    } else if (!strcmp(cmd, "audit")) {
        print_audit(j);
    } else {
        printf("%s\n", str(j, "message"));
    }
    json_decref(j);
    return rc;
}

/* --- ## Commands --- */

static json_t *
with_label(const struct ctl *c, json_t *body)
{
    if (c->canary) {
        json_object_set_new(body, "label", json_string("canary"));
        if (c->share >= 0)
            json_object_set_new(body, "share", json_real(c->share));
    }
    return body;
}

/* Path, method and body of a command; -1 on a usage error. */
static int
build(const struct ctl *c, int argc, char **argv, const char **method,
      char *path, size_t pathlen, json_t **body)
{
    const char *cmd = argv[0];
    const char *a1 = argc > 1 ? argv[1] : NULL, *a2 = argc > 2 ? argv[2] : NULL;
    *method = "POST";
    *body = NULL;
    if (!strcmp(cmd, "plugins") || !strcmp(cmd, "versions")) {
        *method = "GET";
        snprintf(path, pathlen, "/admin/%s", cmd);
    } else if (!strcmp(cmd, "audit")) {
        *method = "GET";
        snprintf(path, pathlen, "/admin/audit?limit=%d", a1 ? atoi(a1) : 20);
    } else if (!strcmp(cmd, "load") && a1) {
        snprintf(path, pathlen, "/admin/plugins/load");
        *body = with_label(c, json_pack("{s:s}", "path", a1));
    } else if ((!strcmp(cmd, "reload") || !strcmp(cmd, "unload")) && a1) {
        snprintf(path, pathlen, "/admin/plugins/%s", cmd);
        *body = with_label(c, json_pack("{s:s}", "name", a1));
    } else if (!strcmp(cmd, "reload-pipelines")) {
        snprintf(path, pathlen, "/admin/pipelines/reload");
        *body = with_label(c, a1 ? json_pack("{s:s}", "surface", a1)
                                 : json_object());
    } else if ((!strcmp(cmd, "deploy") && a1 && a2) ||
               (!strcmp(cmd, "undeploy") && a1)) {
        snprintf(path, pathlen, "/admin/models/deploy");
        *body = with_label(
            c, json_pack("{s:s, s:s, s:s, s:o}", "surface", a1, "stage",
                         c->stage, "arm", c->arm, "model",
                         a2 && !strcmp(cmd, "deploy") ? json_string(a2)
                                                      : json_null()));
    } else if (!strcmp(cmd, "rollback")) {
        snprintf(path, pathlen, "/admin/rollback");
    } else if (!strcmp(cmd, "promote") || !strcmp(cmd, "drop-canary")) {
        snprintf(path, pathlen, "/admin/canary/%s",
                 !strcmp(cmd, "promote") ? "promote" : "drop");
    } else if (!strcmp(cmd, "canary-share") && a1) {
        char *end;
        double x = strtod(a1, &end);
        if (*end || !(x >= 0 && x <= 1)) {
            fprintf(stderr, "adfunnel ctl: canary-share expects a fraction in "
                    "[0, 1], got \"%s\"\n", a1);
            return -1;
        }
        snprintf(path, pathlen, "/admin/canary/share");
        *body = json_pack("{s:f}", "share", x);
    } else {
        fprintf(stderr, "adfunnel ctl: unknown command or missing argument: "
                "%s\n\n%s", cmd, usage);
        return -1;
    }
    return 0;
}

static int
set_admin(struct ctl *c, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v || !colon[1] ||
        (size_t)(colon - v) >= sizeof c->host ||
        strlen(colon + 1) >= sizeof c->port) {
        fprintf(stderr, "adfunnel ctl: --admin expects HOST:PORT, got \"%s\"\n",
                v);
        return -1;
    }
    const char *h = v;
    size_t hn = (size_t)(colon - v);
    if (h[0] == '[' && hn > 2 && h[hn - 1] == ']') { /* [::1]:8081 */
        h++;
        hn -= 2;
    }
    snprintf(c->host, sizeof c->host, "%.*s", (int)hn, h);
    snprintf(c->port, sizeof c->port, "%s", colon + 1);
    return 0;
}

/* Options may come before or after the command.  Returns the number of
 * positional arguments moved to the front of argv, or -1. */
static int
parse(struct ctl *c, int argc, char **argv)
{
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            exit(0);
        } else if (!strcmp(a, "--canary")) {
            c->canary = 1;
        } else if (!strcmp(a, "--json")) {
            c->json = 1;
        } else if (!strncmp(a, "--", 2)) {
            if (!v) {
                fprintf(stderr, "adfunnel ctl: %s needs a value\n", a);
                return -1;
            }
            i++;
            if (!strcmp(a, "--admin")) {
                if (set_admin(c, v) != 0)
                    return -1;
            } else if (!strcmp(a, "--token-file")) {
                c->token_file = v;
            } else if (!strcmp(a, "--token-id")) {
                c->token_id = v;
            } else if (!strcmp(a, "--stage")) {
                c->stage = v;
            } else if (!strcmp(a, "--arm")) {
                c->arm = v;
            } else if (!strcmp(a, "--share")) {
                char *end;
                c->share = strtod(v, &end);
                if (*end || !(c->share >= 0 && c->share <= 1)) {
                    fprintf(stderr, "adfunnel ctl: --share expects a fraction "
                            "in [0, 1]\n");
                    return -1;
                }
            } else {
                fprintf(stderr, "adfunnel ctl: unknown option %s\n%s", a,
                        usage);
                return -1;
            }
        } else {
            argv[npos++] = argv[i];
        }
    }
    return npos;
}

int
af_cmd_ctl(int argc, char **argv)
{
    struct ctl c;
    memset(&c, 0, sizeof c);
    c.stage = "rank";
    c.arm = "control";
    c.share = -1;
    const char *env = getenv("ADFUNNEL_ADMIN");
    if (set_admin(&c, env && *env ? env : DEFAULT_ADMIN) != 0)
        return 2;
    c.token_file = getenv("ADFUNNEL_ADMIN_TOKEN_FILE");
    int n = parse(&c, argc, argv);
    if (n < 0)
        return 2;
    if (n == 0) {
        fputs(usage, stderr);
        return 2;
    }
    if (!c.token_file || !*c.token_file) {
        fprintf(stderr, "adfunnel ctl: no token file (--token-file or "
                "ADFUNNEL_ADMIN_TOKEN_FILE)\n");
        return 2;
    }
    char err[512];
    if (af_tokens_read_one(c.token_file, c.token_id, c.token, sizeof c.token,
                           err, sizeof err) != 0) {
        fprintf(stderr, "adfunnel ctl: %s\n", err);
        return 2;
    }
    const char *method;
    char path[256];
    json_t *body;
    if (build(&c, n, argv, &method, path, sizeof path, &body) != 0)
        return 2;
    struct reply r = {0, NULL};
    int rc = request(&c, method, path, body, &r);
    json_decref(body);
    if (rc != 0)
        return 2;
    rc = show(&c, argv[0], &r);
    free(r.body);
    return rc;
}
