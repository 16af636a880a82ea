/*
 * inference.h - Panorama's simple majority inference.
 *
 * Per view, newest first, per metric: the newest value; older values of the
 * same status are averaged in, at most PANO_VIEW_LOOKBACK of them; an older
 * PENDING behind a newer HEALTHY is passed over (pending was temporary); a
 * different status ends the look-back.
 *
 * Across views, per metric: the most frequent status (a tie goes to the
 * worse, higher status), the mean score, and the newest timestamp of any
 * view.  Only views that vote take part (pano_view.mute: a stale view, or
 * one a blame explains, does not); when none does, all do, and the
 * inference says it is of stale views.  Observers are all observers of the
 * subject in natural order, each with its view's mute (why it did not vote).
 * Scores are summed in float, as Panorama does.
 *
 * A pure function of the views: the stored observations are never touched,
 * and the same views always give the same inference, so a restarted node
 * reproduces its inferences from its restored store.
 */
#ifndef PANO_INFERENCE_H
#define PANO_INFERENCE_H

#include "pano/common/model.h"

#define PANO_VIEW_LOOKBACK 2

typedef struct {
	size_t nobservers;
	const char **observers; /* natural order; owned array, interned names */
	uint8_t *mute;          /* each observer's view's pano_view.mute; owned */
	bool has_obs;           /* false when every view is empty */
	size_t stale, blamed;   /* views that did not vote, and why */
	bool all_stale;         /* no view voted: the inference is of stale views */
	bool none_voted;        /* no view voted (stale or blamed): all were counted */
	pano_obs obs;
} pano_inference;

/* Infers over n views in natural order of their observers, each with its
 * summary current (pano_infer_view).  0, or -1 when out of memory. */
int pano_infer(const pano_view *const *views, size_t n, pano_inference *out);
void pano_inference_clear(pano_inference *inf);
/* Whether observer i's view counted: it voted, or none did (then all count).
 * The observers an inference names are those (wire.h, the console), so
 * Panorama's output keeps its format and lists who was heard. */
bool pano_inference_voted(const pano_inference *inf, size_t i);

/* The summary of one view (exposed for tests); false when it is empty. */
bool pano_infer_view(const pano_view *v, pano_obs *out);

#endif
