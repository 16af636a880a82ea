/* inference.c - simple majority inference; see inference.h. */
#include "pano/node/inference.h"

#include <stdlib.h>
#include <string.h>


typedef struct {
	const char *name;
	uint8_t status;
	float score;
	unsigned cnt;
	bool stop;
	float ratio, loss; /* the newest value's evidence */
} view_metric;

static view_metric *find_metric(view_metric *m, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].name == name) /* interned */
			return &m[i];
	return NULL;
}

static int cmp_metric_name(const void *a, const void *b)
{
	return strcmp(((const pano_metric *)a)->name, ((const pano_metric *)b)->name);
}

bool pano_infer_view(const pano_view *v, pano_obs *out)
{
	memset(out, 0, sizeof(*out));
	if (v->count == 0)
		return false;
	const pano_obs *newest = pano_view_newest(v);
	/* Names seen over the whole view, bounded by the metrics of 10 obs. */
	size_t cap = 0;
	for (size_t i = 0; i < v->count; i++)
		cap += pano_view_at(v, i)->n;
	view_metric local[32];
	view_metric *agg = cap <= 32 ? local : calloc(cap, sizeof(*agg));
	if (!agg)
		return false;
	size_t n = 0;
	for (size_t k = v->count; k-- > 0;) {
		const pano_obs *o = pano_view_at(v, k);
		for (uint16_t j = 0; j < o->n; j++) {
			const pano_metric *m = &o->metrics[j];
			view_metric *a = find_metric(agg, n, m->name);
			if (!a) {
				agg[n++] = (view_metric){ m->name, m->status, m->score, 1, false, m->ratio, m->loss };
				continue;
			}
			if (a->stop || a->cnt >= PANO_VIEW_LOOKBACK)
				continue;
			if (m->status == PANO_PENDING && a->status == PANO_HEALTHY)
				continue; /* a resolved pending: skipped, not counted */
			if (m->status != a->status) {
				a->stop = true;
				continue;
			}
			a->score += m->score;
			a->cnt++;
		}
	}
	out->sec = newest->sec;
	out->nsec = newest->nsec;
	out->n = (uint16_t)n;
	out->metrics = malloc((n ? n : 1) * sizeof(pano_metric));
	if (!out->metrics) {
		if (agg != local)
			free(agg);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		float score = agg[i].cnt > 1 ? agg[i].score / (float)agg[i].cnt : agg[i].score;
		out->metrics[i] = (pano_metric){ agg[i].name, agg[i].status, score, NULL, agg[i].ratio, agg[i].loss };
	}
	qsort(out->metrics, n, sizeof(pano_metric), cmp_metric_name);
	if (agg != local)
		free(agg);
	return true;
}

typedef struct {
	const char *name;
	float sum;
	unsigned cnt;
	unsigned hist[PANO_STATUS_MAX + 1];
} pano_stat;

bool pano_inference_voted(const pano_inference *inf, size_t i)
{
	return inf->none_voted || inf->mute[i] == PANO_VOTES;
}

void pano_inference_clear(pano_inference *inf)
{
	free(inf->observers);
	free(inf->mute);
	pano_obs_clear(&inf->obs);
	memset(inf, 0, sizeof(*inf));
}

int pano_infer(const pano_view *const *views, size_t n, pano_inference *out)
{
	memset(out, 0, sizeof(*out));
	out->observers = malloc((n ? n : 1) * sizeof(*out->observers));
	out->mute = malloc(n ? n : 1);
	if (!out->observers || !out->mute) {
		pano_inference_clear(out);
		return -1;
	}
	out->nobservers = n;
	size_t cap = 0;
	for (size_t i = 0; i < n; i++) {
		out->observers[i] = views[i]->observer;
		out->mute[i] = views[i]->mute;
		cap += views[i]->has_summary ? views[i]->summary.n : 0;
	}
	pano_stat *stats = calloc(cap ? cap : 1, sizeof(*stats));
	if (!stats) {
		pano_inference_clear(out);
		return -1;
	}
	size_t nstats = 0;
	size_t voting = 0;
	for (size_t i = 0; i < n; i++) {
		out->stale += views[i]->mute == PANO_STALE;
		out->blamed += views[i]->mute == PANO_BLAMED;
		voting += views[i]->has_summary && views[i]->mute == PANO_VOTES;
	}
	out->all_stale = voting == 0 && out->stale > 0;
	out->none_voted = voting == 0;
	/* Views in natural order of observers: that also fixes the order of
	 * the float sums, so the result never depends on hash order. */
	for (size_t i = 0; i < n; i++) {
		if (!views[i]->has_summary || (voting > 0 && views[i]->mute != PANO_VOTES))
			continue;
		const pano_obs *summary = &views[i]->summary;
		if (!out->has_obs || pano_ts_cmp(summary->sec, summary->nsec, out->obs.sec, out->obs.nsec) > 0) {
			out->obs.sec = summary->sec;
			out->obs.nsec = summary->nsec;
		}
		out->has_obs = true;
		for (uint16_t j = 0; j < summary->n; j++) {
			const pano_metric *m = &summary->metrics[j];
			pano_stat *st = NULL;
			for (size_t k = 0; k < nstats; k++)
				if (stats[k].name == m->name) {
					st = &stats[k];
					break;
				}
			if (!st) {
				st = &stats[nstats++];
				st->name = m->name;
			}
			st->sum += m->score;
			st->cnt++;
			st->hist[m->status]++;
		}
	}
	out->obs.n = (uint16_t)nstats;
	out->obs.metrics = malloc((nstats ? nstats : 1) * sizeof(pano_metric));
	if (!out->obs.metrics) {
		free(stats);
		pano_inference_clear(out);
		return -1;
	}
	for (size_t k = 0; k < nstats; k++) {
		unsigned best = 0;
		uint8_t status = PANO_HEALTHY;
		for (int st = 0; st <= PANO_STATUS_MAX; st++) {
			if (stats[k].hist[st] > best || (stats[k].hist[st] == best && best > 0 && st > status)) {
				best = stats[k].hist[st];
				status = (uint8_t)st;
			}
		}
		out->obs.metrics[k] = (pano_metric){ stats[k].name, status, stats[k].sum / (float)stats[k].cnt, NULL, 0.0f, -1.0f };
	}
	qsort(out->obs.metrics, nstats, sizeof(pano_metric), cmp_metric_name);
	free(stats);
	return 0;
}
