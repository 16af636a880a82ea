/* timefmt.c - ISO 8601 UTC timestamps with milliseconds; see timefmt.h. */
#include "agent/timefmt.h"

#include <stdbool.h>
#include <string.h>

#include <string.h>
#include <time.h>

static void put_digits(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void timefmt_format(int64_t ms, char buf[TIMEFMT_LEN])
{
	int64_t secs = ms / 1000, frac = ms % 1000;
	if (frac < 0) {
		frac += 1000;
		secs -= 1;
	}
	time_t t = (time_t)secs;
	struct tm tm;
	memcpy(buf, "0000-00-00T00:00:00.000Z", TIMEFMT_LEN);
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		return;
	put_digits(buf, tm.tm_year + 1900, 4);
	put_digits(buf + 5, tm.tm_mon + 1, 2);
	put_digits(buf + 8, tm.tm_mday, 2);
	put_digits(buf + 11, tm.tm_hour, 2);
	put_digits(buf + 14, tm.tm_min, 2);
	put_digits(buf + 17, tm.tm_sec, 2);
	put_digits(buf + 20, (int)frac, 3);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int timefmt_parse(const char *s, size_t len, int64_t *ms)
{
	int y, mo, d, h, mi, se, f;
	if (len != TIMEFMT_LEN - 1 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[19] != '.' || s[23] != 'Z')
		return -1;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
	    digits(s + 17, 2, &se) || digits(s + 20, 3, &f))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
	                 .tm_hour = h, .tm_min = mi, .tm_sec = se };
	time_t t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d) /* timegm normalises 31 Feb */
		return -1;
	*ms = (int64_t)t * 1000 + f;
	return 0;
}

int timefmt_parse_user(const char *s, int64_t *ms)
{
	int y, mo, d, h = 0, mi = 0, se = 0;
	int64_t frac_ms = 0;
	const char *p = s;
	if (digits(p, 4, &y) || p[4] != '-' || digits(p + 5, 2, &mo) || p[7] != '-' || digits(p + 8, 2, &d))
		return -1;
	p += 10;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &mi))
			return -1;
		p += 5;
		if (*p == ':') {
			if (digits(p + 1, 2, &se))
				return -1;
			p += 3;
			if (*p == '.') {
				int n = 0, scale = 100;
				for (p++; *p >= '0' && *p <= '9'; p++, n++) {
					frac_ms += (*p - '0') * scale;
					scale /= 10;
				}
				if (n == 0 || n > 9)
					return -1;
			}
		}
	}
	/* UTC only, in the ways it is written */
	static const char *const utc[] = { "", "Z", "z", "+00:00", "+0000", " +0000 UTC", " UTC", "UTC", " +00:00" };
	bool is_utc = false;
	for (size_t i = 0; i < sizeof(utc) / sizeof(utc[0]) && !is_utc; i++)
		is_utc = strcmp(p, utc[i]) == 0;
	if (!is_utc || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = se };
	time_t t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d)
		return -1;
	*ms = (int64_t)t * 1000 + frac_ms;
	return 0;
}
