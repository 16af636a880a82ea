/* sonar_keygen.c - makes CURVE key pairs for Panorama nodes and observers:
 *   sonar-keygen [-role observer|node] [-dir DIR] NAME...
 * For each NAME writes DIR/NAME.key (secret, mode 0600: for the key's
 * owner) and DIR/NAME.pub (public: for the nodes that let it in, and for
 * the clients of a node), in czmq's certificate format (pano/common/cert.h).
 * NAME is the observer name the key speaks for (an agent's --observer,
 * host name by default), or with -role node the node's id.  Existing
 * files are never overwritten. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pano/common/cert.h"
#include "pano/common/goflags.h"

#define PROG "sonar-keygen"
#define SYNOPSIS "[-role observer|node] [-dir DIR] NAME..."

int main(int argc, char **argv)
{
	const char *role_text = "observer", *dir = ".";
	const goflag flags[] = {
		{ "role", GF_STRING, &role_text, "observer (reports as NAME) or node (a Panorama node with id NAME)" },
		{ "dir", GF_STRING, &dir, "where to write NAME.key and NAME.pub (default .)" },
	};
	int first;
	int rc = goflags_parse(PROG, SYNOPSIS, flags, sizeof(flags) / sizeof(flags[0]), argc, argv, &first);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	pano_role role;
	if (pano_role_parse(role_text, &role) != 0) {
		fprintf(stderr, PROG ": -role: '%.64s' is neither observer nor node\n", role_text);
		return 2;
	}
	if (first >= argc) {
		fprintf(stderr, PROG ": no NAME given (usage: " PROG " " SYNOPSIS ")\n");
		return 2;
	}
	for (int i = first; i < argc; i++) {
		if (!pano_cert_name_valid(argv[i])) {
			fprintf(stderr, PROG ": '%.64s' is not a usable name (1 to 255 bytes; no spaces, quotes, "
			        "backslashes or slashes)\n", argv[i]);
			return 2;
		}
	}
	char err[512];
	/* the folder the keys go in, made private when it is new */
	struct stat st;
	if (stat(dir, &st) != 0 && mkdir(dir, 0700) != 0) {
		fprintf(stderr, PROG ": -dir %s: cannot make it: %s\n", dir, strerror(errno));
		return 1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, PROG ": -dir %s: not a directory\n", dir);
		return 1;
	}
	for (int i = first; i < argc; i++) {
		pano_cert c;
		if (pano_cert_generate(argv[i], role, &c, err, sizeof(err)) != 0 ||
		    pano_cert_save(&c, dir, err, sizeof(err)) != 0) {
			explicit_bzero(&c, sizeof(c));
			fprintf(stderr, PROG ": %s\n", err);
			return 1;
		}
		printf("%s/%s.key %s/%s.pub  %s %s  public key %s\n", dir, c.name, dir, c.name, pano_role_name(role),
		       c.name, c.public_key);
		explicit_bzero(&c, sizeof(c));
	}
	return 0;
}
