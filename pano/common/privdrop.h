/*
 * privdrop.h - least privilege, as ping and OpenBSD's daemons do it: a
 * program started as root opens what needs root (ports, raw sockets, its
 * files), then runs as an ordinary user for the rest of its life, keeping
 * at most the capabilities it still needs.
 *
 * The user is the one named, or by default "cloudsonar" when that account
 * exists (make install's units create it), else "nobody".  Its own group,
 * no supplementary groups, and PR_SET_NO_NEW_PRIVS, so nothing it runs
 * later gains privilege either.
 *
 * Files the program goes on writing by name (a log reopened for
 * logrotate, a database's write-ahead log) are handed to that user first,
 * and so are directories of its own in which it creates or replaces files
 * (a node's database directory, an agent's state and log directories):
 * each path given is chowned when root owns it, except a shared directory
 * (sticky, as /tmp is) and /.  Someone else's files stay theirs.
 *
 * Capabilities are per thread, and a thread inherits its creator's: call
 * privdrop before the threads that need the kept ones are started (the
 * others simply lose them all, which is the point).
 */
#ifndef PANO_PRIVDROP_H
#define PANO_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRIVDROP_DEFAULT_USER "cloudsonar"
#define PRIVDROP_FALLBACK_USER "nobody"

/* A bit per capability kept: PRIVDROP_CAP(CAP_NET_RAW). */
#define PRIVDROP_CAP(c) (UINT64_C(1) << (c))

typedef struct {
	const char *user;          /* NULL: the default; "root": stay root (not advised) */
	uint64_t keep;             /* capabilities kept (PRIVDROP_CAP) */
	const char *const *own;    /* files, and directories of its own, handed to the user */
	size_t nown;
} privdrop_request;

typedef struct {
	bool dropped;              /* false: not root, or asked to stay */
	unsigned uid, gid;
	char user[64];
} privdrop_result;

/* Not root: nothing to do (0).  Root: becomes the user; 0, or -1 with a
 * reason (no such user, a file that cannot be handed over, a kernel that
 * refuses), and then the process must not go on as root by accident. */
int privdrop(const privdrop_request *req, privdrop_result *out, char *err, size_t errlen);

#endif
