/* Unit tests of the targets file (agent/targets.h) and of the mesh's sample
 * (agent/mesh.h): what a file says, each error naming its line, and a ring
 * on which every member is probed by the same number of others. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/mesh.h"
#include "agent/targets.h"

static int parse(const char *text, target_list *l, char *err, size_t errlen)
{
	return targets_parse(text, strlen(text), "t.conf", l, err, errlen);
}

static void a_file_says_names_groups_labels_and_options(void **state)
{
	(void)state;
	target_list l;
	char err[256] = "";
	const char *text = "# the web tier\n"
	                   "\n"
	                   "10.0.0.7   name=web-1 group=web env=prod rack=r12   # primary\n"
	                   "\t10.0.0.8 method=tcp:443 interval=5 timeout=2 phi-threshold=2 anomaly-threshold=0.5\r\n"
	                   "db.example.org\n";
	assert_int_equal(parse(text, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 3);
	const target *t = &l.items[0];
	assert_string_equal(t->name, "web-1");
	assert_string_equal(t->address, "10.0.0.7");
	assert_string_equal(t->group, "web");
	assert_int_equal(t->nlabels, 2);
	assert_string_equal(t->labels[0], "env=prod"); /* sorted by key */
	assert_string_equal(target_label(t, "rack"), "r12");
	assert_null(target_label(t, "zone"));
	assert_false(t->method_set);
	assert_true(isnan(t->phi_threshold));
	assert_int_equal(t->line, 3);
	t = &l.items[1];
	assert_string_equal(t->name, "10.0.0.8"); /* no name: the address */
	assert_true(t->method_set);
	assert_int_equal(t->method.method, METHOD_TCP);
	assert_int_equal(t->method.tcp_port, 443);
	assert_true(t->interval_s == 5 && t->timeout_s == 2 && t->phi_threshold == 2 && t->anomaly_threshold == 0.5);
	assert_string_equal(l.items[2].group, "");
	double interval, timeout;
	target_timing(&l.items[1], 1, 1, 1, &interval, &timeout);
	assert_true(interval == 5 && timeout == 2);
	target_timing(&l.items[0], 1, 0.5, 4, &interval, &timeout); /* --burst 4: 0.25 s apart */
	assert_true(interval == 1 && timeout == 0.25);
	target_list copy;
	assert_int_equal(targets_copy(&copy, &l), 0);
	assert_true(target_probed_alike(&copy.items[1], &l.items[1]));
	assert_false(target_probed_alike(&copy.items[0], &l.items[1]));
	targets_free(&copy);
	targets_free(&l);
}

/* Each bad file: refused whole, with the file and line in the reason. */
static void every_error_names_its_line(void **state)
{
	(void)state;
	static const struct {
		const char *text, *says;
	} bad[] = {
		{ "10.0.0.1\n10.0.0.2 colour\n", "t.conf:2: 'colour' is not KEY=VALUE" },
		{ "10.0.0.1 name=a\n10.0.0.2 name=a\n", "t.conf:2: target 'a' is already on line 1" },
		{ "10.0.0.1\n\n10.0.0.1\n", "t.conf:3: target '10.0.0.1' is already on line 1" },
		{ "10.0.0.1 interval=0\n", "t.conf:1: interval '0' is not a number of seconds" },
		{ "10.0.0.1 interval=1 timeout=2\n", "t.conf:1: timeout 2 is longer than the interval 1" },
		{ "10.0.0.1 method=udp\n", "t.conf:1: method 'udp' is not" },
		{ "10.0.0.1 host=x\n", "t.conf:1: 'host' is not a label name" },
		{ "10.0.0.1 9lives=x\n", "t.conf:1: '9lives' is not a label name" },
		{ "10.0.0.1 env=a,b\n", "t.conf:1: label env: 'a,b' is not printable" },
		{ "10.0.0.1 env=a env=b\n", "t.conf:1: label env given twice" },
		{ "bad,host\n", "t.conf:1: 'bad,host' is not a host name or address" },
		{ "10.0.0.1 name=\"x\"\n", "t.conf:1: name '\"x\"' is not letters" },
		{ "10.0.0.1 anomaly-threshold=2\n", "t.conf:1: anomaly-threshold '2' is not a number in [0, 1]" },
		{ "# nothing\n\n", "t.conf: no target in it" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		target_list l = { NULL, 0, 0 };
		char err[256] = "";
		assert_int_equal(parse(bad[i].text, &l, err, sizeof(err)), -1);
		if (!strstr(err, bad[i].says))
			fail_msg("%s: said '%s', not '%s'", bad[i].text, err, bad[i].says);
		assert_int_equal(l.n, 0);
	}
	/* a NUL, and a line too long */
	char text[8000];
	target_list l;
	char err[256];
	memcpy(text, "10.0.0.1\n10.0\0.0.2\n", 19);
	assert_int_equal(targets_parse(text, 19, "t.conf", &l, err, sizeof(err)), -1);
	assert_string_equal(err, "t.conf:2: a NUL byte");
	memset(text, 'a', 5000);
	assert_int_equal(targets_parse(text, 5000, "t.conf", &l, err, sizeof(err)), -1);
	assert_string_equal(err, "t.conf:1: line longer than 4096 bytes");
}

static void the_command_line_hosts_are_bare_targets(void **state)
{
	(void)state;
	char *hosts[] = { "10.0.0.1", "::1", "10.0.0.1" };
	target_list l;
	char err[256];
	assert_int_equal(targets_from_hosts(hosts, 2, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.items[1].name, "::1");
	targets_free(&l);
	assert_int_equal(targets_from_hosts(hosts, 3, &l, err, sizeof(err)), -1);
	assert_string_equal(err, "the command line: host '10.0.0.1' given twice");
}

/* With more members than peers, every member is probed by exactly peers
 * others, and one that joins changes few lists. */
static void the_mesh_sample_covers_every_member_evenly(void **state)
{
	(void)state;
	enum { N = 40, PEERS = 5 };
	char *members[N + 1];
	char names[N + 1][32];
	for (int i = 0; i <= N; i++) {
		snprintf(names[i], sizeof(names[i]), "10.1.%d.%d", i / 10, i % 10);
		members[i] = names[i];
	}
	int probed_by[N] = { 0 };
	const char *before[N][PEERS];
	for (int i = 0; i < N; i++) {
		const char *out[PEERS];
		size_t k = mesh_sample(members[i], members, N, PEERS, out);
		assert_int_equal(k, PEERS);
		for (size_t j = 0; j < k; j++) {
			assert_string_not_equal(out[j], members[i]);
			for (int m = 0; m < N; m++)
				probed_by[m] += strcmp(out[j], members[m]) == 0;
			before[i][j] = out[j];
		}
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(probed_by[i], PEERS);
	/* one joins: at most PEERS others' lists change */
	int changed = 0;
	for (int i = 0; i < N; i++) {
		const char *out[PEERS];
		mesh_sample(members[i], members, N + 1, PEERS, out);
		changed += memcmp(out, before[i], sizeof(out)) != 0;
	}
	assert_true(changed <= PEERS);
	/* few members: all the others */
	const char *out[PEERS];
	assert_int_equal(mesh_sample(members[0], members, 4, PEERS, out), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_file_says_names_groups_labels_and_options),
		cmocka_unit_test(every_error_names_its_line),
		cmocka_unit_test(the_command_line_hosts_are_bare_targets),
		cmocka_unit_test(the_mesh_sample_covers_every_member_evenly),
	};
	return cmocka_run_group_tests_name("targets", tests, NULL, NULL);
}
