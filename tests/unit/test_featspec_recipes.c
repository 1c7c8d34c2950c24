/*
 * test_featspec_recipes.c -- the five anchor recipes written as feature
 * specs (the files in pipelines/features/recipes) encode every row exactly
 * as the anchors' executable recipe does: `recipes.py --dump` output is
 * compared line by line (label and global indices of every field) with
 * ours.
 *
 * Needs /usr/bin/python3 with numpy and scikit-learn (the anchors' own
 * requirements) and the shared anchors and data folders; skipped with a
 * message otherwise.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "learn/dataset.h"
#include "learn/featspec.h"

#define PY "/usr/bin/python3"

static char anchors[1024], data[1024], recipes[1024], tmpdir[64];

struct job {
    const char *ds;
    int part;
    uint32_t min_count;
};

/* Each data set's test split at its chosen min_count (it depends on the
 * whole train vocabulary), plus valid splits at other min_counts. */
static const struct job jobs[] = {
    {"criteo", AF_PART_TEST, 5},   {"avazu", AF_PART_TEST, 2},
    {"movielens", AF_PART_TEST, 2}, {"talkingdata", AF_PART_TEST, 2},
    {"ipinyou", AF_PART_TEST, 2},  {"criteo", AF_PART_VALID, 1},
    {"avazu", AF_PART_VALID, 5},
};

static int
have_reference(void)
{
    const char *shared = getenv("AF_SHARED_DIR");
    const char *src = getenv("AF_SOURCE_DIR");
    snprintf(anchors, sizeof anchors, "%s/anchors/recipes.py", shared ? shared : "../shared");
    snprintf(data, sizeof data, "%s/data", shared ? shared : "../shared");
    snprintf(recipes, sizeof recipes, "%s/pipelines/features/recipes", src ? src : ".");
    if (access(PY, X_OK) != 0 || access(anchors, R_OK) != 0)
        return 0;
    return system(PY " -c 'import numpy, sklearn' > /dev/null 2>&1") == 0;
}

/* Our dump line of row r (the recipes.py format, without the newline). */
static void
our_line(const struct af_featspec *s, const struct af_examples *e, uint32_t r,
         char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "%d", (int)e->label[r]);
    for (uint32_t k = 0; k < s->n_cat && len < n; k++) {
        const uint32_t *g;
        const float *v;
        uint32_t m = af_examples_entries(e, r, k, &g, &v);
        len += (size_t)snprintf(buf + len, n - len, "\t");
        for (uint32_t i = 0; i < m && len < n; i++)
            len += (size_t)snprintf(buf + len, n - len, "%s%u", i ? "," : "", g[i]);
    }
}

/* One Python run writes every reference dump (recipes.dump, exactly what
 * `recipes.py --dump` prints) into tmpdir/<i>.tsv: the imports and data
 * loading are paid once. */
static void
reference_dumps(void)
{
    char dir[1024], script[8192];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/af_recipes_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(dir, sizeof dir, "%s", anchors);
    *strrchr(dir, '/') = '\0';
    size_t n = (size_t)snprintf(script, sizeof script,
        "import sys\nsys.path.insert(0, '%s')\nimport recipes as R\n"
        "loaded = {}\n"
        "def get(name):\n"
        "    if name not in loaded:\n"
        "        loaded[name] = R.load(name)\n"
        "    return loaded[name]\n", dir);
    for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++)
        n += (size_t)snprintf(script + n, sizeof script - n,
            "with open('%s/%zu.tsv', 'w') as f:\n"
            "    R.dump(get('%s'), '%s', %u, out=f)\n", tmpdir, i, jobs[i].ds,
            af_part_names[jobs[i].part], jobs[i].min_count);
    char path[128];
    snprintf(path, sizeof path, "%s/dump.py", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(script, f);
    fclose(f);
    char cmd[256];
    snprintf(cmd, sizeof cmd, PY " %s", path);
    assert_int_equal(system(cmd), 0);
}

static void
compare(size_t job)
{
    const char *ds = jobs[job].ds;
    int part = jobs[job].part;
    uint32_t min_count = jobs[job].min_count;
    char path[1200], err[2048], ref_path[128];
    snprintf(path, sizeof path, "%s/%s.lua", recipes, ds);
    struct af_featspec *s = af_featspec_load(path, err, sizeof err);
    if (s == NULL)
        fail_msg("%s", err);
    assert_int_equal(af_featspec_set_min_count(s, min_count), 0);
    struct af_dataset d;
    struct af_dataset_opts o = {.root = data};
    if (af_dataset_load(s, &o, &d, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(d.rejected, 0);
    snprintf(ref_path, sizeof ref_path, "%s/%zu.tsv", tmpdir, job);
    FILE *p = fopen(ref_path, "r");
    assert_non_null(p);
    char *ref = malloc(1 << 16), *ours = malloc(1 << 16);
    uint32_t row = 0, bad = 0;
    int header = 1;
    const struct af_examples *e = &d.part[part];
    while (fgets(ref, 1 << 16, p)) {
        ref[strcspn(ref, "\n")] = '\0';
        if (header) {
            header = 0;
            continue;
        }
        if (row >= e->n) {
            bad++;
            break;
        }
        our_line(s, e, row, ours, 1 << 16);
        if (strcmp(ref, ours) != 0 && bad++ == 0)
            print_error("%s %s row %u differs:\n  recipes.py: %.200s\n  adfunnel:   "
                        "%.200s\n", ds, af_part_names[part], row + 1, ref, ours);
        row++;
    }
    fclose(p);
    unlink(ref_path);
    print_message("%-12s %-5s min_count %u: %u rows compared, %u differ\n", ds,
                  af_part_names[part], min_count, row, bad);
    free(ref);
    free(ours);
    assert_int_equal(bad, 0);
    assert_int_equal(row, e->n);
    af_dataset_free(&d);
    af_featspec_free(s);
}

static void
test_recipes_match_reference(void **state)
{
    (void)state;
    if (!have_reference()) {
        print_message("SKIPPED: needs " PY " with numpy and scikit-learn and %s "
                      "(the anchors' requirements)\n", anchors);
        skip();
    }
    reference_dumps();
    for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++)
        compare(i);
    char path[128];
    snprintf(path, sizeof path, "%s/dump.py", tmpdir);
    unlink(path);
    rmdir(tmpdir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipes_match_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
