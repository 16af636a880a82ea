/*
 * hosts.h - the agent's host table (hosts.c): one slot a target, numbered
 * for the engines, the pipeline and the resolver alike; each slot's probe
 * schedule, its probe in flight (or burst), and the rows and outcomes that
 * come of them.  agent.c runs the loop and calls these; only hosts.c reads
 * or writes a slot's fields.  Everything here runs on the loop's thread.
 */
#ifndef CLOUDSONAR_HOSTS_H
#define CLOUDSONAR_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#include "agent/engine.h"
#include "agent/promfile.h"
#include "agent/resolver.h"
#include "agent/targets.h"

struct agent;

/* The engine of the agent's own --method (made first, so that a method
 * this process may not use is said at start). */
probe_engine *hosts_default_engine(struct agent *a, char *err, size_t errlen);
/* Makes the slots probe exactly the targets of want (the static targets,
 * then the mesh's members): new ones start, with fresh detectors (the
 * caller then restores the saved state of those it has), ones that left
 * stop, ones that stay keep their detectors and their schedule (or restart
 * it, if how they are probed changed).  Rewrites the targets side file.
 * 0, or -1 with a reason. */
int hosts_apply(struct agent *a, const target_list *want, int64_t now_ns, char *err, size_t errlen);
/* The static targets and the mesh's members, as one list for hosts_apply. */
int hosts_wanted(const struct agent *a, target_list *out);
void hosts_free(struct agent *a);
/* The address probed for slot, as text ("" while unresolved). */
void hosts_address(const struct agent *a, size_t slot, char *out, size_t len);
/* A resolver answer for slot (stale ones are dropped): its address, a new
 * one (said), or that it has none (said once). */
void hosts_resolved(struct agent *a, size_t slot, uint32_t tag, const resolution_result *r);

/* Sends every probe due by now (skipping what a stall left more than an
 * interval overdue), then flushes the engines' send bursts. */
void hosts_send_due(struct agent *a, int64_t now);
/* Times out every probe whose deadline has passed. */
void hosts_expire(struct agent *a, int64_t now);
/* An engine's answer (engine.h's probe_done_fn; ctx is the agent): stale
 * ones (timed out, or for a target that left) are dropped. */
void hosts_probe_done(void *ctx, uint32_t slot, uint32_t gen, probe_status st, int64_t rtt_ns);
/* At the stop: the bursts cut short, with what they have. */
void hosts_finish_bursts(struct agent *a);
/* A target's labels ("k=v", its targets-file line's) for slot. */
const char *const *hosts_labels(const struct agent *a, size_t slot, size_t *n);
/* What promfile labels a host's series with (promfile_labels.describe). */
void hosts_describe(void *ctx, size_t slot, promfile_host *out);

#endif
