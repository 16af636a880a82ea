/*
 * htm.h - a compact HTM (hierarchical temporal memory) anomaly model.
 *
 * One model per monitored series, small enough to run one per host:
 *
 *   value --(random distributed scalar encoder)--+
 *   time  --(time-of-day encoder, optional)------+--> input SDR
 *   input SDR --(spatial pooler)--> active columns
 *   active columns --(temporal memory)--> active / predicted cells
 *
 * Each step returns the raw anomaly score (the fraction of active columns
 * the temporal memory did not predict), the anomaly likelihood over the
 * recent history of raw scores (as NuPIC's AnomalyLikelihood), its log
 * scaled form, and a one-step-ahead forecast of the next input value.
 *
 * Deterministic: a model is a function of its parameters (seed included)
 * and its inputs; the same inputs give byte-identical outputs.  No I/O: a
 * model saves to and loads from a versioned byte blob, so a restarted
 * agent continues where it stopped.
 */
#ifndef CLOUDSONAR_HTM_H
#define CLOUDSONAR_HTM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every parameter, with the default htm_params_default gives. */
typedef struct {
	uint64_t seed;              /* 42: the model's only source of randomness */
	/* Value encoder (random distributed scalar encoder). */
	double resolution;          /* 0.05: bucket width, in input units */
	uint16_t value_bits;        /* 400 */
	uint16_t value_active;      /* 21 bits per value; neighbours share 20 */
	/* Time-of-day encoder: a ring of buckets over 24 h. */
	bool time_of_day;           /* true */
	uint16_t tod_bits;          /* 120 */
	uint16_t tod_active;        /* 11 (a window of ~2 h) */
	/* Spatial pooler. */
	uint16_t columns;           /* 512 */
	uint16_t active_columns;    /* 10 (2%) */
	uint16_t potential;         /* 24 input bits a column may connect to */
	double sp_connected;        /* 0.2 */
	double sp_inc, sp_dec;      /* 0.003, 0.0005 */
	/* Temporal memory. */
	uint8_t cells_per_column;   /* 12 */
	uint16_t max_segments;      /* 1536 over the whole model (LRU beyond) */
	uint8_t max_synapses;       /* 16 per segment */
	uint8_t new_synapses;       /* 8 grown per learning segment */
	uint8_t activation_threshold; /* 5 connected active synapses */
	uint8_t min_threshold;      /* 4 potential active synapses to match */
	double tm_connected;        /* 0.5 */
	double tm_initial;          /* 0.21 */
	double tm_inc, tm_dec;      /* 0.1, 0.1 */
	/* Anomaly likelihood (NuPIC's). */
	uint32_t learning_period;   /* 288 steps before estimating */
	uint32_t estimation_samples; /* 100 */
	uint32_t historic_window;   /* 8640 raw scores kept */
	uint32_t reestimation_period; /* 100 */
} htm_params;

htm_params htm_params_default(void);

typedef struct {
	double raw_anomaly;     /* in [0,1] */
	double likelihood;      /* in [0,1]; 0.5 during the probation */
	double log_likelihood;  /* likelihood on a log scale, in [0,1] */
	bool has_prediction;
	double prediction;      /* forecast of the next input value */
} htm_result;

typedef struct htm_model htm_model;

/* NULL when the parameters are out of range or memory is short. */
htm_model *htm_new(const htm_params *p);
void htm_free(htm_model *m);

/* One step: value, and its time (unix seconds; used when the time-of-day
 * encoder is on, ignored when time < 0).  learn = false only scores. */
void htm_step(htm_model *m, double value, int64_t time, bool learn, htm_result *out);

/* Bytes of memory the model holds. */
size_t htm_memory(const htm_model *m);

/* Versioned, checksummed blob of the whole model, parameters included. */
size_t htm_state_size(const htm_model *m);
int htm_save(const htm_model *m, uint8_t *buf, size_t cap, size_t *len);
htm_model *htm_load(const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Pieces, exposed for tests. */
/* The encoder's active bits for a value (and time); returns their count. */
size_t htm_encode(const htm_model *m, double value, int64_t time, uint16_t *bits, size_t cap);
/* Columns active after the last step (sorted); returns their count. */
size_t htm_active_columns(const htm_model *m, uint16_t *cols, size_t cap);

#endif
