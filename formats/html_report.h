/* Self-contained HTML reports: one file with inline CSS and inline SVG
 * charts, no script and no external resource, so it opens offline and
 * prints as it shows. The run report has a summary, the latency
 * percentile curve, latency percentiles, rates and errors over time, and
 * the endpoint and status class tables. The chart and table helpers also
 * serve `reprise compare --html`.
 *
 * Every chart is an <svg> with data-chart set to its id; every line in it a
 * <polyline> with data-series set to its name and data-points to its number
 * of points, so tests can check what was drawn.
 */
#ifndef RP_HTML_REPORT_H
#define RP_HTML_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "replay/results.h"

typedef struct rp_html_series {
    const char *name;
    const char *color;        /* CSS color */
    const double *x, *y;
    size_t count;
    int markers;              /* also draw a dot at each point */
} rp_html_series;

enum rp_html_x_axis {
    RP_HTML_X_LINEAR,
    RP_HTML_X_PERCENTILE      /* x holds percentiles (0 to 100) drawn on a
                                 "nines" scale: 0, 90, 99, 99.9... evenly */
};

typedef struct rp_html_chart {
    const char *id;           /* data-chart value */
    const char *title;
    const char *x_label, *y_label;
    int x_axis;               /* enum rp_html_x_axis */
    const rp_html_series *series;
    size_t series_count;
} rp_html_chart;

/* Writes the document head (title escaped) and opens the body. */
void rp_html_begin(FILE *f, const char *title);

/* Closes the body and document, then the file. body_failed is nonzero
 * when writing the body ran out of memory. Returns 0, or -1 with err
 * naming path and the problem. */
int rp_html_end(FILE *f, const char *path, int body_failed, char *err, size_t errlen);

/* Writes s with &, <, >, " and ' escaped. */
void rp_html_text(FILE *f, const char *s);

/* Writes one chart as inline SVG inside a <figure>. */
void rp_html_chart_write(FILE *f, const rp_html_chart *c);

/* Fills x (percentiles) and y (milliseconds) with the percentile curve of
 * h from 0 to the highest percentile its count resolves (at most 99.999).
 * Returns the number of points written, at most max. */
size_t rp_html_percentile_curve(const rp_hist *h, double *x, double *y, size_t max);

/* Writes the run's HTML report to path. report is the JSON run report the
 * results came from or go to (for the setup lines: trace, target, start
 * time); it may be NULL. threshold_lines, when not NULL, are shown as a
 * list (e.g. from rp_threshold_describe). top is the number of endpoints
 * in the table. Returns 0, or -1 with err naming the file. */
int rp_html_report_write(const char *path, rp_results *r, const json_t *report,
                         const char *const *threshold_lines, size_t threshold_count,
                         size_t top, char *err, size_t errlen);

#endif
