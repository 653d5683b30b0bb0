/* Captured client sessions for closed-loop replay (--users): each
 * session is one captured connection's requests in captured order, with
 * the pause the client took before each one.
 *
 * The sessions are held in memory: the requests kept by the plan (after
 * --skip and the filters), with their header and body bytes.
 */
#ifndef RP_SESSIONS_H
#define RP_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "formats/trace.h"
#include "replay/plan.h"

typedef struct rp_session_req {
    rp_record rec;           /* its pointers refer to the store's memory */
    uint64_t think_ns;       /* captured pause before this request: from the
                                end of the previous response (its start
                                when the response was not captured) to this
                                request; 0 for a session's first request */
} rp_session_req;

typedef struct rp_sessions {
    size_t count;            /* sessions, in order of their first request */
    size_t *first;           /* session i is reqs[first[i]] .. reqs[first[i+1]-1] */
    rp_session_req *reqs;
    size_t total;
    char *bytes;             /* method, target, header and body bytes */
} rp_sessions;

/* Loads the sessions of the trace at path as plan selects them. Returns
 * 0, or a negative RP_TRACE_E* code with err filled. */
int rp_sessions_load(rp_sessions *out, const char *path, const rp_plan *plan,
                     char *err, size_t errlen);

void rp_sessions_free(rp_sessions *s);

#endif
