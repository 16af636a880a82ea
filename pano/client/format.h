/*
 * format.h - Panorama's output formats, byte for byte where its README
 * shows them.
 *
 *   observation  2017-05-19T08:13:15.385767379Z { snapshot: UNHEALTHY, 30.0; }
 *                (metrics sorted by name; "{}" when it has none)
 *   report       Go's compact protobuf text:
 *                observer:"peer@2" subject:"peer@1" observation:<ts:<seconds:... > ... >
 *   inference    [obs1 obs2] ==> subject: <observation>
 *   panorama     [[... observer->subject (N observations) ...]]
 *                  |observer| <observation>     one line per observation
 *   subjects     subject<TAB>2017-05-21 08:00:39.367133633 +0000 UTC
 */
#ifndef PANO_FORMAT_H
#define PANO_FORMAT_H

#include <stdint.h>
#include <stdio.h>

#include "panorama.pb-c.h"

/* RFC 3339 with nanoseconds, trailing zeros trimmed (Go's RFC3339Nano). */
void fmt_rfc3339(char *buf, size_t len, int64_t sec, int32_t nsec);
/* Go's time.Time.String() in UTC. */
void fmt_go_time(char *buf, size_t len, int64_t sec, int32_t nsec);
/* Go's shortest float32 formatting (%v). */
void fmt_go_float(char *buf, size_t len, float v);

void fmt_observation(FILE *out, const Panorama__Observation *o);
void fmt_report_text(FILE *out, const Panorama__Report *r);
void fmt_view(FILE *out, const Panorama__View *v);
void fmt_panorama(FILE *out, const Panorama__Panorama *p);
void fmt_inference(FILE *out, const Panorama__Inference *inf);

const char *fmt_status(int status);

/* One blame a line: KIND HOSTS [GROUP] since TIME: BAD of VIEWS views bad[,
 * RATIO x baseline][, loss N%] (CloudSonar's; Panorama has no such thing).
 * Names are printed as they are when printable, escaped otherwise. */
void fmt_blame(FILE *out, const Panorama__Blame *b);

#endif
