/* privdrop.c - running as an ordinary user; see privdrop.h. */
#include "pano/common/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Hands path (a file, or a directory of the program's own) to uid:gid, when
 * root owns it (someone else's file stays theirs).  A path that does not
 * exist yet is fine: what the user then creates is its own.  A shared
 * directory (sticky, as /tmp is) and / are left as they are. */
static int hand_over(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) != 0 || S_ISLNK(st.st_mode) || st.st_uid != 0 || strcmp(path, "/") == 0 ||
	    (S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX)))
		return 0;
	if (lchown(path, uid, gid) != 0) {
		snprintf(err, errlen, "cannot give %.200s to the user it runs as: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Keeps exactly the capabilities in keep, permitted and effective. */
static int keep_caps(uint64_t keep, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	data[0].permitted = data[0].effective = (uint32_t)keep;
	data[1].permitted = data[1].effective = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) != 0) {
		snprintf(err, errlen, "capset: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int privdrop(const privdrop_request *req, privdrop_result *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (geteuid() != 0)
		return 0;
	const char *name = req->user;
	if (name && strcmp(name, "root") == 0)
		return 0;
	struct passwd *pw = name ? getpwnam(name) : getpwnam(PRIVDROP_DEFAULT_USER);
	if (!pw && !name)
		pw = getpwnam(name = PRIVDROP_FALLBACK_USER);
	if (!pw) {
		snprintf(err, errlen, "no user '%.64s' to run as (name one that exists, or 'root' to stay root)",
		         name ? name : PRIVDROP_DEFAULT_USER);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user '%.64s' is root", pw->pw_name);
		return -1;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	snprintf(out->user, sizeof(out->user), "%s", pw->pw_name);
	for (size_t i = 0; i < req->nown; i++)
		if (req->own[i] && hand_over(req->own[i], uid, gid, err, errlen) != 0)
			return -1;
	if (req->keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
		snprintf(err, errlen, "cannot become %s (uid %u): %s", pw->pw_name, (unsigned)uid, strerror(errno));
		return -1;
	}
	if (setresuid(0, 0, 0) == 0) { /* the kernel must not let us back */
		snprintf(err, errlen, "could become root again after dropping to %s", pw->pw_name);
		return -1;
	}
	if (keep_caps(req->keep, err, errlen) != 0)
		return -1;
	if (req->keep)
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	/* a core dump of a process that was root stays root's, and off */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	out->dropped = true;
	out->uid = (unsigned)uid;
	out->gid = (unsigned)gid;
	return 0;
}
