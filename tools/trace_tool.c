#include "tools/trace_tool.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/import.h"
#include "tools/cli.h"

int rp_tool_open(const char *verb, const char *path, rp_trace_reader **r)
{
    char err[512];
    if (rp_trace_reader_open(r, path, err, sizeof err) != 0) {
        fprintf(stderr, "reprise %s: %s\n", verb, err);
        return -1;
    }
    const rp_trace_info *info = rp_trace_reader_info(*r);
    if (info->header_damaged)
        fprintf(stderr, "reprise %s: warning: %s: the trace header is damaged, so its "
                "capture metadata is lost; the records are read anyway\n", verb, path);
    if (info->index_damaged)
        fprintf(stderr, "reprise %s: warning: %s: the index is damaged; the blocks are "
                "read in file order instead ('reprise repair' rewrites it)\n", verb, path);
    return 0;
}

int rp_tool_next(const char *verb, rp_trace_reader *r, rp_record *rec)
{
    char err[512];
    for (;;) {
        int rc = rp_trace_reader_next(r, rec, err, sizeof err);
        if (rc == 0)
            return 0;
        if (rc == RP_TRACE_EOF)
            return 1;
        if (rc == RP_TRACE_ECORRUPT) {
            fprintf(stderr, "reprise %s: warning: %s\n", verb, err);
            continue;
        }
        fprintf(stderr, "reprise %s: %s\n", verb, err);
        return -1;
    }
}

char *rp_tool_history_line(const char *verb, int argc, char **argv)
{
    size_t len = strlen(RP_VERSION_STRING) + strlen(verb) + 4;
    for (int i = 1; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *line = malloc(len);
    if (line == NULL)
        return NULL;
    int n = snprintf(line, len, "%s: %s", RP_VERSION_STRING, verb);
    for (int i = 1; i < argc; i++)
        n += snprintf(line + n, len - (size_t)n, " %s", argv[i]);
    /* One line per operation: a newline inside an argument would start
     * another. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return line;
}

/* Joins old history and the new line, dropping the oldest lines when the
 * result would not fit in what a reader keeps (rp_trace_info.history). */
static char *join_history(const char *old, const char *line)
{
    size_t cap = sizeof ((rp_trace_info *)0)->history;
    size_t room = cap - 1;
    size_t n_line = strlen(line) < room ? strlen(line) : room;
    const char *keep = old ? old : "";
    while (keep[0] != '\0' && strlen(keep) + 1 + n_line > room) {
        const char *nl = strchr(keep, '\n');
        keep = nl ? nl + 1 : "";
    }
    char *h = malloc(cap);
    if (h == NULL)
        return NULL;
    snprintf(h, cap, "%s%s%.*s", keep, keep[0] ? "\n" : "", (int)n_line, line);
    return h;
}

int rp_tool_writer_open(const char *verb, const char *out_path, const rp_trace_info *src,
                        const char *line, int zstd_level, uint32_t block_records,
                        rp_trace_writer **w)
{
    char *history = join_history(src ? src->history : NULL, line ? line : "");
    if (history == NULL) {
        fprintf(stderr, "reprise %s: out of memory\n", verb);
        return -1;
    }
    rp_trace_meta meta = { .tool = RP_VERSION_STRING, .history = history };
    if (src != NULL) {
        meta.source = src->source;
        meta.filter = src->filter;
        meta.tool = src->tool[0] ? src->tool : RP_VERSION_STRING;
        meta.link_type = src->link_type;
        meta.snaplen = src->snaplen;
        meta.redaction = src->redaction;
        meta.sample = src->sample;
    }
    rp_trace_writer_opts opts = { .zstd_level = zstd_level, .block_records = block_records };
    char err[512];
    int rc = rp_trace_writer_open(w, out_path, &meta, &opts, err, sizeof err);
    free(history);
    if (rc != 0) {
        fprintf(stderr, "reprise %s: %s\n", verb, err);
        return -1;
    }
    return 0;
}

int rp_tool_write(const char *verb, rp_trace_writer *w, const rp_record *rec)
{
    char err[512];
    if (rp_trace_writer_add(w, rec, err, sizeof err) != 0) {
        fprintf(stderr, "reprise %s: %s\n", verb, err);
        return -1;
    }
    return 0;
}

int rp_tool_writer_close(const char *verb, rp_trace_writer *w)
{
    char err[512];
    if (rp_trace_writer_close(w, err, sizeof err) != 0) {
        fprintf(stderr, "reprise %s: %s\n", verb, err);
        return -1;
    }
    return 0;
}

int rp_tool_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int rp_tool_parse_level(const char *text, int *level)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < 1 || v > 19)
        return -1;
    *level = (int)v;
    return 0;
}

int rp_tool_parse_time(const char *text, uint64_t first_ts, uint64_t *ns)
{
    uint64_t d;
    if (rp_cli_parse_duration(text, &d) == 0) {
        *ns = first_ts + d;
        return 0;
    }
    return rp_parse_rfc3339(text, strlen(text), ns);
}
