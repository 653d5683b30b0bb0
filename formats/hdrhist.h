/* HdrHistogram's interchange formats for rp_hist: the compressed V2
 * encoding (base64 text that starts with "HISTFAAA") and the histogram
 * interval log, format version 1.3. Tools built on Gil Tene's
 * HdrHistogram (Java HistogramLogProcessor, HdrHistogram_c, hdr-plot)
 * read both.
 *
 * V2 encoding, all integers big-endian:
 *   compressed:   int32 cookie 0x1c849314, int32 length of what follows,
 *                 then the zlib stream of the uncompressed form
 *   uncompressed: int32 cookie 0x1c849313, int32 payload bytes,
 *                 int32 normalizing index offset (0), int32 significant
 *                 digits, int64 lowest discernible value (1), int64
 *                 highest trackable value, float64 integer-to-double
 *                 ratio (1.0). The counts follow, from index 0 up to the
 *                 index of the max value. Each is a ZigZag LEB128 number
 *                 (9 bytes at most), and a run of two or more zeros is
 *                 written as minus its length.
 * The counts array index is HdrHistogram's, so a histogram decodes into
 * the same slots it was encoded from and merges stay exact.
 */
#ifndef RP_HDRHIST_H
#define RP_HDRHIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "replay/hist.h"

enum {
    RP_HDRHIST_EFORMAT = -1,     /* not a V2 histogram, or damaged */
    RP_HDRHIST_ELAYOUT = -2,     /* valid, but not a layout rp_hist has */
    RP_HDRHIST_ENOMEM = -3,
    RP_HDRHIST_EIO = -4
};

/* Encodes h, which was created by rp_hist_new(highest, sig_figs), as
 * uncompressed V2 bytes. *out is malloc'd and owned by the caller.
 * rp_hist cannot report its own layout, hence the two arguments. */
int rp_hdrhist_encode_raw(const rp_hist *h, uint64_t highest, int sig_figs,
                          uint8_t **out, size_t *len, char *err, size_t errlen);

/* Encodes h as compressed V2 in base64: a NUL-terminated string the
 * caller frees. */
int rp_hdrhist_encode(const rp_hist *h, uint64_t highest, int sig_figs,
                      char **out, char *err, size_t errlen);

/* Reads the layout of a base64 compressed V2 histogram. */
int rp_hdrhist_peek(const char *text, uint64_t *highest, int *sig_figs,
                    char *err, size_t errlen);

/* Adds the counts of a base64 compressed V2 histogram into dst. Each
 * count is recorded at its slot's highest equivalent value, so that
 * percentiles read back as HdrHistogram reports them. Min, max and mean
 * become those of the slots, within the histogram's precision. Only
 * histograms with a lowest discernible value of 1 are accepted. dst is
 * unchanged on error. */
int rp_hdrhist_decode_add(const char *text, rp_hist *dst, char *err, size_t errlen);

/* Adds the counts of text into dst and keeps the exact extremes: min and
 * max (NULL when unknown) are the smallest and largest values that were
 * encoded. One count of the lowest and of the highest slot is recorded at
 * them, and every other count at its slot's middle value, kept between
 * them. Min, max and every percentile then read back as they were before
 * encoding, and the mean is within the histogram's precision. */
int rp_hdrhist_decode_add_exact(const char *text, rp_hist *dst, const uint64_t *min,
                                const uint64_t *max, char *err, size_t errlen);

/* Creates a histogram with the layout of text and its counts. */
int rp_hdrhist_decode(const char *text, rp_hist **out, char *err, size_t errlen);

/* Base64 (RFC 4648, with padding). rp_base64_encode returns a malloc'd
 * NUL-terminated string or NULL when out of memory. rp_base64_decode
 * returns the decoded length, or -1 for invalid input; *out is malloc'd. */
char *rp_base64_encode(const uint8_t *data, size_t len);
long rp_base64_decode(const char *text, uint8_t **out);

/* Interval log, format version 1.3. Values are in the histograms' unit
 * (reprise records microseconds). max_unit_ratio divides the interval max
 * in the Interval_Max column: 1000 turns microseconds into milliseconds,
 * the unit HdrHistogram's tools assume there. */

/* Writes the header: version, StartTime and BaseTime (both start_epoch_s)
 * and the column legend. Interval start times are then relative to it. */
int rp_hdrlog_write_header(FILE *f, double start_epoch_s, const char *comment);

/* Writes one interval: its start (seconds after BaseTime), length in
 * seconds, max value / max_unit_ratio and the base64 histogram. */
int rp_hdrlog_write_interval(FILE *f, double start_s, double length_s,
                             double max_value, double max_unit_ratio,
                             const char *histogram_b64);

#endif
