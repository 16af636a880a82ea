/* natural.c - natural string order; see natural.h. */
#include "pano/common/natural.h"

#include <string.h>

static int is_digit(char c) { return c >= '0' && c <= '9'; }

int natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (is_digit(*a) && is_digit(*b)) {
			const char *sa = a, *sb = b;
			while (*sa == '0' && is_digit(sa[1]))
				sa++;
			while (*sb == '0' && is_digit(sb[1]))
				sb++;
			const char *ea = sa, *eb = sb;
			while (is_digit(*ea))
				ea++;
			while (is_digit(*eb))
				eb++;
			size_t la = (size_t)(ea - sa), lb = (size_t)(eb - sb);
			if (la != lb)
				return la < lb ? -1 : 1;
			int c = memcmp(sa, sb, la);
			if (c)
				return c;
			a = ea;
			b = eb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	if (*a || *b)
		return *a ? 1 : -1;
	return 0;
}

int natural_cmp_ptr(const void *a, const void *b)
{
	int c = natural_cmp(*(const char *const *)a, *(const char *const *)b);
	/* "peer@02" and "peer@2" tie numerically; keep the order total. */
	return c ? c : strcmp(*(const char *const *)a, *(const char *const *)b);
}
