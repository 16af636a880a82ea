/*
 * resolver.h - turns targets' names into addresses, and follows them,
 * without ever blocking the probe loop.
 *
 * Numeric addresses are converted at once, in resolver_add, without asking
 * anyone; so is a string that looks like an address but is none
 * ("127.0.0.300": hostaddr.h), which fails at once rather than go to DNS,
 * and a name under .invalid (RFC 6761).  Names are looked up by a
 * background thread:
 *   - a name that resolves is looked up again every refresh interval
 *     (getaddrinfo does not give the record's TTL), and a change of address
 *     is posted, so a host that moves is followed;
 *   - one that does not resolve is posted as a failure, with the reason,
 *     and tried again after the retry interval, doubling at each failure
 *     up to the refresh interval: a name that never resolves costs a
 *     lookup every few minutes, not one a probe.
 * A name resolves to the first address getaddrinfo prefers (RFC 6724
 * order); while that address stays among the answers, it is kept.
 *
 * Targets come and go (a reloaded targets file, a mesh): each request
 * carries the caller's slot and a tag (the slot's generation), and every
 * answer comes back with both, so an answer for a target that has left is
 * recognised and dropped.
 */
#ifndef CLOUDSONAR_RESOLVER_H
#define CLOUDSONAR_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RESOLVER_REFRESH_DEFAULT_S 300.0

/* What a lookup found: an address, or a reason it has none. */
typedef struct {
	bool ok;
	const struct sockaddr *addr; /* when ok */
	socklen_t len;
	const char *why;             /* when not: "Name or service not known" */
} resolution_result;

typedef struct resolver resolver;
typedef void (*resolved_fn)(void *ctx, size_t slot, uint32_t tag, const resolution_result *r);

/* retry_ns: the first wait after a failure; refresh_ns: how often a name
 * is looked up again (and the longest wait after failures). */
resolver *resolver_new(int64_t retry_ns, int64_t refresh_ns, char *err, size_t errlen);
/* Asks for name's address for slot; 0, or -1 when out of memory.  A numeric
 * address (or a bad one) is delivered by the next resolver_collect; fd
 * becomes readable when others are ready. */
int resolver_add(resolver *r, size_t slot, uint32_t tag, const char *name);
/* Stops following slot's name (its target left). */
void resolver_forget(resolver *r, size_t slot);
int resolver_fd(const resolver *r);
void resolver_collect(resolver *r, resolved_fn fn, void *ctx);
void resolver_free(resolver *r);

/* A host argument is plausible: 1..253 characters of letters, digits and
 * . - _ : % (names, IPv4, IPv6 with an optional zone).  Keeps commas and
 * quotes out of the CSV logs. */
int host_name_valid(const char *s);

#endif
