/* The capacity report as text: the terminal's step table and summary, and
 * the Markdown report. Both draw the steps as a text chart of achieved
 * rate, p95 and error rate, so the capacity curve shows without a
 * browser. */
#include "formats/capacity.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define BAR_WIDTH 24              /* characters of the longest bar */

void rp_capacity_print_header(FILE *f, int unit)
{
    fprintf(f, "%-5s %-10s %10s %10s %9s %9s %9s %8s %6s %s\n", "step",
            unit == RP_CAPACITY_USERS ? "users" : "pace", "asked/s", "achieved/s", "p50 ms",
            "p95 ms", "p99 ms", "errors", "conns", "note");
}

static void step_note(const rp_capacity_step *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", s->saturated ? "generator saturated" : "",
             s->saturated && s->signal != RP_CAPACITY_NONE ? " " : "",
             s->signal != RP_CAPACITY_NONE ? "<- knee" : "");
}

void rp_capacity_print_step(FILE *f, const rp_capacity *c, size_t i)
{
    const rp_capacity_step *s = &c->steps[i];
    char pace[32], asked[32], note[64];
    rp_capacity_format_pace(c->unit, s->pace, pace, sizeof pace);
    if (c->unit == RP_CAPACITY_USERS)
        snprintf(asked, sizeof asked, "-");
    else
        snprintf(asked, sizeof asked, "%.1f", s->asked_rate);
    step_note(s, note, sizeof note);
    fprintf(f, "%-5zu %-10s %10s %10.1f %9.2f %9.2f %9.2f %7.2f%% %6" PRIu64 "%s%s\n", i + 1,
            pace, asked, s->achieved_rate, s->p50_ms, s->p95_ms, s->p99_ms,
            s->error_rate * 100.0, s->connections, note[0] ? " " : "", note);
    fflush(f);
}

/* ---- the summary lines, shared by the terminal and Markdown ---- */

static void capacity_line(FILE *f, const rp_capacity *c)
{
    char pace[32];
    if (c->stable < 0 && c->knee < 0) {
        fprintf(f, "capacity: not found, the ramp was interrupted before its first step "
                "ended\n");
        return;
    }
    if (c->stable < 0) {
        fprintf(f, "capacity: not found, the first step is already past the knee; lower "
                "the first step\n");
        return;
    }
    const rp_capacity_step *s = &c->steps[c->stable];
    const char *note = "";
    if (c->knee < 0 && c->stopped == RP_CAPACITY_STOPPED_STEPS)
        note = " (interrupted before a knee: the capacity is at least this)";
    else if (c->knee < 0)
        note = " (no knee up to the last step: the capacity is at least this)";
    rp_capacity_format_pace(c->unit, s->pace, pace, sizeof pace);
    fprintf(f, "capacity: %.1f requests/s at %s, %" PRIu64 " %s%s\n", s->achieved_rate, pace,
            s->connections, c->unit == RP_CAPACITY_USERS ? "requests in flight at most"
                                                         : "connections in use", note);
}

static void stopped_line(FILE *f, const rp_capacity *c)
{
    if (c->stopped == RP_CAPACITY_STOPPED_STEPS)
        fprintf(f, "interrupted: the ramp was stopped during step %zu; the steps after it did "
                "not run\n", c->step_count + 1);
    else if (c->stopped == RP_CAPACITY_STOPPED_RECOVERY)
        fprintf(f, "interrupted: the ramp was stopped during the recovery step, so recovery "
                "is not reported\n");
    else if (c->stopped == RP_CAPACITY_STOPPED_SOAK)
        fprintf(f, "interrupted: the ramp was stopped during the soak, which is judged on "
                "its first %.0f s only\n", c->soak.duration_s);
}

