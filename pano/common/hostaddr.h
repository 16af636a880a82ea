/*
 * hostaddr.h - what a string that names a host is: an address written the
 * one way inet_ntop writes it, the same address written another way, a
 * string that looks like an address but is none, or a DNS name.
 *
 * getaddrinfo reads "127.1", "0177.0.0.1", "0x7f.0.0.1" and "2130706433"
 * as 127.0.0.1 (inet_aton's forms), and sends anything it cannot read as
 * an address, "127.0.0.300" among them, to DNS.  So one host can be named
 * hundreds of ways, and a typo leaks a query off the machine.  Where a
 * name must mean one host (a mesh member) or must not leave the machine by
 * mistake (a target), it is classified first:
 *
 *   HOSTADDR_ADDRESS    an IPv4 address in dotted decimal without leading
 *                       zeros, or an IPv6 address as inet_ntop writes it
 *                       (RFC 5952: lower case, the longest run of zeros
 *                       compressed), with an optional %zone;
 *   HOSTADDR_ALIAS      an address, but not written so ("127.1", "::0:1",
 *                       "0177.0.0.1"): the canonical form is given;
 *   HOSTADDR_BAD        looks like an address but is none: digits and dots
 *                       only (or a last label of digits only, which no DNS
 *                       name has, RFC 3696), or a colon that is not IPv6;
 *   HOSTADDR_NAME       a DNS name: labels of letters, digits, '-' and
 *                       '_' (1 to 63 characters, no '-' at either end), 253
 *                       characters at most, one trailing dot allowed.
 *   HOSTADDR_INVALID    none of these (empty, spaces, other characters).
 */
#ifndef PANO_HOSTADDR_H
#define PANO_HOSTADDR_H

#include <stddef.h>

typedef enum { HOSTADDR_ADDRESS, HOSTADDR_ALIAS, HOSTADDR_BAD, HOSTADDR_NAME, HOSTADDR_INVALID } hostaddr_kind;

/* The kind of s; for HOSTADDR_ALIAS (and HOSTADDR_ADDRESS) the canonical
 * form in canon (when not NULL; INET6_ADDRSTRLEN + a zone fits in 96). */
hostaddr_kind hostaddr_classify(const char *s, char *canon, size_t canonlen);

/* What is wrong with s, for an error line ("'127.0.0.300' is not an IPv4
 * address"), or NULL when it is an address or a name. */
const char *hostaddr_problem(const char *s, char *buf, size_t buflen);

#endif
