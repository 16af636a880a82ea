/* attention.c - the needs-attention rule; see attention.h. */
#include "attention.h"

#include <math.h>
#include <stdint.h>

attention_tracker attention_tracker_init(void)
{
	attention_tracker t = { ATTENTION_HEALTHY, 0, 0, false };
	return t;
}

static attention_state classify(const attention_params *p, attention_tracker *t, double phi, double anomaly)
{
	bool bad = phi > p->phi_threshold;
	bool unexpected = !isnan(anomaly) && anomaly > p->anomaly_threshold;
	/* The anomaly marks the moment things changed; the slowdown it
	 * flagged must last, and then lasts as long as phi still finds the
	 * host bad. */
	if (!bad)
		t->confirming = 0;
	else if (t->confirming > 0 || unexpected)
		t->confirming = t->confirming < UINT32_MAX ? t->confirming + 1 : t->confirming;
	if (t->lost_in_a_row >= ATTENTION_DEAD_AFTER)
		return ATTENTION_DEAD;
	unsigned need = p->confirm ? p->confirm : 1;
	if (bad && (t->confirming >= need || t->state == ATTENTION_NEEDS_ATTENTION))
		return ATTENTION_NEEDS_ATTENTION;
	if (bad || unexpected)
		return ATTENTION_PENDING;
	return ATTENTION_HEALTHY;
}

bool attention_update(attention_tracker *t, const attention_params *p,
                      bool lost, double phi, double anomaly)
{
	t->lost_in_a_row = lost ? t->lost_in_a_row + 1 : 0;
	attention_state next = classify(p, t, phi, anomaly);
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
