/*
 * modelfile.c -- reading and writing adfunnel model files (.afm).
 *
 * The header is encoded byte by byte in little-endian order rather than
 * written as a C struct, so the format does not depend on the compiler's
 * padding or on the host's byte order.  Every refusal names the file, the
 * check that failed, and the expected and found values: an operator reading
 * the log must be able to tell a truncated copy from a model trained for
 * another feature set without a hex dump.
 */
#include "model/modelfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "adfunnel/af_errno.h"

/* --- ## Header layout (see modelfile.h) --- */

enum {
    OFF_MAGIC = 0,
    OFF_FORMAT = 8,
    OFF_HEADER_SIZE = 12,
    OFF_KIND = 16,
    OFF_VERSION = 32,
    OFF_FINGERPRINT = 96,
    OFF_PAYLOAD_SIZE = 104,
    OFF_PAYLOAD_CRC = 112,
    OFF_SUMMARY = 116,
    OFF_HEADER_CRC = 252,
    LEN_MAGIC = 8,
    LEN_KIND = 16,
    LEN_VERSION = 64,
    LEN_SUMMARY = 136,
};

_Static_assert(OFF_HEADER_CRC + 4 == AF_MODELFILE_HEADER,
               "header layout must fill exactly AF_MODELFILE_HEADER bytes");
_Static_assert(sizeof(((struct af_model_blob *)0)->kind) == LEN_KIND,
               "af_model_blob.kind must hold the file's kind field");
_Static_assert(sizeof(((struct af_model_blob *)0)->version) == LEN_VERSION,
               "af_model_blob.version must hold the file's version field");

static void
put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void
put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t
get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t
get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* zlib's crc32() takes a 32-bit length; feed large buffers in pieces. */
static uint32_t
crc32_buf(const void *data, size_t size)
{
    const unsigned char *p = data;
    uLong crc = crc32(0L, Z_NULL, 0);
    while (size > 0) {
        uInt chunk = size > (1u << 30) ? (1u << 30) : (uInt)size;
        crc = crc32(crc, p, chunk);
        p += chunk;
        size -= chunk;
    }
    return (uint32_t)crc;
}

/* "path: reason" into err (err may be NULL).  Returns code. */
static int
fail(int code, char *err, size_t errlen, const char *path, const char *fmt,
     ...) __attribute__((format(printf, 5, 6)));

static int
fail(int code, char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return code;
    int n = snprintf(err, errlen, "%s: ", path);
    if (n < 0 || (size_t)n >= errlen)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

/* Copy a NUL-padded fixed-width field into a C string of the same width,
 * always terminated (a full-width field loses its last byte, which the
 * writer never produces). */
static void
field_to_str(char *dst, const unsigned char *src, size_t width)
{
    memcpy(dst, src, width);
    dst[width - 1] = '\0';
}

/* Printable rendering of up to 8 magic bytes, for error messages. */
static void
render_magic(char *out, size_t outlen, const unsigned char *m)
{
    size_t o = 0;
    for (int i = 0; i < LEN_MAGIC && o + 5 < outlen; i++) {
        if (m[i] >= 0x20 && m[i] < 0x7f && m[i] != '"' && m[i] != '\\')
            out[o++] = (char)m[i];
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", m[i]);
    }
    out[o] = '\0';
}

/* --- ## Writing --- */

static int
write_all(int fd, const void *data, size_t size)
{
    const char *p = data;
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        size -= (size_t)w;
    }
    return 0;
}

/* Fill the 256-byte header.  Returns 0 or an AF_E* with err set. */
static int
encode_header(unsigned char *h, const char *path,
              const struct af_modelfile_meta *m, const void *payload,
              size_t size, char *err, size_t errlen)
{
    const char *summary = m->summary ? m->summary : "";
    if (m->kind == NULL || m->kind[0] == '\0' ||
        strlen(m->kind) >= LEN_KIND)
        return fail(AF_EINVAL, err, errlen, path,
                    "model kind must be 1..%d characters, got \"%s\"",
                    LEN_KIND - 1, m->kind ? m->kind : "(null)");
    if (m->version == NULL || strlen(m->version) >= LEN_VERSION)
        return fail(AF_EINVAL, err, errlen, path,
                    "version label must be at most %d characters, got \"%s\"",
                    LEN_VERSION - 1, m->version ? m->version : "(null)");
    if (strlen(summary) >= LEN_SUMMARY)
        return fail(AF_EINVAL, err, errlen, path,
                    "summary must be at most %d characters, got %zu",
                    LEN_SUMMARY - 1, strlen(summary));

    memset(h, 0, AF_MODELFILE_HEADER);
    memcpy(h + OFF_MAGIC, AF_MODELFILE_MAGIC, sizeof AF_MODELFILE_MAGIC);
    put_u32(h + OFF_FORMAT, AF_MODELFILE_VERSION);
    put_u32(h + OFF_HEADER_SIZE, AF_MODELFILE_HEADER);
    memcpy(h + OFF_KIND, m->kind, strlen(m->kind));
    memcpy(h + OFF_VERSION, m->version, strlen(m->version));
    put_u64(h + OFF_FINGERPRINT, m->fingerprint);
    put_u64(h + OFF_PAYLOAD_SIZE, (uint64_t)size);
    put_u32(h + OFF_PAYLOAD_CRC, size ? crc32_buf(payload, size) : 0);
    memcpy(h + OFF_SUMMARY, summary, strlen(summary));
    put_u32(h + OFF_HEADER_CRC, crc32_buf(h, OFF_HEADER_CRC));
    return AF_OK;
}

