/* attention.c - the needs-attention rule; see attention.h. */
#include "attention.h"

#include <math.h>

attention_tracker attention_tracker_init(void)
{
	attention_tracker t = { ATTENTION_HEALTHY, 0, false };
	return t;
}

static attention_state classify(const attention_params *p, attention_state now, unsigned lost_run,
                                double phi, double anomaly)
{
	if (lost_run >= ATTENTION_DEAD_AFTER)
		return ATTENTION_DEAD;
	bool bad = phi > p->phi_threshold;
	bool unexpected = !isnan(anomaly) && anomaly > p->anomaly_threshold;
	/* The anomaly marks the moment things changed; the slowdown it
	 * flagged lasts as long as phi still finds the host bad. */
	if (bad && (unexpected || now == ATTENTION_NEEDS_ATTENTION))
		return ATTENTION_NEEDS_ATTENTION;
	if (bad || unexpected)
		return ATTENTION_PENDING;
	return ATTENTION_HEALTHY;
}

bool attention_update(attention_tracker *t, const attention_params *p,
                      bool lost, double phi, double anomaly)
{
	t->lost_in_a_row = lost ? t->lost_in_a_row + 1 : 0;
	attention_state next = classify(p, t->state, t->lost_in_a_row, phi, anomaly);
	bool changed = !t->started || next != t->state;
	t->started = true;
	t->state = next;
	return changed;
}

const char *attention_state_name(attention_state s)
{
	switch (s) {
	case ATTENTION_HEALTHY: return "HEALTHY";
	case ATTENTION_PENDING: return "PENDING";
	case ATTENTION_NEEDS_ATTENTION: return "NEEDS_ATTENTION";
	case ATTENTION_DEAD: return "DEAD";
	}
	return "UNKNOWN";
}
