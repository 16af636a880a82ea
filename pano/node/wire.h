/*
 * wire.h - between the store's model and the protobuf messages on the wire.
 *
 * Decoding checks every field of an untrusted observation against the
 * store's bounds.  Encoding builds messages in an arena (arena.h); they
 * point at the store's strings and are valid until the arena is reset and
 * while the store is unchanged.
 */
#ifndef PANO_WIRE_H
#define PANO_WIRE_H

#include <stdint.h>

#include "pano/common/arena.h"
#include "panorama.pb-c.h"
#include "pano/node/judge.h"
#include "pano/node/store.h"

/* How far ahead of the node's clock an observation's time may be. */
#define PANO_MAX_FUTURE_SEC (24 * 3600)

/* Checks every string field of a packed message of type desc, at any
 * depth, as protobuf-c does not: well-formed UTF-8 with no NUL (protobuf-c
 * would cut a string at its NUL; other implementations refuse invalid
 * UTF-8).  0, or -1 with the field's name in err. */
int wire_strings_valid(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                       char *err, size_t errlen);

/* Converts and validates; 0, or -1 with a reason.  out owns its metrics.
 * A refusal leaves no metric name interned that was not there before. */
int pano_obs_from_pb(pano_store *s, const Panorama__Observation *in, int64_t now_sec,
                     pano_obs *out, char *err, size_t errlen);

Google__Protobuf__Timestamp *wire_ts(arena *a, int64_t sec, int32_t nsec);
Panorama__Observation *wire_obs(arena *a, const pano_obs *o);
Panorama__View *wire_view(arena *a, const pano_view *v);
Panorama__Panorama *wire_panorama(arena *a, const pano_subject *sub);
Panorama__Inference *wire_inference(arena *a, const pano_subject *sub);
/* The current blames (judge.h), as GetBlameReply. */
Panorama__GetBlameReply *wire_blames(arena *a, const judge_blame *b, size_t n);
/* The newest observation of the subject over all views, as a Report. */
Panorama__Report *wire_latest_report(arena *a, const pano_subject *sub);

#endif
