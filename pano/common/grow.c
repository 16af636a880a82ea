/* grow.c - arrays that double as they fill; see grow.h. */
#include "pano/common/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int grow_array(void *items, size_t *cap, size_t need, size_t elem, size_t first)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : first;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -1;
		n *= 2;
	}
	if (elem && n > SIZE_MAX / elem)
		return -1;
	void *old; /* the caller's pointer, whatever it points to */
	memcpy(&old, items, sizeof(old));
	void *grown = realloc(old, n * elem);
	if (!grown)
		return -1;
	memcpy(items, &grown, sizeof(grown));
	*cap = n;
	return 0;
}
