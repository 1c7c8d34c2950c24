/*
 * token.c -- loading the admin token file and checking presented tokens in
 * constant time (see token.h).
 */
#include "admin/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "adfunnel/af_errno.h"

#define MAX_TOKENS 64
#define MAX_FILE (64 * 1024)

struct token {
    char id[AF_TOKEN_ID_MAX];
    unsigned char digest[SHA256_DIGEST_LENGTH];
};

struct af_tokens {
    struct token t[MAX_TOKENS];
    unsigned n;
};

/* Read the whole file after checking its permissions. */
static int
read_file(const char *file, char *buf, size_t cap, char *err, size_t errlen)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        return AF_ENOENT;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", file);
        close(fd);
        return AF_EINVAL;
    }
    if (st.st_mode & (S_IRWXO | S_IWGRP)) {
        snprintf(err, errlen, "%s: token file is accessible to others (mode "
                 "%03o); chmod 600 it", file, (unsigned)(st.st_mode & 0777));
        close(fd);
        return AF_EINVAL;
    }
    size_t n = 0;
    ssize_t r;
    while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    if (n == cap - 1) {
        snprintf(err, errlen, "%s: token file larger than %d bytes", file,
                 MAX_FILE);
        return AF_ELIMIT;
    }
    buf[n] = '\0';
    return AF_OK;
}

static int
valid_token(const char *s, size_t n)
{
    if (n < AF_TOKEN_MIN_LEN || n > AF_TOKEN_MAX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    return 1;
}

static int
valid_id(const char *s, size_t n)
{
    if (n == 0 || n >= AF_TOKEN_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
              c == '@'))
            return 0;
    }
    return 1;
}

/* Terminate the line at `line`; returns the next one, or NULL (line
 * numbers count every line, blank ones included). */
static char *
cut_line(char *line)
{
    char *nl = strchr(line, '\n');
    if (!nl)
        return NULL;
    *nl = '\0';
    return nl + 1;
}

/* One line "ID:TOKEN" or "TOKEN": its id and token (pointers into line).
 * Returns 0 for a token line, 1 for a blank or comment line, -1 when bad. */
static int
parse_line(char *line, unsigned lineno, char *id, const char **tok,
           size_t *toklen)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' ||
                 line[n - 1] == '\t'))
        line[--n] = '\0';
    while (*line == ' ' || *line == '\t')
        line++, n--;
    if (n == 0 || line[0] == '#')
        return 1;
    char *colon = strchr(line, ':');
    if (colon && valid_id(line, (size_t)(colon - line))) {
        snprintf(id, AF_TOKEN_ID_MAX, "%.*s", (int)(colon - line), line);
        *tok = colon + 1;
    } else {
        snprintf(id, AF_TOKEN_ID_MAX, "token%u", lineno);
        *tok = line;
    }
    *toklen = strlen(*tok);
    return valid_token(*tok, *toklen) ? 0 : -1;
}

af_tokens *
af_tokens_load(const char *file, char *err, size_t errlen)
{
    char *buf = malloc(MAX_FILE);
    af_tokens *t = calloc(1, sizeof *t);
    if (!buf || !t) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (read_file(file, buf, MAX_FILE, err, errlen) != AF_OK)
        goto fail;
    unsigned lineno = 0;
    for (char *line = buf, *next; line; line = next) {
        next = cut_line(line);
        lineno++;
        char id[AF_TOKEN_ID_MAX];
        const char *tok;
        size_t toklen;
        int rc = parse_line(line, lineno, id, &tok, &toklen);
        if (rc == 1)
            continue;
        if (rc < 0) {
            snprintf(err, errlen, "%s:%u: a token is %d..%d printable "
                     "characters without spaces (line: [ID:]TOKEN)", file,
                     lineno, AF_TOKEN_MIN_LEN, AF_TOKEN_MAX_LEN);
            goto fail;
        }
        if (t->n == MAX_TOKENS) {
            snprintf(err, errlen, "%s: more than %d tokens", file, MAX_TOKENS);
            goto fail;
        }
        snprintf(t->t[t->n].id, sizeof t->t[t->n].id, "%s", id);
        SHA256((const unsigned char *)tok, toklen, t->t[t->n].digest);
        t->n++;
    }
    if (t->n == 0) {
        snprintf(err, errlen, "%s: no token in the file", file);
        goto fail;
    }
    OPENSSL_cleanse(buf, MAX_FILE);
    free(buf);
    return t;
fail:
    if (buf)
        OPENSSL_cleanse(buf, MAX_FILE);
    free(buf);
    free(t);
    return NULL;
}

void
af_tokens_free(af_tokens *t)
{
    if (t)
        OPENSSL_cleanse(t, sizeof *t);
    free(t);
}

const char *
af_tokens_check(const af_tokens *t, const char *presented, size_t len)
{
    if (!t || !presented || len == 0 || len > AF_TOKEN_MAX_LEN)
        return NULL;
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)presented, len, d);
    /* Every digest is compared; no early exit. */
    unsigned match = MAX_TOKENS;
    for (unsigned i = 0; i < t->n; i++) {
        unsigned eq = CRYPTO_memcmp(d, t->t[i].digest, sizeof d) == 0;
        match = eq ? i : match;
    }
    return match < t->n ? t->t[match].id : NULL;
}

int
af_tokens_read_one(const char *file, const char *id, char *out, size_t n,
                   char *err, size_t errlen)
{
    char *buf = malloc(MAX_FILE);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return AF_ENOMEM;
    }
    int rc = read_file(file, buf, MAX_FILE, err, errlen);
    if (rc != AF_OK) {
        free(buf);
        return rc;
    }
    rc = AF_ENOENT;
    snprintf(err, errlen, id ? "%s: no token with id \"%s\""
                             : "%s: no token in the file%s",
             file, id ? id : "");
    unsigned lineno = 0;
    for (char *line = buf, *next; line && rc != AF_OK; line = next) {
        next = cut_line(line);
        char lid[AF_TOKEN_ID_MAX];
        const char *tok;
        size_t toklen;
        if (parse_line(line, ++lineno, lid, &tok, &toklen) != 0)
            continue;
        if (id && strcmp(id, lid) != 0)
            continue;
        if (toklen >= n) {
            snprintf(err, errlen, "%s: token too long", file);
            rc = AF_ELIMIT;
            break;
        }
        memcpy(out, tok, toklen + 1);
        rc = AF_OK;
    }
    OPENSSL_cleanse(buf, MAX_FILE);
    free(buf);
    return rc;
}
