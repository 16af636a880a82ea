/*
 * resolver.h - turns targets' names into addresses without ever blocking
 * the probe loop.
 *
 * Numeric addresses are converted at once, in resolver_add.  Names are
 * looked up by a background thread; one that does not resolve is reported
 * once on stderr and retried every retry interval until it does, while the
 * other hosts are probed as usual.  A name resolves to the first address
 * getaddrinfo prefers (RFC 6724 order) and keeps it while its target stays.
 * Names under .invalid (RFC 6761) fail at once, without asking anyone.
 *
 * Targets come and go (a reloaded targets file, a mesh): each request
 * carries the caller's slot and a tag (the slot's generation), and every
 * answer comes back with both, so an answer for a target that has left is
 * recognised and dropped.
 */
#ifndef CLOUDSONAR_RESOLVER_H
#define CLOUDSONAR_RESOLVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct resolver resolver;
typedef void (*resolved_fn)(void *ctx, size_t slot, uint32_t tag, const struct sockaddr *addr, socklen_t len);

resolver *resolver_new(int64_t retry_ns, const char *prog, char *err, size_t errlen);
/* Asks for name's address for slot; 0, or -1 when out of memory.  A numeric
 * address is delivered by the next resolver_collect; fd becomes readable
 * when others are ready. */
int resolver_add(resolver *r, size_t slot, uint32_t tag, const char *name);
/* Stops looking for slot's name (its target left). */
void resolver_forget(resolver *r, size_t slot);
int resolver_fd(const resolver *r);
void resolver_collect(resolver *r, resolved_fn fn, void *ctx);
void resolver_free(resolver *r);

/* A host argument is plausible: 1..253 characters of letters, digits and
 * . - _ : % (names, IPv4, IPv6 with an optional zone).  Keeps commas and
 * quotes out of the CSV logs. */
int host_name_valid(const char *s);

#endif
