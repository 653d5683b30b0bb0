/* reprise merge: several traces into one, in timestamp order. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/sketch.h"
#include "tools/trace_tool.h"

#define MAX_INPUTS 255        /* the input number takes the top 8 bits of
                                 a connection id */
#define ID_BITS 56
#define ID_MASK ((1ull << ID_BITS) - 1)

static const char usage_line[] =
    "usage: reprise merge -o OUT TRACE TRACE... [--level N]";

static void usage(FILE *out)
{
    fprintf(out, "%s\n\n"
            "Writes the requests of every TRACE (up to %d) to a new trace OUT (mode 0600),\n"
            "in timestamp order; requests with equal timestamps keep the order of the\n"
            "inputs. Connection ids stay distinct: input k (from 1) gets k in the top 8\n"
            "bits of each id, over the input's own id. Ids of 2^56 or more (capture\n"
            "numbers connections from 1) have their low 56 bits hashed, which keeps\n"
            "them distinct unless two collide (odds about n^2 / 2^57 for n such ids).\n\n"
            "OUT's metadata comes from the first TRACE, with the sources of all of\n"
            "them and this command added to its history.\n\n"
            "  -o, --output OUT  trace to create\n"
            "      --level N     zstd level of OUT, 1 to 19 (default 3)\n",
            usage_line, MAX_INPUTS);
}

struct input {
    const char *path;
    rp_trace_reader *r;
    rp_record rec;            /* current record, valid while has_rec */
    int has_rec;
};

struct merge {
    struct input *in;
    size_t n;
    size_t *heap;             /* inputs with a record, min-heap by ts */
    size_t heap_len;
};

static int before(const struct merge *m, size_t a, size_t b)
{
    const struct input *x = &m->in[a], *y = &m->in[b];
    return x->rec.ts_ns < y->rec.ts_ns || (x->rec.ts_ns == y->rec.ts_ns && a < b);
}

static void sift_down(struct merge *m, size_t pos)
{
    for (;;) {
        size_t l = 2 * pos + 1, r = l + 1, s = pos;
        if (l < m->heap_len && before(m, m->heap[l], m->heap[s]))
            s = l;
        if (r < m->heap_len && before(m, m->heap[r], m->heap[s]))
            s = r;
        if (s == pos)
            return;
        size_t t = m->heap[s];
        m->heap[s] = m->heap[pos];
        m->heap[pos] = t;
        pos = s;
    }
}

/* Reads the next record of input i. Returns 0, or -1 on a read error. */
static int advance(struct merge *m, size_t i)
{
    int rc = rp_tool_next("merge", m->in[i].r, &m->in[i].rec);
    m->in[i].has_rec = rc == 0;
    return rc < 0 ? -1 : 0;
}

static uint64_t merged_conn_id(size_t input, uint64_t id)
{
    uint64_t low = id <= ID_MASK ? id : rp_mix64(id) & ID_MASK;
    return ((uint64_t)(input + 1) << ID_BITS) | low;
}

static int run(struct merge *m, rp_trace_writer *w, uint64_t *written)
{
    for (size_t i = 0; i < m->n; i++) {
        if (advance(m, i) != 0)
            return -1;
        if (m->in[i].has_rec)
            m->heap[m->heap_len++] = i;
    }
    for (size_t k = m->heap_len; k-- > 0;)
        sift_down(m, k);

    while (m->heap_len > 0) {
        size_t i = m->heap[0];
        rp_record rec = m->in[i].rec;
        rec.conn_id = merged_conn_id(i, rec.conn_id);
        if (rp_tool_write("merge", w, &rec) != 0)
            return -1;
        (*written)++;
        if (advance(m, i) != 0)
            return -1;
        if (!m->in[i].has_rec)
            m->heap[0] = m->heap[--m->heap_len];
        sift_down(m, 0);
    }
    return 0;
}

/* Appends text to buf (cap bytes), with sep before it unless buf is
 * empty; text that does not fit is cut. */
static void append(char *buf, size_t cap, const char *sep, const char *text)
{
    size_t n = strlen(buf);
    const char *parts[2] = { n ? sep : "", text };
    for (int k = 0; k < 2; k++) {
        size_t len = strlen(parts[k]);
        if (len > cap - 1 - n)
            len = cap - 1 - n;
        memcpy(buf + n, parts[k], len);
        n += len;
    }
    buf[n] = '\0';
}

