/* likelihood.c - the anomaly likelihood of NuPIC (anomaly_likelihood.py).
 *
 * Raw anomaly scores are noisy; what matters is whether the recent ones are
 * unusual for this series.  The scores are smoothed by a moving average of
 * 10; a normal distribution is fitted to the smoothed scores of the history
 * (re-estimated every reestimation_period steps, skipping the first
 * learning_period ones); the likelihood is one minus the tail probability of
 * the current smoothed score under it.  A tail probability in the red zone
 * (< 1e-5) right after another red one is raised to the yellow zone (1e-3),
 * so one event does not alarm twice.  0.5 during the probation
 * (learning_period + estimation_samples steps). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "htm/internal.h"

int likelihood_init(likelihood_state *l, const htm_params *p)
{
	memset(l, 0, sizeof(*l));
	l->learning = p->learning_period;
	l->samples = p->estimation_samples;
	l->window = p->historic_window;
	l->reestimate = p->reestimation_period ? p->reestimation_period : 1;
	l->scores = calloc(l->window ? l->window : 1, sizeof(*l->scores));
	return l->scores ? 0 : -1;
}

void likelihood_free(likelihood_state *l)
{
	free(l->scores);
}

double likelihood_log(double likelihood)
{
	return log(1.0000000001 - likelihood) / log(1.0 - 0.9999999999);
}

static double tail_probability(double x, double mean, double stdev)
{
	if (x < mean)
		x = 2 * mean - x; /* the distribution is symmetric: reflect */
	double z = (x - mean) / stdev;
	return 0.5 * erfc(z / 1.4142);
}

/* The moving averages (window 10) of the stored raw scores, from the
 * skip-th on, and their mean and variance (NuPIC's estimateNormal with its
 * lower bounds). */
static void estimate(likelihood_state *l, uint32_t skip)
{
	double ring[10] = { 0 }, total = 0, sum = 0, sumsq = 0;
	uint32_t n = 0, count = 0;
	for (uint32_t i = 0; i < l->nscores; i++) {
		double raw = l->scores[(l->head + l->window - l->nscores + i) % l->window] / 10000.0;
		if (n == 10)
			total -= ring[i % 10];
		else
			n++;
		ring[i % 10] = raw;
		total += raw;
		if (i < skip)
			continue;
		double avg = total / n;
		sum += avg;
		sumsq += avg * avg;
		count++;
	}
	double mean = count ? sum / count : 0.5;
	double var = count ? sumsq / count - mean * mean : 1e6;
	if (mean < 0.03)
		mean = 0.03;
	if (var < 0.0003)
		var = 0.0003;
	l->mean = mean;
	l->stdev = sqrt(var);
	l->have_dist = true;
}

double likelihood_step(likelihood_state *l, double raw)
{
	/* the short moving average of raw scores, updated every step */
	if (l->avg_n == 10)
		l->avg_total -= l->avg_ring[l->avg_head];
	else
		l->avg_n++;
	l->avg_ring[l->avg_head] = raw;
	l->avg_head = (l->avg_head + 1) % 10;
	l->avg_total += raw;

	double likelihood = 0.5;
	if (l->iteration >= (uint64_t)l->learning + l->samples) {
		if (!l->have_dist || l->iteration % l->reestimate == 0) {
			uint64_t shifted = l->iteration > l->window ? l->iteration - l->window : 0;
			uint64_t skip = l->learning > shifted ? l->learning - shifted : 0;
			if (skip > l->iteration)
				skip = l->iteration;
			estimate(l, (uint32_t)skip);
		}
		double tail = tail_probability(l->avg_total / l->avg_n, l->mean, l->stdev);
		/* NuPIC's filter: a red value right after a red one (as computed,
		 * before filtering) becomes yellow */
		bool prev_red = l->nhist > 0 && l->hist_lik[(l->nhist - 1) % 10] <= 1e-5;
		l->hist_lik[l->nhist % 10] = tail;
		l->nhist++;
		if (tail <= 1e-5 && prev_red)
			tail = 1e-3;
		likelihood = 1.0 - tail;
	}
	/* history of raw scores, then the step count */
	if (l->window) {
		l->scores[l->head] = (uint16_t)(raw * 10000.0 + 0.5);
		l->head = (l->head + 1) % l->window;
		if (l->nscores < l->window)
			l->nscores++;
	}
	l->iteration++;
	return likelihood;
}
