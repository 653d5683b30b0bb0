/* reprise repair: a complete index for a trace whose writer was killed,
 * or whose index or blocks are damaged. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/trace_tool.h"

static const char usage_line[] = "usage: reprise repair TRACE [-o OUT]";

static void usage(FILE *out)
{
    fprintf(out, "%s\n\n"
            "Copies every valid block of TRACE, byte for byte, to a new trace with a\n"
            "complete index, leaving out damaged and truncated blocks (each is reported).\n"
            "Without -o, the repaired trace replaces TRACE once it is complete; TRACE\n"
            "is left as it was if repair fails.\n\n"
            "  -o, --output OUT  write the repaired trace to OUT (mode 0600) instead\n",
            usage_line);
}

static void on_damage(void *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "reprise repair: warning: %s; left out\n", message);
}

static int parse_args(int argc, char **argv, const char **path, const char **output)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 == argc) {
                fprintf(stderr, "reprise repair: missing value after %s\n%s\n", a, usage_line);
                return -1;
            }
            *output = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "reprise repair: unknown option '%s'\n%s\n", a, usage_line);
            return -1;
        } else if (*path != NULL) {
            fprintf(stderr, "reprise repair: one trace at a time; unexpected '%s'\n%s\n", a,
                    usage_line);
            return -1;
        } else {
            *path = a;
        }
    }
    if (*path == NULL) {
        fprintf(stderr, "reprise repair: missing TRACE\n%s\n", usage_line);
        return -1;
    }
    return 0;
}

static void report(const char *in, const char *out, const rp_trace_repair_stats *st)
{
    fprintf(stderr, "reprise repair: %s: kept %" PRIu64 " request%s in %" PRIu64 " block%s",
            in, st->records, st->records == 1 ? "" : "s", st->blocks,
            st->blocks == 1 ? "" : "s");
    if (st->bad_blocks > 0)
        fprintf(stderr, "; left out %" PRIu64 " damaged or truncated block%s (%" PRIu64
                " records known lost)", st->bad_blocks, st->bad_blocks == 1 ? "" : "s",
                st->lost_records);
    if (st->header_damaged)
        fprintf(stderr, "; its header is damaged, so its metadata is lost");
    fprintf(stderr, "; %s; wrote %s with a new index\n",
            st->had_index ? "its index was valid" : "its index is damaged or missing", out);
}

int cmd_repair(int argc, char **argv)
{
    const char *path = NULL, *output = NULL;
    int rc = parse_args(argc, argv, &path, &output);
    if (rc != 0)
        return rc > 0 ? RP_EXIT_OK : RP_EXIT_USAGE;

    /* In place: write next to the trace, then rename over it, so that a
     * failure or a crash leaves the original untouched. */
    char *tmp = NULL;
    if (output == NULL) {
        size_t n = strlen(path) + 16;
        tmp = malloc(n);
        if (tmp == NULL) {
            fprintf(stderr, "reprise repair: out of memory\n");
            return RP_EXIT_FAIL;
        }
        snprintf(tmp, n, "%s.repair-tmp", path);
    }

    char *line = rp_tool_history_line("repair", argc, argv);
    rp_trace_repair_opts opts = { .history = line, .on_damage = on_damage };
    rp_trace_repair_stats st;
    char err[512];
    rc = rp_trace_repair(path, tmp ? tmp : output, &opts, &st, err, sizeof err);
    free(line);
    if (rc == 0 && tmp != NULL && rename(tmp, path) != 0) {
        snprintf(err, sizeof err, "cannot replace %s with %s: %s", path, tmp, strerror(errno));
        remove(tmp);
        rc = -1;
    }
    free(tmp);
    if (rc != 0) {
        fprintf(stderr, "reprise repair: %s\n", err);
        return rc == RP_TRACE_EINVAL ? RP_EXIT_USAGE : RP_EXIT_FAIL;
    }
    report(path, output ? output : path, &st);
    return RP_EXIT_OK;
}
