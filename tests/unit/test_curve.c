/* Unit tests of CURVE certificates (pano/cert.h), the keyring
 * (pano/keyring.h) and hview-client's command parser (pano/command.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "pano/common/cert.h"
#include "pano/client/command.h"
#include "pano/node/keyring.h"
#include "pano/common/model.h"

static int parse(const char *text, bool secret, pano_cert *c, char *err)
{
	return pano_cert_parse(text, strlen(text), "t.pub", secret, c, err, 256);
}

/* A fresh certificate's text, as sonar-keygen writes it. */
static void cert_text(const pano_cert *c, bool secret, char *out, size_t len)
{
	snprintf(out, len, "# comment\n\nmetadata\n    name = \"%s\"\n    role = \"%s\"\n    extra = \"kept out\"\n"
	         "curve\n    public-key = \"%s\"\n%s%s%s",
	         c->name, pano_role_name(c->role), c->public_key, secret ? "    secret-key = \"" : "",
	         secret ? c->secret_key : "", secret ? "\"\n" : "");
}

static void generated_keys_read_back(void **state)
{
	(void)state;
	pano_cert g, c;
	char err[256], text[1024];
	assert_int_equal(pano_cert_generate("db-1", PANO_ROLE_NODE, &g, err, sizeof(err)), 0);
	assert_true(pano_key_valid(g.public_key));
	cert_text(&g, true, text, sizeof(text));
	assert_int_equal(parse(text, true, &c, err), 0);
	assert_string_equal(c.name, "db-1");
	assert_int_equal(c.role, PANO_ROLE_NODE);
	assert_string_equal(c.public_key, g.public_key);
	assert_string_equal(c.secret_key, g.secret_key);
	/* a public file is not enough where the secret is needed */
	cert_text(&g, false, text, sizeof(text));
	assert_int_equal(parse(text, false, &c, err), 0);
	assert_int_equal(parse(text, true, &c, err), -1);
	assert_non_null(strstr(err, "no secret-key"));
}

static void a_secret_must_match_its_public_key(void **state)
{
	(void)state;
	pano_cert a, b, c;
	char err[256], text[1024];
	assert_int_equal(pano_cert_generate("a", PANO_ROLE_OBSERVER, &a, err, sizeof(err)), 0);
	assert_int_equal(pano_cert_generate("b", PANO_ROLE_OBSERVER, &b, err, sizeof(err)), 0);
	memcpy(a.secret_key, b.secret_key, sizeof(a.secret_key));
	cert_text(&a, true, text, sizeof(text));
	assert_int_equal(parse(text, true, &c, err), -1);
	assert_non_null(strstr(err, "does not belong"));
}

