/*
 * grow.h - arrays that double as they fill.
 *
 *	if (grow_array(&r->want, &r->capwant, r->nwant + 1, sizeof(*r->want), 16) != 0)
 *		return -1;
 *	r->want[r->nwant++] = w;
 */
#ifndef PANO_GROW_H
#define PANO_GROW_H

#include <stddef.h>

/* Makes the array at *items (a pointer to any element type, capacity *cap)
 * hold at least need elements of elem bytes, doubling from first.  0, or
 * -1 when memory is short or the size would overflow (nothing changed). */
int grow_array(void *items, size_t *cap, size_t need, size_t elem, size_t first);

#endif
