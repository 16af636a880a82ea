/*
 * internal.h - the HTM model's parts and their state, shared by the files
 * of htm/ only (htm.h is the public interface).
 */
#ifndef CLOUDSONAR_HTM_INTERNAL_H
#define CLOUDSONAR_HTM_INTERNAL_H

#include "htm/htm.h"

/* xorshift64*: small, fast, and the same on every machine. */
static inline uint64_t htm_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(2685821657736338717);
}
static inline uint32_t htm_rand_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)((htm_rand(s) >> 32) % n);
}

/* --- encoder.c ----------------------------------------------------------- */
size_t encode_value(const htm_params *p, double value, uint16_t *bits);
size_t encode_time(const htm_params *p, int64_t time, uint16_t offset, uint16_t *bits);

/* --- sp.c: spatial pooler ------------------------------------------------ */
typedef struct {
	uint16_t inputs, columns, potential, k;
	uint16_t connected, inc, dec;   /* permanences scaled to 0..65535 */
	/* Synapse column * potential + slot; the pools themselves are only
	 * needed to build the index (they follow from the seed). */
	uint16_t *perm;                 /* columns x potential permanences */
	uint32_t *index_start;          /* inputs + 1: where each input's entries start */
	uint16_t *index;                /* synapses, by input bit */
	uint16_t *overlap;              /* columns, scratch */
	uint8_t *winner;                /* columns, scratch */
} sp_state;

int sp_init(sp_state *sp, const htm_params *p, uint16_t inputs, uint64_t *rng);
void sp_free(sp_state *sp);
/* Active columns (sorted) for the active input bits; learns if asked. */
size_t sp_compute(sp_state *sp, const uint16_t *bits, size_t nbits, bool learn, uint16_t *cols);
size_t sp_memory(const sp_state *sp);

/* --- tm.c: temporal memory ----------------------------------------------- */
#define TM_FREE 0xFFFFu
typedef struct {
	uint16_t columns;
	uint8_t cpc, max_syn, new_syn, act_th, min_th;
	uint8_t connected, initial, inc, dec;   /* permanences scaled to 0..255 */
	uint16_t max_segs;
	uint32_t cells;
	uint32_t clock;                 /* steps, for least-recently-used segments */
	/* segments */
	uint16_t *seg_cell;             /* TM_FREE: unused */
	uint8_t *seg_nsyn;
	uint32_t *seg_used;
	uint16_t *syn_pre;              /* max_segs x max_syn */
	uint8_t *syn_perm;
	/* Synapses by presynaptic cell: a linked list per cell through
	 * syn_next, so a step visits only the synapses of its active cells. */
	uint16_t *cell_head;            /* cells: first synapse, or TM_FREE */
	uint16_t *syn_next;             /* max_segs x max_syn */
	uint16_t *touched;              /* segments reached this step */
	uint32_t ntouched;
	uint8_t *seg_conn, *seg_pot;    /* activity from the last active cells */
	uint8_t *cell_segs;             /* segments per cell */
	/* the last step */
	uint16_t *active, *winners;     /* cells */
	uint32_t nactive, nwinners;
	uint16_t *prev_active, *prev_winners;
	uint32_t nprev_active, nprev_winners;
	uint64_t *active_bits;          /* bitmap of the active cells */
	uint64_t *prev_active_bits;     /* and of the previous step's */
	uint8_t syn_shift;              /* log2(max_syn): synapse id = seg << shift | slot */
	uint16_t *act_segs, *match_segs; /* active / matching segments */
	uint32_t nact_segs, nmatch_segs;
	/* Per column, its active and matching segments as linked lists
	 * (heads per column, links per segment), rebuilt every step. */
	uint16_t *act_head, *match_head, *act_next, *match_next;
	uint64_t *mark;                 /* cells bitmap: active cells being added */
	uint64_t *gmark;                /* cells bitmap: scratch for grow */
	uint8_t *predicted_col;         /* columns predicted for the next step */
	uint64_t rng;
} tm_state;

int tm_init(tm_state *tm, const htm_params *p, uint64_t seed);
/* After loading: checks that the presynaptic lists hold every synapse
 * exactly once (0), then rebuilds the derived state. */
int tm_check_lists(const tm_state *tm);
void tm_relink(tm_state *tm);
void tm_free(tm_state *tm);
/* One step over the active columns (sorted); returns the raw anomaly. */
double tm_compute(tm_state *tm, const uint16_t *cols, size_t ncols, bool learn);
size_t tm_memory(const tm_state *tm);

/* --- likelihood.c: NuPIC's anomaly likelihood ----------------------------- */
typedef struct {
	uint32_t learning, samples, window, reestimate;
	uint64_t iteration;
	uint16_t *scores;               /* ring of the last `window` raw scores x 10000 */
	uint32_t nscores, head;
	double avg_ring[10];            /* moving average (10) of raw scores */
	uint32_t avg_n, avg_head;
	double avg_total;
	double mean, stdev;
	bool have_dist;
	double hist_lik[10];            /* last likelihoods, for the filter */
	uint32_t nhist;
} likelihood_state;

int likelihood_init(likelihood_state *l, const htm_params *p);
void likelihood_free(likelihood_state *l);
double likelihood_step(likelihood_state *l, double raw);
double likelihood_log(double likelihood);

/* --- htm.c: the model --------------------------------------------------- */
struct htm_model {
	htm_params p;
	uint64_t rng;           /* after initialisation: kept for the blob */
	uint64_t steps;
	uint16_t inputs;
	sp_state sp;
	tm_state tm;
	likelihood_state lk;
	uint16_t *cols;         /* active columns of the last step */
	size_t ncols;
	uint16_t *bits;         /* scratch: the encoding */
	float *col_value;       /* per column: running mean of the values it stood for */
	uint16_t *col_count;
};

#endif
