/* Shared helpers for the command layer: the verbs, option parsing and the
 * conversion of library error codes into messages. Only code under tools/
 * prints to the user or exits. */
#ifndef RP_CLI_H
#define RP_CLI_H

#include <stdint.h>

#define RP_VERSION_STRING "reprise 0.1.0"

/* Exit codes shared by every verb. */
enum {
    RP_EXIT_OK = 0,
    RP_EXIT_FAIL = 1,     /* the work failed (unreadable input, write error) */
    RP_EXIT_USAGE = 2     /* a bad option or argument */
};

int cmd_capture(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_slice(int argc, char **argv);
int cmd_filter(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_merge_reports(int argc, char **argv);
int cmd_ramp(int argc, char **argv);

/* Parses a duration such as "250ms", "5s", "2m", "1h", "1500us" or "0" into
 * nanoseconds. A bare number means seconds. Returns 0, or -1 when text is
 * not a valid non-negative duration. */
int rp_cli_parse_duration(const char *text, uint64_t *out_ns);

/* Parses a non-negative decimal number (e.g. "2", "0.5"). Returns 0 or -1. */
int rp_cli_parse_double(const char *text, double *out);

/* Nonzero when stderr is a terminal, so progress output is wanted. */
int rp_cli_is_tty(void);

#endif
