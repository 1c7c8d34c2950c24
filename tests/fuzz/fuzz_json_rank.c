/*
 * fuzz_json_rank.c -- libFuzzer target: the JSON RankRequest decoder
 * (af_json_decode_rank, core/http/codec.h), with jansson allocating from a
 * request arena as it does on the serving path.  A request that decodes is
 * validated again and encoded as a response error message, so the string
 * handling of both directions is exercised.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "http/codec.h"
#include "mem/arena.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* One arena for the process, reset after every input (as a worker does);
 * libFuzzer runs inputs one at a time on one thread. */
static af_arena *arena;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    af_json_install_allocator();
    arena = af_arena_create(1u << 20, 64u << 20);
    af_json_use_arena(arena);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_rank_req req;
    char err[512];
    int rc = af_json_decode_rank((const char *)data, size, &req, err,
                                 sizeof err);
    if (rc == AF_OK) {
        char why[512];
        if (af_rank_req_validate(&req, why, sizeof why) != AF_OK)
            __builtin_trap(); /* the decoder accepted an invalid request */
    } else {
        /* The reason must be a printable, terminated message. */
        size_t n = strnlen(err, sizeof err);
        if (n == 0 || n == sizeof err)
            __builtin_trap();
        af_buf b;
        af_buf_init(&b);
        af_json_encode_error(err, &b);
        af_buf_free(&b);
    }
    af_arena_reset(arena);
    return 0;
}