static void bad_certificates_name_their_line(void **state)
{
	(void)state;
	static const struct { const char *text, *want; } cases[] = {
		{ "metadata\n    name = \"x\"\ncurve\n    public-key = \"short\"\n", "line 4: public-key is not 40" },
		{ "metadata\n    name = \"a b\"\n", "line 2: name must be" },
		{ "metadata\n    name = \"x\"\n    name = \"y\"\n", "line 3: name given twice" },
		{ "metadata\n    role = \"admin\"\n", "line 2: role must be" },
		{ "other\n", "line 1: unknown section" },
		{ "curve\n    private = \"x\"\n", "line 2: unknown curve field" },
		{ "curve\n    public-key = \"unterminated\n", "line 2: not key = \"value\"" },
		{ "curve\n    nothing here\n", "line 2: not key" },
		{ "metadata\n    name = \"x\"\n", "no curve public-key" },
		{ "", "no curve public-key" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pano_cert c;
		char err[256] = "";
		assert_int_equal(parse(cases[i].text, false, &c, err), -1);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
	}
	/* a NUL byte inside */
	pano_cert c;
	char err[256];
	assert_int_equal(pano_cert_parse("metadata\0x", 10, "t", false, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL"));
	/* a key with no name speaks for nobody */
	pano_cert g;
	char text[1024];
	assert_int_equal(pano_cert_generate("n", PANO_ROLE_OBSERVER, &g, err, sizeof(err)), 0);
	snprintf(text, sizeof(text), "curve\n    public-key = \"%s\"\n", g.public_key);
	assert_int_equal(parse(text, false, &c, err), -1);
	assert_non_null(strstr(err, "no metadata name"));
}

static void names_that_cannot_be_file_names_are_refused(void **state)
{
	(void)state;
	assert_true(pano_cert_name_valid("db-1.example.com"));
	assert_true(pano_cert_name_valid("obs@3"));
	assert_false(pano_cert_name_valid(""));
	assert_false(pano_cert_name_valid("."));
	assert_false(pano_cert_name_valid(".."));
	assert_false(pano_cert_name_valid("a/b"));
	assert_false(pano_cert_name_valid("a\"b"));
	assert_false(pano_cert_name_valid("a b"));
	char longname[300];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(pano_cert_name_valid(longname));
}

/* A directory with certificates for the keyring tests. */
static void make_dir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/test_curve.XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void keyring_finds_keys_and_nodes(void **state)
{
	(void)state;
	char dir[64], err[512];
	make_dir(dir, sizeof(dir));
	pano_cert n1, alice;
	assert_int_equal(pano_cert_generate("n1", PANO_ROLE_NODE, &n1, err, sizeof(err)), 0);
	assert_int_equal(pano_cert_generate("alice", PANO_ROLE_OBSERVER, &alice, err, sizeof(err)), 0);
	assert_int_equal(pano_cert_save(&n1, dir, err, sizeof(err)), 0);
	assert_int_equal(pano_cert_save(&alice, dir, err, sizeof(err)), 0);
	/* never overwritten */
	assert_int_equal(pano_cert_save(&alice, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exists already"));
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "%s/alice.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	pano_cert loaded;
	assert_int_equal(pano_cert_load(path, true, &loaded, err, sizeof(err)), 0);
	assert_string_equal(loaded.secret_key, alice.secret_key);
	chmod(path, 0640);
	assert_int_equal(pano_cert_load(path, true, &loaded, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));

	pano_keyring *k = pano_keyring_load(dir, err, sizeof(err));
	assert_non_null(k);
	assert_int_equal(pano_keyring_count(k), 2); /* the .key files are not read */
	const pano_cert *c = pano_keyring_find(k, alice.public_key);
	assert_non_null(c);
	assert_string_equal(c->name, "alice");
	assert_null(pano_keyring_find(k, "0000000000000000000000000000000000000000"));
	assert_non_null(pano_keyring_node(k, "n1"));
	assert_null(pano_keyring_node(k, "alice")); /* an observer is not a node */
	assert_string_equal(c->secret_key, ""); /* public files hold no secret */
	pano_keyring_free(k);

	/* the same public key under two names is refused */
	snprintf(path, sizeof(path), "%s/copy.pub", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "metadata\n    name = \"mallory\"\ncurve\n    public-key = \"%s\"\n", alice.public_key);
	fclose(f);
	assert_null(pano_keyring_load(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "share a public key"));
	remove_dir(dir);

	make_dir(dir, sizeof(dir));
	assert_null(pano_keyring_load(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "no public certificates"));
	remove_dir(dir);
	assert_null(pano_keyring_load("/nonexistent/keys", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/keys: No such file"));
}

static int parse_line(const char *line, pano_command *c, char *err)
{
	char buf[512];
	char *argv[PANO_COMMAND_ARGS_MAX];
	snprintf(buf, sizeof(buf), "%s", line);
	int argc = pano_command_split(buf, argv, PANO_COMMAND_ARGS_MAX);
	int rc = pano_command_parse(argc, argv, c, err, 256);
	/* the command points into buf: test only what is copied, or kind */
	return rc;
}

static void commands_parse_as_panorama_had_them(void **state)
{
	(void)state;
	pano_command c;
	char err[256];
	char line[] = "report db-1 rtt:h:90 cpu:UNHEALTHY:5.5";
	char *argv[8];
	int argc = pano_command_split(line, argv, 8);
	assert_int_equal(pano_command_parse(argc, argv, &c, err, sizeof(err)), 0);
	assert_int_equal(c.kind, PANO_CMD_REPORT);
	assert_string_equal(c.subject, "db-1");
	assert_int_equal(c.nmetrics, 2);
	assert_string_equal(c.metrics[0].name, "rtt");
	assert_int_equal(c.metrics[0].status, PANO_HEALTHY);
	assert_true(c.metrics[1].score == 5.5f);
	assert_int_equal(c.metrics[1].status, PANO_UNHEALTHY);
	pano_command_clear(&c);

	char line2[] = "get view alice db-1";
	argc = pano_command_split(line2, argv, 8);
	assert_int_equal(pano_command_parse(argc, argv, &c, err, sizeof(err)), 0);
	assert_int_equal(c.kind, PANO_CMD_GET);
	assert_string_equal(c.what, "view");
	assert_string_equal(c.observer, "alice");
	assert_string_equal(c.subject, "db-1");
	pano_command_clear(&c);

	char line3[] = "get db-1";
	argc = pano_command_split(line3, argv, 8);
	assert_int_equal(pano_command_parse(argc, argv, &c, err, sizeof(err)), 0);
	assert_string_equal(c.what, "report");
	pano_command_clear(&c);

	assert_int_equal(parse_line("list", &c, err), 0);
	assert_int_equal(c.kind, PANO_CMD_LIST);
	assert_int_equal(parse_line("quit", &c, err), 0);
	assert_int_equal(c.kind, PANO_CMD_EXIT);
	assert_int_equal(parse_line("watch", &c, err), 0);
	assert_null(c.subject);
}

static void bad_commands_say_how(void **state)
{
	(void)state;
	static const struct { const char *line, *want; } cases[] = {
		{ "report db-1", "usage: report subject" },
		{ "report db-1 rtt:h", "'rtt:h' is not metric:status:score" },
		{ "report db-1 :h:1", "is not metric:status:score" },
		{ "report db-1 rtt:h:nan", "is not metric:status:score" },
		{ "report db-1 rtt:h:1:2", "is not metric:status:score" },
		{ "report db-1 rtt:x:1", "status 'x' is not one of" },
		{ "report db-1 rtt:hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh:1", "is not one of" },
		{ "get view db-1", "usage: get" },
		{ "get a b c", "usage: get" },
		{ "list everything", "usage: list" },
		{ "dump all", "usage: dump" },
		{ "me", "usage: me observer" },
		{ "watch a b", "usage: watch" },
		{ "frobnicate", "unknown command 'frobnicate'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pano_command c;
		char err[256] = "";
		assert_int_equal(parse_line(cases[i].line, &c, err), 2);
		if (!strstr(err, cases[i].want))
			fail_msg("'%s': '%s' lacks '%s'", cases[i].line, err, cases[i].want);
		assert_int_equal(c.nmetrics, 0); /* nothing left to free */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(generated_keys_read_back),
		cmocka_unit_test(a_secret_must_match_its_public_key),
		cmocka_unit_test(bad_certificates_name_their_line),
		cmocka_unit_test(names_that_cannot_be_file_names_are_refused),
		cmocka_unit_test(keyring_finds_keys_and_nodes),
		cmocka_unit_test(commands_parse_as_panorama_had_them),
		cmocka_unit_test(bad_commands_say_how),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