static void knee_line(FILE *f, const rp_capacity *c)
{
    if (c->knee < 0)
        return;
    const rp_capacity_step *s = &c->steps[c->knee];
    char pace[32];
    rp_capacity_format_pace(c->unit, s->pace, pace, sizeof pace);
    fprintf(f, "knee: step %ld (%s), signal %s", c->knee + 1, pace,
            rp_capacity_signal_name(s->signal));
    if (s->signal == RP_CAPACITY_LATENCY && c->step_count > 0)
        fprintf(f, ": p95 %.2f ms against %.2f ms at the first step", s->p95_ms,
                c->steps[0].p95_ms);
    else if (s->signal == RP_CAPACITY_ERRORS && s->responses == 0)
        fprintf(f, ": all %" PRIu64 " requests failed without a response (connection errors "
                "or timeouts)", s->requests);
    else if (s->signal == RP_CAPACITY_ERRORS)
        fprintf(f, ": %.2f%% failed, above %.2f%%", 100.0 * s->error_rate,
                100.0 * c->max_error_rate);
    else if (s->signal == RP_CAPACITY_GENERATOR)
        fprintf(f, ": the load generator fell behind its schedule, so this is the "
                "generator's limit, not the target's");
    fputc('\n', f);
}

static void recovery_line(FILE *f, const rp_capacity *c)
{
    const rp_capacity_recovery *r = &c->recovery;
    if (!r->ran)
        return;
    char pace[32];
    rp_capacity_format_pace(c->unit, r->pace, pace, sizeof pace);
    fprintf(f, "recovery: %.1f s more at the knee pace, then down to %s in the same run: ",
            r->overload_s, pace);
    if (r->recovered)
        fprintf(f, "p95 came back within 20%% of the first step's (%.2f ms) within %.0f s of "
                "the drop\n", r->threshold_p95_ms, r->recovered_after_s);
    else
        fprintf(f, "p95 did not come back within 20%% of the first step's (%.2f ms) during "
                "the hold: possible leak or lasting degradation\n", r->threshold_p95_ms);
}

static void soak_line(FILE *f, const rp_capacity *c)
{
    const rp_capacity_soak *s = &c->soak;
    if (!s->ran)
        return;
    char pace[32];
    rp_capacity_format_pace(c->unit, s->pace, pace, sizeof pace);
    fprintf(f, "soak: %s for %.0f s, %.1f requests/s, errors %.2f%%", pace, s->duration_s,
            s->achieved_rate, 100.0 * s->error_rate);
    if (s->first_p95_ms >= 0 && s->last_p95_ms >= 0)
        fprintf(f, ", median p95 per second %.2f ms in the first third and %.2f ms in the "
                "last", s->first_p95_ms, s->last_p95_ms);
    if (!s->degrading)
        fprintf(f, ": steady\n");
    else if (s->error_rate > c->max_error_rate)
        fprintf(f, ": degrading, errors above %.2f%% while the pace held\n",
                100.0 * c->max_error_rate);
    else
        fprintf(f, ": degrading, p95 rose by more than 20%% while the pace held\n");
}

/* ---- the text chart ---- */

/* Appends a bar of value against top, BAR_WIDTH characters wide. */
static size_t bar(char *line, size_t used, size_t len, double value, double top)
{
    int n = top > 0 ? (int)(value / top * BAR_WIDTH + 0.5) : 0;
    if (n == 0 && value > 0)
        n = 1;
    for (int i = 0; i < BAR_WIDTH && used + 1 < len; i++)
        line[used++] = i < n ? '#' : ' ';
    line[used] = '\0';
    return used;
}

static size_t append(char *line, size_t used, size_t len, const char *text)
{
    int n = snprintf(line + used, len - used, "%s", text);
    return n < 0 ? used : used + (size_t)n < len ? used + (size_t)n : len - 1;
}

/* One row per step: achieved rate, p95 and error rate as bars, each
 * scaled to its largest value (errors to at least twice the limit). */