/* The merged metadata: the first input's, with every input's source and
 * redaction rules listed. */
static void merged_info(const struct merge *m, rp_trace_info *out)
{
    *out = *rp_trace_reader_info(m->in[0].r);
    out->source[0] = '\0';
    out->redaction[0] = '\0';
    int same_sample = 1;
    for (size_t i = 0; i < m->n; i++) {
        const rp_trace_info *info = rp_trace_reader_info(m->in[i].r);
        append(out->source, sizeof out->source, ", ",
               info->source[0] ? info->source : m->in[i].path);
        if (info->redaction[0] && strstr(out->redaction, info->redaction) == NULL)
            append(out->redaction, sizeof out->redaction, "; ", info->redaction);
        same_sample &= strcmp(info->sample, out->sample) == 0;
        if (info->link_type != out->link_type)
            out->link_type = 0;
        if (info->snaplen > out->snaplen)
            out->snaplen = info->snaplen;
    }
    if (!same_sample)
        snprintf(out->sample, sizeof out->sample, "differs by input");
}

static int parse_args(int argc, char **argv, struct merge *m, const char **output, int *level)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0 || strcmp(a, "--level") == 0) &&
            i + 1 == argc) {
            fprintf(stderr, "reprise merge: missing value after %s\n%s\n", a, usage_line);
            return -1;
        }
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            *output = argv[++i];
        } else if (strcmp(a, "--level") == 0) {
            if (rp_tool_parse_level(argv[++i], level) != 0) {
                fprintf(stderr, "reprise merge: invalid --level '%s': expected 1 to 19\n%s\n",
                        argv[i], usage_line);
                return -1;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "reprise merge: unknown option '%s'\n%s\n", a, usage_line);
            return -1;
        } else if (m->n == MAX_INPUTS) {
            fprintf(stderr, "reprise merge: too many traces: at most %d; merge them in "
                    "groups, then merge the results\n", MAX_INPUTS);
            return -1;
        } else {
            m->in[m->n++].path = a;
        }
    }
    if (*output == NULL || m->n < 2) {
        fprintf(stderr, "reprise merge: %s\n%s\n",
                *output == NULL ? "missing -o OUT" : "give at least two traces", usage_line);
        return -1;
    }
    for (size_t i = 0; i < m->n; i++) {
        if (rp_tool_same_file(m->in[i].path, *output)) {
            fprintf(stderr, "reprise merge: the output %s is one of the input traces: "
                    "write to another file\n", *output);
            return -1;
        }
    }
    return 0;
}

static int open_inputs(struct merge *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (rp_tool_open("merge", m->in[i].path, &m->in[i].r) != 0)
            return -1;
    return 0;
}

int cmd_merge(int argc, char **argv)
{
    static struct input in[MAX_INPUTS];
    static size_t heap[MAX_INPUTS];
    memset(in, 0, sizeof in);
    struct merge m = { in, 0, heap, 0 };
    const char *output = NULL;
    int level = 0;
    int rc = parse_args(argc, argv, &m, &output, &level);
    if (rc != 0)
        return rc > 0 ? RP_EXIT_OK : RP_EXIT_USAGE;

    rp_trace_writer *w = NULL;
    uint64_t written = 0;
    rc = open_inputs(&m);
    if (rc == 0) {
        static rp_trace_info info;
        merged_info(&m, &info);
        char *line = rp_tool_history_line("merge", argc, argv);
        rc = rp_tool_writer_open("merge", output, &info, line, level, 0, &w);
        free(line);
    }
    if (rc == 0)
        rc = run(&m, w, &written);
    if (w != NULL && rp_tool_writer_close("merge", w) != 0)
        rc = -1;
    for (size_t i = 0; i < m.n; i++)
        rp_trace_reader_close(m.in[i].r);
    if (rc != 0) {
        if (w != NULL)
            remove(output);
        return RP_EXIT_FAIL;
    }
    fprintf(stderr, "reprise merge: wrote %" PRIu64 " requests from %zu traces to %s\n",
            written, m.n, output);
    return RP_EXIT_OK;
}
