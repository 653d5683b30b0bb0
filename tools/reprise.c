/* The reprise command: dispatches to one verb per subcommand. */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"

struct verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct verb verbs[] = {
    { "capture", cmd_capture, "read HTTP/1.x requests from a capture file or a live interface into a trace" },
    { "inspect", cmd_inspect, "show what a trace contains" },
    { "replay",  cmd_replay,  "send a trace's requests to a target at the captured pace" },
    { "export",  cmd_export,  "write a trace's requests as JSON Lines, HAR, curl, GoReplay or raw HTTP" },
    { "import",  cmd_import,  "make a trace from JSON Lines, HAR, GoReplay or an access log" },
    { "slice",   cmd_slice,   "keep the requests between two times" },
    { "filter",  cmd_filter,  "keep the requests that match a method, path, host or status" },
    { "merge",   cmd_merge,   "merge traces into one, in timestamp order" },
    { "sample",  cmd_sample,  "keep a share of the connections" },
    { "repair",  cmd_repair,  "rewrite the index of an interrupted or damaged trace" },
    { "report",  cmd_report,  "show a run report, check thresholds, write HTML, CSV or HdrHistogram logs" },
    { "compare", cmd_compare, "compare two run reports and flag regressions" },
    { "merge-reports", cmd_merge_reports, "merge run reports (shards) with exact histograms" },
    { "ramp",    cmd_ramp,    "step the pace up to find the target's capacity and knee" },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: reprise VERB [options]\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(out, "  %-13s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(out, "\n'reprise VERB --help' lists a verb's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("%s\n", RP_VERSION_STRING);
        return 0;
    }

    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(argv[1], verbs[i].name) == 0)
            return verbs[i].run(argc - 1, argv + 1);

    fprintf(stderr, "reprise: unknown verb '%s'; run 'reprise --help' for the list\n", argv[1]);
    return 2;
}