/* fsync the directory holding path so the rename itself is durable. */
static void
sync_dir_of(const char *path)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf)
        return;
    strcpy(buf, path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse directory fsync */
        close(fd);
    }
}

int
af_modelfile_write(const char *path, const struct af_modelfile_meta *m,
                   const void *payload, size_t size, char *err, size_t errlen)
{
    unsigned char header[AF_MODELFILE_HEADER];
    if (path == NULL || m == NULL || (payload == NULL && size > 0))
        return fail(AF_EINVAL, err, errlen, path ? path : "(null)",
                    "missing path, metadata or payload");
    int rc = encode_header(header, path, m, payload, size, err, errlen);
    if (rc != AF_OK)
        return rc;

    /* The temporary file lives in the target's directory: rename() is only
     * atomic within one file system. */
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp)
        return fail(AF_EINVAL, err, errlen, path, "path too long");
    int fd = mkstemp(tmp);
    if (fd < 0)
        return fail(AF_EIO, err, errlen, path,
                    "cannot create temporary file %s: %s", tmp,
                    strerror(errno));
    if (write_all(fd, header, sizeof header) != 0 ||
        (size > 0 && write_all(fd, payload, size) != 0) || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return fail(AF_EIO, err, errlen, path, "cannot write %s: %s", tmp,
                    strerror(e));
    }
    /* mkstemp creates 0600; a model is meant to be read by the server's
     * user and by tools, like any data file. */
    fchmod(fd, 0644);
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return fail(AF_EIO, err, errlen, path, "cannot rename %s into place: %s",
                    tmp, strerror(e));
    }
    sync_dir_of(path);
    return AF_OK;
}

/* --- ## Reading --- */

