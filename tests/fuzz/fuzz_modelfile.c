/*
 * fuzz_modelfile.c -- libFuzzer target: the model file loader
 * (af_modelfile_open, core/model/modelfile.h) on arbitrary bytes.  The
 * input is written to a memfd and opened by path (/proc/self/fd/N), so the
 * real file-reading code runs.  Asked for any kind and fingerprint, then
 * for kind "lr" with a fingerprint, as plugins do.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "adfunnel/af_errno.h"
#include "model/modelfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int fd = -1;
static char path[64];
static volatile uint8_t sink; /* keeps the payload reads */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fd = memfd_create("fuzz-model", MFD_CLOEXEC);
    if (fd < 0) {
        perror("memfd_create");
        return 1;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return 0;
}

static void
try_open(const char *kind, uint64_t fingerprint)
{
    struct af_model_blob b;
    char err[512];
    err[0] = '\0';
    memset(&b, 0, sizeof b);
    int rc = af_modelfile_open(path, kind, fingerprint, &b, err, sizeof err);
    if (rc == AF_OK) {
        /* The payload is readable to its last byte. */
        uint8_t sum = 0;
        const uint8_t *p = b.data;
        for (size_t i = 0; i < b.size; i++)
            sum ^= p[i];
        sink = sum;
        af_modelfile_close(&b);
    } else if (err[0] == '\0') {
        __builtin_trap(); /* a refusal always says why */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    try_open(NULL, 0);
    try_open("lr", 0x2b7fa999dfae5d7dull);
    return 0;
}
