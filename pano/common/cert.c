/* cert.c - CURVE certificates in czmq's text format; see cert.h. */
#include "pano/common/cert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>
#include "pano/common/regfile.h"

const char *pano_role_name(pano_role r) { return r == PANO_ROLE_NODE ? "node" : "observer"; }

int pano_role_parse(const char *text, pano_role *out)
{
	if (strcmp(text, "observer") == 0)
		*out = PANO_ROLE_OBSERVER;
	else if (strcmp(text, "node") == 0)
		*out = PANO_ROLE_NODE;
	else
		return -1;
	return 0;
}

bool pano_cert_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > PANO_CERT_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= ' ' || c == 0x7f || c == '"' || c == '\\' || c == '/')
			return false;
	}
	return true;
}

bool pano_key_valid(const char *z85)
{
	uint8_t bin[32];
	return strlen(z85) == PANO_KEY_LEN && zmq_z85_decode(bin, z85) != NULL;
}

static int fail(char *err, size_t errlen, const char *origin, int line, const char *why)
{
	if (line > 0)
		snprintf(err, errlen, "%s: line %d: %s", origin, line, why);
	else
		snprintf(err, errlen, "%s: %s", origin, why);
	return -1;
}

/* "key = value" or key = "value"; splits line in place.  0 or -1. */
static int split_property(char *line, char **key, char **value)
{
	char *eq = strchr(line, '=');
	if (!eq)
		return -1;
	char *k = line, *kend = eq;
	while (*k == ' ' || *k == '\t')
		k++;
	while (kend > k && (kend[-1] == ' ' || kend[-1] == '\t'))
		kend--;
	if (kend == k)
		return -1;
	*kend = '\0';
	char *v = eq + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	char *vend;
	if (*v == '"') {
		v++;
		vend = strchr(v, '"');
		if (!vend)
			return -1;
		for (char *t = vend + 1; *t; t++)
			if (*t != ' ' && *t != '\t')
				return -1;
	} else {
		vend = v + strlen(v);
		while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
	}
	*vend = '\0';
	*key = k;
	*value = v;
	return 0;
}

int pano_cert_parse(const char *text, size_t len, const char *origin, bool need_secret, pano_cert *out,
                    char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (len > PANO_CERT_FILE_MAX)
		return fail(err, errlen, origin, 0, "larger than a certificate can be");
	char *buf = malloc(len + 1);
	if (!buf)
		return fail(err, errlen, origin, 0, "out of memory");
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (strlen(buf) != len) {
		free(buf);
		return fail(err, errlen, origin, 0, "contains a NUL byte: not a certificate");
	}
	enum { NONE, METADATA, CURVE } section = NONE;
	bool has_name = false, has_role = false;
	int lineno = 0, rc = 0;
	char why[128];
	char *next = buf;
	while (next && rc == 0) {
		char *line = next;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		size_t n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		const char *first = line + strspn(line, " \t");
		if (!*first || *first == '#')
			continue;
		if (first == line) { /* a section name starts in the first column */
			if (strcmp(line, "metadata") == 0)
				section = METADATA;
			else if (strcmp(line, "curve") == 0)
				section = CURVE;
			else
				rc = fail(err, errlen, origin, lineno, "unknown section (want metadata or curve)");
			continue;
		}
		char *key, *value;
		if (split_property(line, &key, &value) != 0) {
			rc = fail(err, errlen, origin, lineno, "not key = \"value\"");
			continue;
		}
		if (section == METADATA && strcmp(key, "name") == 0) {
			if (has_name || !pano_cert_name_valid(value))
				rc = fail(err, errlen, origin, lineno, has_name ? "name given twice"
				          : "name must be 1 to 255 bytes without spaces, quotes, backslashes or slashes");
			else
				snprintf(out->name, sizeof(out->name), "%s", value);
			has_name = true;
		} else if (section == METADATA && strcmp(key, "role") == 0) {
			if (has_role || pano_role_parse(value, &out->role) != 0)
				rc = fail(err, errlen, origin, lineno, has_role ? "role given twice"
				          : "role must be \"observer\" or \"node\"");
			has_role = true;
		} else if (section == METADATA) {
			continue; /* czmq lets certificates carry other metadata */
		} else if (section == CURVE && (strcmp(key, "public-key") == 0 || strcmp(key, "secret-key") == 0)) {
			char *dst = key[0] == 'p' ? out->public_key : out->secret_key;
			if (dst[0] || !pano_key_valid(value)) {
				snprintf(why, sizeof(why), dst[0] ? "%s given twice" : "%s is not 40 characters of Z85", key);
				rc = fail(err, errlen, origin, lineno, why);
			} else {
				memcpy(dst, value, PANO_KEY_LEN + 1);
			}
		} else {
			snprintf(why, sizeof(why), "unknown %s field '%.40s'",
			         section == CURVE ? "curve" : "top-level", key);
			rc = fail(err, errlen, origin, lineno, why);
		}
	}
	free(buf);
	if (rc != 0)
		return -1;
	if (!out->public_key[0])
		return fail(err, errlen, origin, 0, "no curve public-key: not a CURVE certificate");
	if (!has_name)
		return fail(err, errlen, origin, 0, "no metadata name: whom does this key speak for?");
	if (need_secret) {
		char derived[PANO_KEY_LEN + 1];
		if (!out->secret_key[0])
			return fail(err, errlen, origin, 0, "no secret-key: this is a public certificate, give the .key file");
		if (zmq_curve_public(derived, out->secret_key) != 0 || strcmp(derived, out->public_key) != 0)
			return fail(err, errlen, origin, 0, "its secret-key does not belong to its public-key");
	}
	return 0;
}

