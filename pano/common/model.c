/* model.c - observation helpers; see model.h. */
#include "pano/common/model.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detector/bytes.h"

void pano_obs_clear(pano_obs *o)
{
	free(o->metrics);
	memset(o, 0, sizeof(*o));
}

bool pano_obs_equal(const pano_obs *a, const pano_obs *b)
{
	if (a->sec != b->sec || a->nsec != b->nsec || a->n != b->n)
		return false;
	for (uint16_t i = 0; i < a->n; i++)
		if (a->metrics[i].name != b->metrics[i].name ||
		    a->metrics[i].status != b->metrics[i].status ||
		    a->metrics[i].score != b->metrics[i].score ||
		    a->metrics[i].ratio != b->metrics[i].ratio || a->metrics[i].loss != b->metrics[i].loss ||
		    strcmp(a->metrics[i].reason ? a->metrics[i].reason : "",
		           b->metrics[i].reason ? b->metrics[i].reason : "") != 0)
			return false;
	return true;
}

bool pano_reason_valid(const char *s)
{
	size_t n = 0;
	for (; s[n] && n < PANO_REASON_MAX; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f)
			return false;
	return n < PANO_REASON_MAX;
}

const char *pano_status_name(int status)
{
	static const char *const names[] = {
		"INVALID", "NA", "HEALTHY", "PENDING", "MAYBE_UNHEALTHY",
		"UNHEALTHY", "DYING", "DEAD",
	};
	return status >= 0 && status <= PANO_STATUS_MAX ? names[status] : "INVALID";
}

int pano_status_parse(const char *s)
{
	/* hview-client's letters (Panorama's), or the names, any case */
	static const struct { const char *letter; int status; } letters[] = {
		{ "n", PANO_NA }, { "h", PANO_HEALTHY }, { "p", PANO_PENDING }, { "m", PANO_MAYBE_UNHEALTHY },
		{ "u", PANO_UNHEALTHY }, { "d", PANO_DYING }, { "dd", PANO_DEAD },
	};
	for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
		if (strcmp(s, letters[i].letter) == 0)
			return letters[i].status;
	for (int st = PANO_NA; st <= PANO_STATUS_MAX; st++)
		if (strcasecmp(s, pano_status_name(st)) == 0)
			return st;
	return -1;
}

unsigned long long pano_handle_of(const char *observer)
{
	return (unsigned long long)(fnv1a(FNV1A_INIT, observer, strlen(observer)) | 1);
}
