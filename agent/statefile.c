/* statefile.c - crash-safe named records; see statefile.h. */
#include "agent/statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "detector/bytes.h"
#include "pano/common/regfile.h"

static const uint8_t MAGIC[8] = { 'C', 'S', 'S', 'T', 'A', 'T', 'E', 1 };


struct statefile_writer {
	regfile_replacement file;
	uint64_t sum;
	int failed;
};

static void wr(statefile_writer *w, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, w->file.f) != n)
		w->failed = 1;
	w->sum = fnv1a(w->sum, p, n);
}

statefile_writer *statefile_begin(const regdir *dir, const char *path, char *err, size_t errlen)
{
	statefile_writer *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	if (regfile_replace_begin_in(&w->file, dir, path, err, errlen) != 0) {
		free(w);
		return NULL;
	}
	w->sum = FNV1A_INIT;
	wr(w, MAGIC, sizeof(MAGIC));
	return w;
}

int statefile_put(statefile_writer *w, const char *name, const uint8_t *blob, size_t len)
{
	size_t n = strlen(name);
	if (n == 0 || n > STATEFILE_NAME_MAX || len > UINT32_MAX)
		return -1;
	uint8_t hdr[4];
	hdr[0] = (uint8_t)n;
	hdr[1] = (uint8_t)(n >> 8);
	wr(w, hdr, 2);
	wr(w, name, n);
	put_u32le(hdr, (uint32_t)len);
	wr(w, hdr, 4);
	wr(w, blob, len);
	return w->failed ? -1 : 0;
}

void statefile_abort(statefile_writer *w)
{
	if (!w)
		return;
	regfile_replace_abort(&w->file);
	free(w);
}

int statefile_commit(statefile_writer *w, char *err, size_t errlen)
{
	uint8_t tail[8];
	put_u64le(tail, w->sum);
	wr(w, tail, sizeof(tail));
	int rc;
	if (w->failed) {
		snprintf(err, errlen, "%s: %s", w->file.tmp, strerror(errno ? errno : EIO));
		regfile_replace_abort(&w->file);
		rc = -1;
	} else {
		rc = regfile_replace_commit(&w->file, true, err, errlen);
	}
	free(w);
	return rc;
}

struct statefile_reader {
	uint8_t *data;
	size_t len; /* payload length, checksum excluded */
	size_t pos;
	char name[STATEFILE_NAME_MAX + 1];
};

int statefile_open(const regdir *dir, const char *path, size_t max_size, statefile_reader **out, char *err,
                   size_t errlen)
{
	*out = NULL;
	FILE *f = regfile_open_in(dir, path, "rb", err, errlen);
	if (!f)
		return errno == ENOENT ? 0 : -1;
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || (size_t)st.st_size > max_size) {
		snprintf(err, errlen, "%s: %lld bytes, more than the %zu a state of this many hosts can be", path,
		         (long long)st.st_size, max_size);
		fclose(f);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	statefile_reader *r = calloc(1, sizeof(*r));
	uint8_t *data = malloc(size ? size : 1);
	if (!r || !data || fread(data, 1, size, f) != size) {
		snprintf(err, errlen, "%s: cannot read", path);
		free(r);
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	if (size < sizeof(MAGIC) + 8 || memcmp(data, MAGIC, sizeof(MAGIC)) != 0) {
		snprintf(err, errlen, "%s: not a CloudSonar state file (bad magic)", path);
		free(r);
		free(data);
		return -1;
	}
	if (fnv1a(FNV1A_INIT, data, size - 8) != get_u64le(data + size - 8)) {
		snprintf(err, errlen, "%s: checksum mismatch (truncated or corrupt)", path);
		free(r);
		free(data);
		return -1;
	}
	r->data = data;
	r->len = size - 8;
	r->pos = sizeof(MAGIC);
	*out = r;
	return 1;
}

int statefile_next(statefile_reader *r, const char **name, const uint8_t **blob,
                   size_t *len, char *err, size_t errlen)
{
	if (r->pos == r->len)
		return 0;
	if (r->len - r->pos < 2)
		goto bad;
	size_t n = (size_t)r->data[r->pos] | (size_t)r->data[r->pos + 1] << 8;
	if (n == 0 || n > STATEFILE_NAME_MAX || r->len - r->pos - 2 < n + 4)
		goto bad;
	memcpy(r->name, r->data + r->pos + 2, n);
	r->name[n] = '\0';
	if (strlen(r->name) != n)
		goto bad; /* an embedded NUL */
	size_t at = r->pos + 2 + n;
	size_t bl = get_u32le(r->data + at);
	at += 4;
	if (r->len - at < bl)
		goto bad;
	*name = r->name;
	*blob = r->data + at;
	*len = bl;
	r->pos = at + bl;
	return 1;
bad:
	snprintf(err, errlen, "malformed record at byte %zu", r->pos);
	return -1;
}

void statefile_close(statefile_reader *r)
{
	if (!r)
		return;
	free(r->data);
	free(r);
}

/* Only the newest file set aside is kept: a state that is refused at every
 * start would otherwise leave one more copy each time. */
int statefile_set_aside(const regdir *dir, const char *path, char *moved_to, size_t moved_len)
{
	char prefix[PATH_MAX + 16];
	snprintf(prefix, sizeof(prefix), "%s.corrupt-", path);
	const char *slash = strrchr(prefix, '/');
	const char *base = slash ? slash + 1 : prefix;
	int fd = dir && dir->fd >= 0 ? dup(dir->fd) : -1;
	char here[PATH_MAX];
	if (fd < 0) { /* a path: its own directory */
		snprintf(here, sizeof(here), "%.*s", slash ? (int)(slash - prefix) : 1, slash ? prefix : ".");
		fd = open(here, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d && fd >= 0)
		close(fd);
	for (struct dirent *e; d && (e = readdir(d));)
		if (strncmp(e->d_name, base, strlen(base)) == 0)
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	snprintf(moved_to, moved_len, "%s.corrupt-%lld", path, (long long)time(NULL));
	return regfile_rename_in(dir, path, moved_to);
}