int pano_cert_load(const char *path, bool need_secret, pano_cert *out, char *err, size_t errlen)
{
	FILE *f = regfile_open(path, "rb", err, errlen);
	if (!f)
		return -1;
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return fail(err, errlen, path, 0, "not a regular file");
	}
	char *text = malloc(PANO_CERT_FILE_MAX + 1);
	size_t len = text ? fread(text, 1, PANO_CERT_FILE_MAX + 1, f) : 0;
	int read_error = ferror(f);
	fclose(f);
	if (!text || read_error) {
		free(text);
		return fail(err, errlen, path, 0, text ? "read error" : "out of memory");
	}
	int rc = pano_cert_parse(text, len, path, need_secret, out, err, errlen);
	free(text);
	if (rc == 0 && need_secret && (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: secret key readable by group or others (mode %04o): chmod 600 it",
		         path, (unsigned)(st.st_mode & 07777));
		rc = -1;
	}
	if (rc == 0 && !need_secret)
		explicit_bzero(out->secret_key, sizeof(out->secret_key)); /* never carried further than needed */
	return rc;
}

int pano_cert_generate(const char *name, pano_role role, pano_cert *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!pano_cert_name_valid(name)) {
		snprintf(err, errlen, "'%.64s' is not a usable name (1 to 255 bytes; no spaces, quotes, "
		         "backslashes or slashes)", name);
		return -1;
	}
	if (zmq_curve_keypair(out->public_key, out->secret_key) != 0) {
		snprintf(err, errlen, "cannot make a key pair: %s (libzmq without CURVE?)", zmq_strerror(errno));
		return -1;
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->role = role;
	return 0;
}

static int write_file(const char *path, mode_t mode, const pano_cert *c, bool secret, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, errno == EEXIST ? "exists already (not overwritten)" : strerror(errno));
		return -1;
	}
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", gmtime_r(&now, &tm));
	char text[1024];
	int n = snprintf(text, sizeof(text),
	                 "#   ****  Generated on %s UTC by sonar-keygen  ****\n"
	                 "#   ZeroMQ CURVE %s Certificate\n"
	                 "%s\n"
	                 "metadata\n"
	                 "    name = \"%s\"\n"
	                 "    role = \"%s\"\n"
	                 "curve\n"
	                 "    public-key = \"%s\"\n",
	                 stamp, secret ? "**Secret**" : "Public",
	                 secret ? "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
	                        : "#   Give this file to the nodes that must let this key in.\n",
	                 c->name, pano_role_name(c->role), c->public_key);
	if (secret && n > 0 && (size_t)n < sizeof(text))
		n += snprintf(text + n, sizeof(text) - (size_t)n, "    secret-key = \"%s\"\n", c->secret_key);
	bool ok = n > 0 && (size_t)n < sizeof(text) && write(fd, text, (size_t)n) == n && fsync(fd) == 0;
	int saved = errno;
	if (close(fd) != 0)
		ok = false;
	if (!ok) {
		snprintf(err, errlen, "%s: %s", path, strerror(saved));
		unlink(path);
		return -1;
	}
	return 0;
}

int pano_cert_save(const pano_cert *c, const char *dir, char *err, size_t errlen)
{
	char key_path[4096], pub_path[4096];
	if (snprintf(key_path, sizeof(key_path), "%s/%s.key", dir, c->name) >= (int)sizeof(key_path) ||
	    snprintf(pub_path, sizeof(pub_path), "%s/%s.pub", dir, c->name) >= (int)sizeof(pub_path)) {
		snprintf(err, errlen, "%.200s: path too long", dir);
		return -1;
	}
	if (access(pub_path, F_OK) == 0) {
		snprintf(err, errlen, "%s: exists already (not overwritten)", pub_path);
		return -1;
	}
	if (write_file(key_path, 0600, c, true, err, errlen) != 0)
		return -1;
	if (write_file(pub_path, 0644, c, false, err, errlen) != 0) {
		unlink(key_path);
		return -1;
	}
	return 0;
}