/* Read exactly size bytes; returns bytes read (short at end of file) or -1. */
static ssize_t
read_full(int fd, void *data, size_t size)
{
    char *p = data;
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, p + got, size - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Integrity checks on the header: magic, format, size, checksum.  The
 * format version comes before the checksum because another version may put
 * its checksum elsewhere: "made by a newer tool" is the useful message. */
static int
check_header(const unsigned char *h, const char *path, char *err,
             size_t errlen)
{
    if (memcmp(h + OFF_MAGIC, AF_MODELFILE_MAGIC, sizeof AF_MODELFILE_MAGIC)) {
        char found[64];
        render_magic(found, sizeof found, h + OFF_MAGIC);
        return fail(AF_ECORRUPT, err, errlen, path,
                    "bad magic: expected \"%s\\x00\", found \"%s\" "
                    "(not an adfunnel model file)",
                    AF_MODELFILE_MAGIC, found);
    }
    uint32_t format = get_u32(h + OFF_FORMAT);
    if (format != AF_MODELFILE_VERSION)
        return fail(AF_EMISMATCH, err, errlen, path,
                    "unsupported format version: expected %d, found %" PRIu32,
                    AF_MODELFILE_VERSION, format);
    uint32_t hsize = get_u32(h + OFF_HEADER_SIZE);
    if (hsize != AF_MODELFILE_HEADER)
        return fail(AF_ECORRUPT, err, errlen, path,
                    "bad header size: expected %d, found %" PRIu32,
                    AF_MODELFILE_HEADER, hsize);
    uint32_t want = get_u32(h + OFF_HEADER_CRC);
    uint32_t have = crc32_buf(h, OFF_HEADER_CRC);
    if (want != have)
        return fail(AF_ECORRUPT, err, errlen, path,
                    "header checksum mismatch: header records crc32 %08" PRIx32
                    ", computed %08" PRIx32,
                    want, have);
    return AF_OK;
}

/* What the caller asked for: kind, then fingerprint (0 = any). */
static int
check_identity(const struct af_model_blob *b, const char *path,
               const char *kind, uint64_t fingerprint, char *err,
               size_t errlen)
{
    if (kind != NULL && strcmp(kind, b->kind) != 0)
        return fail(AF_EMISMATCH, err, errlen, path,
                    "kind mismatch: expected \"%s\", found \"%s\"", kind,
                    b->kind);
    if (fingerprint != 0 && b->fingerprint != fingerprint)
        return fail(AF_EMISMATCH, err, errlen, path,
                    "feature fingerprint mismatch: expected %016" PRIx64
                    ", found %016" PRIx64
                    " (the model was trained with other features)",
                    fingerprint, b->fingerprint);
    return AF_OK;
}

/* Read and verify the payload described by header h from fd. */
static int
read_payload(int fd, const unsigned char *h, off_t file_size,
             const char *path, void **out, char *err, size_t errlen)
{
    uint64_t size = get_u64(h + OFF_PAYLOAD_SIZE);
    uint64_t have = (uint64_t)file_size - AF_MODELFILE_HEADER;
    if (have < size)
        return fail(AF_ECORRUPT, err, errlen, path,
                    "truncated: header says payload is %" PRIu64
                    " bytes, file holds %" PRIu64,
                    size, have);
    if (have > size)
        return fail(AF_ECORRUPT, err, errlen, path,
                    "trailing data: header says payload is %" PRIu64
                    " bytes, file holds %" PRIu64,
                    size, have);
    if (size > SIZE_MAX - 1)
        return fail(AF_ENOMEM, err, errlen, path,
                    "payload of %" PRIu64 " bytes does not fit in memory",
                    size);
    /* +1 so an empty payload still gets a distinct, freeable pointer. */
    void *data = malloc((size_t)size + 1);
    if (data == NULL)
        return fail(AF_ENOMEM, err, errlen, path,
                    "cannot allocate %" PRIu64 " bytes for the payload", size);
    ssize_t got = read_full(fd, data, (size_t)size);
    if (got < 0 || (uint64_t)got != size) {
        free(data);
        return fail(got < 0 ? AF_EIO : AF_ECORRUPT, err, errlen, path,
                    "cannot read payload: %s",
                    got < 0 ? strerror(errno) : "file shrank while reading");
    }
    uint32_t want = get_u32(h + OFF_PAYLOAD_CRC);
    uint32_t crc = crc32_buf(data, (size_t)size);
    if (want != crc) {
        free(data);
        return fail(AF_ECORRUPT, err, errlen, path,
                    "payload checksum mismatch: header records crc32 %08" PRIx32
                    ", computed %08" PRIx32,
                    want, crc);
    }
    *out = data;
    return AF_OK;
}

int
af_modelfile_open(const char *path, const char *kind, uint64_t fingerprint,
                  struct af_model_blob *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (path == NULL)
        return fail(AF_EINVAL, err, errlen, "(null)", "no model path given");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(errno == ENOENT ? AF_ENOENT : AF_EIO, err, errlen, path,
                    "cannot open model file: %s", strerror(errno));

    struct stat st;
    unsigned char h[AF_MODELFILE_HEADER];
    int rc = AF_OK;
    ssize_t got = -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = fail(AF_EIO, err, errlen, path, "not a regular file");
    } else if ((got = read_full(fd, h, sizeof h)) < 0) {
        rc = fail(AF_EIO, err, errlen, path, "cannot read header: %s",
                  strerror(errno));
    } else if ((size_t)got < sizeof h || st.st_size < (off_t)sizeof h) {
        rc = fail(AF_ECORRUPT, err, errlen, path,
                  "truncated: file is %lld bytes, the header alone needs %d",
                  (long long)st.st_size, AF_MODELFILE_HEADER);
    } else if ((rc = check_header(h, path, err, errlen)) == AF_OK) {
        field_to_str(out->kind, h + OFF_KIND, LEN_KIND);
        field_to_str(out->version, h + OFF_VERSION, LEN_VERSION);
        out->fingerprint = get_u64(h + OFF_FINGERPRINT);
        void *data = NULL;
        rc = read_payload(fd, h, st.st_size, path, &data, err, errlen);
        if (rc == AF_OK)
            rc = check_identity(out, path, kind, fingerprint, err, errlen);
        if (rc == AF_OK) {
            out->data = data;
            out->size = (size_t)get_u64(h + OFF_PAYLOAD_SIZE);
            out->host_handle = data;
        } else {
            free(data);
        }
    }
    close(fd);
    if (rc != AF_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

void
af_modelfile_close(struct af_model_blob *b)
{
    if (b == NULL)
        return;
    free(b->host_handle);
    memset(b, 0, sizeof *b);
}
