/*
 * safeout.h - a stdio stream that shows what a server sent without letting
 * it drive the terminal.
 *
 * hview-client prints names, error texts and values a node sends; a node
 * of another version, a peer or an old database can hold escape sequences
 * or bytes that are not UTF-8.  Written through this stream, valid UTF-8
 * and newlines and tabs pass; control characters (C0, DEL, C1) and bytes
 * that are not UTF-8 are shown as \xNN.
 */
#ifndef PANO_SAFEOUT_H
#define PANO_SAFEOUT_H

#include <stdio.h>

/* A line-buffered stream writing to fd through the filter; NULL on failure.
 * fclose() flushes it and leaves fd open. */
FILE *pano_safe_stream(int fd);

#endif
