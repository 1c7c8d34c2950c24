/*
 * audit.c -- the admin audit log (see audit.h).
 */
#include "admin/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adfunnel/af_errno.h"
#include "util/log.h"

/* An entry as kept in the ring: fixed size, so that the ring's memory is
 * allocated (and touched) once at startup and a long-running server's RSS
 * does not creep up as the ring fills. */
struct kept {
    char when[32];
    double time;
    char who[64];
    char peer[64];
    char action[32];
    char target[256];
    char result[8];
    int status;
    uint64_t generation;
    char message[512];
};

struct af_audit {
    pthread_mutex_t lock;
    int fd;                  /* -1: no file */
    struct kept *ring;       /* AF_AUDIT_KEEP entries */
    unsigned next, count;
};

af_audit *
af_audit_open(const char *file, char *err, size_t errlen)
{
    af_audit *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->fd = -1;
    a->ring = malloc(AF_AUDIT_KEEP * sizeof *a->ring);
    if (!a->ring) {
        snprintf(err, errlen, "out of memory");
        free(a);
        return NULL;
    }
    memset(a->ring, 0, AF_AUDIT_KEEP * sizeof *a->ring);
    if (file && *file) {
        a->fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (a->fd < 0) {
            snprintf(err, errlen, "audit log %s: %s", file, strerror(errno));
            free(a->ring);
            free(a);
            return NULL;
        }
    }
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

void
af_audit_close(af_audit *a)
{
    if (!a)
        return;
    free(a->ring);
    if (a->fd >= 0)
        close(a->fd);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

static const char *
or_dash(const char *s)
{
    return s && *s ? s : "-";
}

static void
keep(struct kept *k, const struct af_audit_entry *e)
{
    time_t secs = (time_t)e->time;
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(k->when, sizeof k->when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(k->when + n, sizeof k->when - n, ".%03dZ",
             (int)((e->time - (double)secs) * 1000));
    k->time = e->time;
    snprintf(k->who, sizeof k->who, "%s", or_dash(e->who));
    snprintf(k->peer, sizeof k->peer, "%s", or_dash(e->peer));
    snprintf(k->action, sizeof k->action, "%s", or_dash(e->action));
    snprintf(k->target, sizeof k->target, "%s", or_dash(e->target));
    snprintf(k->result, sizeof k->result, "%s", or_dash(e->result));
    k->status = e->status;
    k->generation = e->generation;
    snprintf(k->message, sizeof k->message, "%s", e->message ? e->message : "");
}

static json_t *
kept_json(const struct kept *k)
{
    return json_pack("{s:s, s:f, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s}",
                     "when", k->when, "time", k->time, "who", k->who, "peer",
                     k->peer, "action", k->action, "target", k->target,
                     "result", k->result, "status", k->status, "generation",
                     (json_int_t)k->generation, "message", k->message);
}

void
af_audit_record(af_audit *a, const struct af_audit_entry *e)
{
    af_log(strcmp(or_dash(e->result), "ok") == 0 ? AF_LOG_LEVEL_INFO
                                                 : AF_LOG_LEVEL_WARN,
           "admin", "%s from %s: %s %s -> %s (%d, generation %llu)%s%s",
           or_dash(e->who), or_dash(e->peer), or_dash(e->action),
           or_dash(e->target), or_dash(e->result), e->status,
           (unsigned long long)e->generation, e->message && *e->message
                                                   ? ": " : "",
           e->message ? e->message : "");
    struct kept k;
    keep(&k, e);
    char *line = NULL;
    if (a->fd >= 0) {
        /* The file gets the whole message, the ring a bounded copy. */
        json_t *j = kept_json(&k);
        if (j && e->message)
            json_object_set_new(j, "message", json_string(e->message));
        line = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
    }
    pthread_mutex_lock(&a->lock);
    a->ring[a->next] = k;
    a->next = (a->next + 1) % AF_AUDIT_KEEP;
    if (a->count < AF_AUDIT_KEEP)
        a->count++;
    if (line) {
        /* One write per entry: O_APPEND keeps lines whole even when several
         * servers share the file. */
        size_t len = strlen(line);
        line[len] = '\n';
        ssize_t w = write(a->fd, line, len + 1);
        if (w != (ssize_t)(len + 1))
            af_log(AF_LOG_LEVEL_ERROR, "admin", "cannot append to the audit "
                   "log: %s", w < 0 ? strerror(errno) : "short write");
    }
    pthread_mutex_unlock(&a->lock);
    free(line);
}

json_t *
af_audit_json(af_audit *a, unsigned limit)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    pthread_mutex_lock(&a->lock);
    unsigned n = limit && limit < a->count ? limit : a->count;
    unsigned start = (a->next + AF_AUDIT_KEEP - n) % AF_AUDIT_KEEP;
    for (unsigned i = 0; i < n; i++)
        json_array_append_new(arr,
                              kept_json(&a->ring[(start + i) % AF_AUDIT_KEEP]));
    pthread_mutex_unlock(&a->lock);
    return arr;
}
