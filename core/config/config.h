/*
 * config.h -- a plugin's parameters (struct af_config of the ABI): an ordered
 * list of key -> value pairs built from a pipeline table.  Nested tables are
 * flattened with dots ("reserve.adv_7").  Read-only once the generation is
 * built, so readers need no lock.
 */
#ifndef AF_CORE_CONFIG_H
#define AF_CORE_CONFIG_H

#include <stdint.h>
#include "adfunnel/af_types.h"

enum af_config_type { AF_CFG_STR, AF_CFG_NUM, AF_CFG_BOOL };

af_config *af_config_new(void);
void af_config_free(af_config *c);
int af_config_set_str(af_config *c, const char *key, const char *value);
int af_config_set_num(af_config *c, const char *key, double value);
int af_config_set_bool(af_config *c, const char *key, int value);

int af_config_has(const af_config *c, const char *key);
const char *af_config_str(const af_config *c, const char *key,
                          const char *def);
double af_config_num(const af_config *c, const char *key, double def);
int64_t af_config_int(const af_config *c, const char *key, int64_t def);
int af_config_bool(const af_config *c, const char *key, int def);
uint32_t af_config_count(const af_config *c);
const char *af_config_key(const af_config *c, uint32_t i);

#endif
