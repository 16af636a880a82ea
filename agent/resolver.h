/*
 * resolver.h - turns the command line's hosts into addresses without ever
 * blocking the probe loop.
 *
 * Numeric addresses are converted at once by resolver_new.  Names are
 * looked up by a background thread; one that does not resolve is reported
 * once on stderr and retried every retry interval until it does, while the
 * other hosts are probed as usual.  A name resolves to the first address
 * getaddrinfo prefers (RFC 6724 order) and keeps it for the agent's life.
 * Names under .invalid (RFC 6761) fail at once, without asking anyone.
 */
#ifndef CLOUDSONAR_RESOLVER_H
#define CLOUDSONAR_RESOLVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct resolver resolver;
typedef void (*resolved_fn)(void *ctx, size_t host, const struct sockaddr *addr, socklen_t len);

/* names must outlive the resolver.  Numeric ones are delivered by the first
 * resolver_collect; fd becomes readable when more are ready. */
resolver *resolver_new(char *const *names, size_t n, int64_t retry_ns,
                       const char *prog, char *err, size_t errlen);
int resolver_fd(const resolver *r);
void resolver_collect(resolver *r, resolved_fn fn, void *ctx);
void resolver_free(resolver *r);

/* A host argument is plausible: 1..253 characters of letters, digits and
 * . - _ : % (names, IPv4, IPv6 with an optional zone).  Keeps commas and
 * quotes out of the CSV logs. */
int host_name_valid(const char *s);

#endif