static void chart(FILE *f, const rp_capacity *c)
{
    double top_rate = 0, top_p95 = 0, top_err = 2 * c->max_error_rate;
    for (size_t i = 0; i < c->step_count; i++) {
        const rp_capacity_step *s = &c->steps[i];
        top_rate = s->achieved_rate > top_rate ? s->achieved_rate : top_rate;
        top_p95 = s->p95_ms > top_p95 ? s->p95_ms : top_p95;
        top_err = s->error_rate > top_err ? s->error_rate : top_err;
    }
    fprintf(f, "%-11s %-*s   %-*s   %s\n", "pace", BAR_WIDTH + 9, "achieved requests/s",
            BAR_WIDTH + 10, "     p95 ms", " errors");
    for (size_t i = 0; i < c->step_count; i++) {
        const rp_capacity_step *s = &c->steps[i];
        char pace[32], num[64], line[256];
        size_t used = 0;
        rp_capacity_format_pace(c->unit, s->pace, pace, sizeof pace);
        snprintf(num, sizeof num, "%-11s %8.1f ", pace, s->achieved_rate);
        used = append(line, used, sizeof line, num);
        used = bar(line, used, sizeof line, s->achieved_rate, top_rate);
        snprintf(num, sizeof num, "   %9.2f ", s->p95_ms);
        used = append(line, used, sizeof line, num);
        used = bar(line, used, sizeof line, s->p95_ms, top_p95);
        snprintf(num, sizeof num, "   %5.2f%% ", 100.0 * s->error_rate);
        used = append(line, used, sizeof line, num);
        used = bar(line, used, sizeof line, s->error_rate, top_err);
        if ((long)i == c->knee)
            used = append(line, used, sizeof line, " <- knee");
        while (used > 0 && line[used - 1] == ' ')
            line[--used] = '\0';
        fprintf(f, "%s\n", line);
    }
}

void rp_capacity_print_summary(FILE *f, const rp_capacity *c)
{
    if (c->step_count > 1) {
        fputc('\n', f);
        chart(f, c);
    }
    fputc('\n', f);
    capacity_line(f, c);
    knee_line(f, c);
    recovery_line(f, c);
    soak_line(f, c);
    stopped_line(f, c);
}

/* ---- Markdown ---- */

static void markdown_setup(FILE *f, const rp_capacity *c)
{
    fprintf(f, "# Capacity report\n\n");
    fprintf(f, "- Trace: `%s`\n- Target: `%s`\n", c->trace, c->target);
    fprintf(f, "- Steps in %s, each held %.0f s, the first %.0f%% of it not measured\n",
            rp_capacity_unit_name(c->unit), c->hold_s, 100.0 * c->warmup);
    fprintf(f, "- Knee: p95 at %g times the first step's, errors above %.2f%%, or the "
            "generator falling behind\n\n", c->knee_factor, 100.0 * c->max_error_rate);
}

static void markdown_steps(FILE *f, const rp_capacity *c)
{
    fprintf(f, "## Steps\n\n| step | %s | asked/s | achieved/s | p50 ms | p95 ms | p99 ms | "
            "errors | conns | note |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
            c->unit == RP_CAPACITY_USERS ? "users" : "pace");
    for (size_t i = 0; i < c->step_count; i++) {
        const rp_capacity_step *s = &c->steps[i];
        char pace[32], note[64];
        rp_capacity_format_pace(c->unit, s->pace, pace, sizeof pace);
        step_note(s, note, sizeof note);
        if (s->signal != RP_CAPACITY_NONE)
            snprintf(note, sizeof note, "knee (%s)", rp_capacity_signal_name(s->signal));
        fprintf(f, "| %zu | %s | ", i + 1, pace);
        if (c->unit == RP_CAPACITY_USERS)
            fprintf(f, "- ");
        else
            fprintf(f, "%.1f ", s->asked_rate);
        fprintf(f, "| %.1f | %.2f | %.2f | %.2f | %.2f%% | %" PRIu64 " | %s |\n",
                s->achieved_rate, s->p50_ms, s->p95_ms, s->p99_ms, 100.0 * s->error_rate,
                s->connections, note);
    }
}

int rp_capacity_write_markdown(const rp_capacity *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    markdown_setup(f, c);
    fprintf(f, "## Result\n\n```text\n");
    capacity_line(f, c);
    knee_line(f, c);
    recovery_line(f, c);
    soak_line(f, c);
    stopped_line(f, c);
    fprintf(f, "```\n\n");
    markdown_steps(f, c);
    fprintf(f, "\n## Capacity curve\n\nAchieved rate, p95 and error rate at each step.\n\n"
            "```text\n");
    chart(f, c);
    fprintf(f, "```\n");
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}
