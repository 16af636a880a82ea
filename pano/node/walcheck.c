/* walcheck.c - see walcheck.h. */
#include "pano/node/walcheck.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pano/common/regfile.h"

#define WAL_HEADER 32
#define FRAME_HEADER 24

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* sqlite's WAL checksum over n bytes (a multiple of 8), continuing s. */
static void checksum(bool big_endian, const uint8_t *p, size_t n, uint32_t s[2])
{
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint32_t x0, x1;
		if (big_endian) {
			x0 = be32(p + i);
			x1 = be32(p + i + 4);
		} else {
			x0 = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24;
			x1 = (uint32_t)p[i + 4] | (uint32_t)p[i + 5] << 8 | (uint32_t)p[i + 6] << 16 |
			     (uint32_t)p[i + 7] << 24;
		}
		s[0] += x0 + s[1];
		s[1] += x1 + s[0];
	}
}

int pano_wal_check(const char *wal_path, char *err, size_t errlen)
{
	FILE *f = regfile_open(wal_path, "rb", err, errlen);
	if (!f)
		return errno == ENOENT ? 0 : -1;
	uint8_t hdr[WAL_HEADER];
	size_t got = fread(hdr, 1, sizeof(hdr), f);
	if (got < sizeof(hdr)) {
		fclose(f);
		return 0; /* empty, or torn while being created */
	}
	uint32_t magic = be32(hdr), page = be32(hdr + 8);
	bool big = magic == 0x377f0683;
	uint32_t s[2] = { 0, 0 };
	checksum(big, hdr, 24, s);
	if ((magic != 0x377f0682 && !big) || page < 512 || page > 65536 || (page & (page - 1)) ||
	    s[0] != be32(hdr + 24) || s[1] != be32(hdr + 28)) {
		bool more = fgetc(f) != EOF;
		fclose(f);
		if (!more)
			return 0;
		snprintf(err, errlen, "%s: the write-ahead log's header is damaged; sqlite would ignore "
		         "every transaction in it", wal_path);
		return -1;
	}
	uint8_t *frame = malloc(FRAME_HEADER + page);
	if (!frame) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t frames = 0, bad_at = 0, later = 0;
	bool broken = false;
	while (fread(frame, 1, FRAME_HEADER + page, f) == FRAME_HEADER + page) {
		frames++;
		bool same_generation = memcmp(frame + 8, hdr + 16, 8) == 0;
		if (broken) {
			later += same_generation;
			continue;
		}
		uint32_t t[2] = { s[0], s[1] };
		checksum(big, frame, 8, t);
		checksum(big, frame + FRAME_HEADER, page, t);
		if (!same_generation || t[0] != be32(frame + 16) || t[1] != be32(frame + 20)) {
			/* the valid log ends here: a torn tail, or older frames */
			broken = true;
			bad_at = frames;
			continue;
		}
		s[0] = t[0];
		s[1] = t[1];
	}
	free(frame);
	fclose(f);
	if (later > 0) {
		snprintf(err, errlen, "%s: frame %zu of the write-ahead log is damaged and %zu later frames "
		         "of it would be lost (acknowledged reports among them)", wal_path, bad_at, later);
		return -1;
	}
	return 0;
}
