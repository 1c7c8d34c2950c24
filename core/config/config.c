/*
 * config.c -- plugin parameters as an ordered key/value list.
 *
 * Parameter lists are short (a handful of keys), so lookups are linear
 * scans: simpler than a hash table and faster at this size.  Plugins read
 * their config in create(), not per request.
 */
#include "config/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adfunnel/af_errno.h"

struct entry {
    char *key;
    int type;      /* enum af_config_type                          */
    char *str;     /* string form, for every type                  */
    double num;    /* numeric value for NUM and BOOL               */
};

struct af_config {
    struct entry *e;
    uint32_t n;
    uint32_t cap;
};

af_config *
af_config_new(void)
{
    return calloc(1, sizeof(struct af_config));
}

void
af_config_free(af_config *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->n; i++) {
        free(c->e[i].key);
        free(c->e[i].str);
    }
    free(c->e);
    free(c);
}

static const struct entry *
find(const af_config *c, const char *key)
{
    if (!c || !key)
        return NULL;
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].key, key) == 0)
            return &c->e[i];
    return NULL;
}

static int
put(af_config *c, const char *key, int type, const char *str, double num)
{
    struct entry *e = (struct entry *)find(c, key);
    if (!e) {
        if (c->n == c->cap) {
            uint32_t cap = c->cap ? c->cap * 2 : 8;
            struct entry *ne = realloc(c->e, cap * sizeof *ne);
            if (!ne)
                return AF_ENOMEM;
            c->e = ne;
            c->cap = cap;
        }
        e = &c->e[c->n];
        e->key = strdup(key);
        if (!e->key)
            return AF_ENOMEM;
        e->str = NULL;
        c->n++;
    }
    char *s = strdup(str);
    if (!s)
        return AF_ENOMEM;
    free(e->str);
    e->str = s;
    e->type = type;
    e->num = num;
    return AF_OK;
}

int
af_config_set_str(af_config *c, const char *key, const char *value)
{
    char *end = NULL;
    double v = strtod(value, &end);
    return put(c, key, AF_CFG_STR, value, (end && *end == '\0' && end != value) ? v : NAN);
}

int
af_config_set_num(af_config *c, const char *key, double value)
{
    char buf[64];
    if (value == (double)(int64_t)value && fabs(value) < 1e15)
        snprintf(buf, sizeof buf, "%lld", (long long)value);
    else
        snprintf(buf, sizeof buf, "%.17g", value);
    return put(c, key, AF_CFG_NUM, buf, value);
}

int
af_config_set_bool(af_config *c, const char *key, int value)
{
    return put(c, key, AF_CFG_BOOL, value ? "true" : "false", value ? 1 : 0);
}

int
af_config_has(const af_config *c, const char *key)
{
    return find(c, key) != NULL;
}

const char *
af_config_str(const af_config *c, const char *key, const char *def)
{
    const struct entry *e = find(c, key);
    return e ? e->str : def;
}

double
af_config_num(const af_config *c, const char *key, double def)
{
    const struct entry *e = find(c, key);
    return (e && !isnan(e->num)) ? e->num : def;
}

int64_t
af_config_int(const af_config *c, const char *key, int64_t def)
{
    const struct entry *e = find(c, key);
    if (!e || isnan(e->num))
        return def;
    return (int64_t)llround(e->num);
}

int
af_config_bool(const af_config *c, const char *key, int def)
{
    const struct entry *e = find(c, key);
    if (!e)
        return def;
    if (e->type == AF_CFG_STR)
        return strcmp(e->str, "true") == 0 || strcmp(e->str, "1") == 0 ||
               strcmp(e->str, "yes") == 0;
    return e->num != 0;
}

uint32_t
af_config_count(const af_config *c)
{
    return c ? c->n : 0;
}

const char *
af_config_key(const af_config *c, uint32_t i)
{
    return (c && i < c->n) ? c->e[i].key : NULL;
}
