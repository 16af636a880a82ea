/*
 * natural.h - "natural" string order: runs of digits compare as numbers, so
 * peer@2 sorts before peer@10 (list subject, observers).
 */
#ifndef PANO_NATURAL_H
#define PANO_NATURAL_H

int natural_cmp(const char *a, const char *b);
/* qsort comparator over an array of const char *. */
int natural_cmp_ptr(const void *a, const void *b);

#endif
