/*
 * cert.h - CURVE key pairs in files, in the text format of ZeroMQ's czmq
 * certificates (zcert), so its tools and ours read each other's files:
 *
 *   #   comments
 *   metadata
 *       name = "db-1"
 *       role = "observer"
 *   curve
 *       public-key = "40 characters of Z85"
 *       secret-key = "40 characters of Z85"
 *
 * name is who the key speaks for: the observer name its reports must carry,
 * or, with role "node", a Panorama node's id (a node may relay other
 * observers' reports from its peers).  sonar-keygen writes NAME.key (both
 * keys, mode 0600, for the key's owner) and NAME.pub (no secret-key line,
 * to hand to the nodes that must let it in, or to the clients of a node).
 *
 * A secret file that group or others may read is refused, as ssh does:
 * whoever reads it can speak for its name.
 */
#ifndef PANO_CERT_H
#define PANO_CERT_H

#include <stdbool.h>
#include <stddef.h>

#define PANO_KEY_LEN 40       /* a 32-byte key in Z85 */
#define PANO_CERT_NAME_MAX 255
#define PANO_CERT_FILE_MAX 65536

typedef enum { PANO_ROLE_OBSERVER, PANO_ROLE_NODE } pano_role;

typedef struct {
	char name[PANO_CERT_NAME_MAX + 1];
	pano_role role;
	char public_key[PANO_KEY_LEN + 1];
	char secret_key[PANO_KEY_LEN + 1]; /* "" when loaded from a public file */
} pano_cert;

/* Reads a certificate.  With need_secret the file must hold the secret key
 * (and it must match the public one) and be private to its owner.  0, or
 * -1 with one line "PATH: line N: problem" in err. */
int pano_cert_load(const char *path, bool need_secret, pano_cert *out, char *err, size_t errlen);

/* Parses a certificate's text (len bytes, no NUL needed); origin names it
 * in errors.  What pano_cert_load does after reading the file. */
int pano_cert_parse(const char *text, size_t len, const char *origin, bool need_secret, pano_cert *out,
                    char *err, size_t errlen);

/* A new key pair for name. */
int pano_cert_generate(const char *name, pano_role role, pano_cert *out, char *err, size_t errlen);

/* Writes DIR/NAME.key (mode 0600) and DIR/NAME.pub; never overwrites. */
int pano_cert_save(const pano_cert *c, const char *dir, char *err, size_t errlen);

/* A name a certificate may carry: 1..255 bytes, no space, control
 * character, quote, backslash or slash (it names files too). */
bool pano_cert_name_valid(const char *name);

const char *pano_role_name(pano_role r);
/* "observer" or "node"; -1 otherwise. */
int pano_role_parse(const char *text, pano_role *out);

/* A Z85 key of 40 characters that decodes. */
bool pano_key_valid(const char *z85);

#endif
