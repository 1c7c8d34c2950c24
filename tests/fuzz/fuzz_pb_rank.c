/*
 * fuzz_pb_rank.c -- libFuzzer target: the protobuf decoders
 * (core/http/codec.h): af_pb_decode_rank on the input as a RankRequest, and
 * af_pb_decode_rank_resp on the same bytes as a RankResponse (used by tools
 * and tests).  A request that decodes must validate; an error must come
 * with a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "adfunnel/af_errno.h"
#include "http/codec.h"
#include "mem/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static af_arena *arena;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    arena = af_arena_create(1u << 20, 64u << 20);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_rank_req req;
    char err[512];
    err[0] = '\0';
    int rc = af_pb_decode_rank(data, size, &req, err, sizeof err);
    if (rc == AF_OK) {
        char why[512];
        if (af_rank_req_validate(&req, why, sizeof why) != AF_OK)
            __builtin_trap();
    } else if (err[0] == '\0' || strnlen(err, sizeof err) == sizeof err) {
        __builtin_trap();
    }
    struct af_rank_resp resp;
    memset(&resp, 0, sizeof resp);
    rc = af_pb_decode_rank_resp(data, size, arena, &resp, err, sizeof err);
    if (rc == AF_OK) {
        /* What decoded must encode again. */
        static uint8_t out[1 << 20];
        size_t len;
        if (af_pb_rank_max_size() <= sizeof out)
            af_pb_encode_rank(&resp, 1, out, sizeof out, &len);
    }
    af_arena_reset(arena);
    return 0;
}
