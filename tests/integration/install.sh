#!/bin/bash
# make install into a staging folder: the programs and their man pages, the
# client library (a program built with pkg-config reports to a node through
# it), the systemd units pointing at the installed programs, the logrotate
# file, the cron file, the node's config, the docs (every link holding) and
# the Prometheus examples; make uninstall takes them all away again but the
# config, which may be the operator's by then.
. "$(dirname "$0")/../lib.sh"
cd "$WORK"
S=$WORK/stage
make -s -C "$ROOT" install DESTDIR="$S" PREFIX=/opt/cloudsonar >install.out 2>&1
check "make install into a staging folder succeeds" test $? -eq 0
for b in sonar-agent sonar-replay sonar-plot hview-server hview-client hview-mkrc hview-logtail sonar-keygen htm-detect nab-score; do
	[ -x "$S/opt/cloudsonar/bin/$b" ] || missing="${missing:-} $b"
done
check "every program is installed${missing:+ (missing:$missing)}" test -z "${missing:-}"
check "the installed agent runs" bash -c "'$S/opt/cloudsonar/bin/sonar-agent' --help | grep -q 'usage'"
check "the systemd units start the installed programs" \
	bash -c "grep -q '^ExecStart=/opt/cloudsonar/bin/sonar-agent ' '$S/opt/cloudsonar/lib/systemd/system/sonar-agent.service' &&
	         grep -q '^ExecStart=/opt/cloudsonar/bin/hview-server ' '$S/opt/cloudsonar/lib/systemd/system/hview-server.service'"
check "the logrotate file is installed" test -s "$S/etc/logrotate.d/cloudsonar"
if command -v logrotate >/dev/null; then
	check "logrotate reads it" logrotate -d -s "$WORK/lr.state" "$S/etc/logrotate.d/cloudsonar"
fi
check "the docs and the Prometheus examples are installed" \
	bash -c "[ -s '$S/opt/cloudsonar/share/doc/cloudsonar/docs/detection.md' ] && [ -s '$S/opt/cloudsonar/share/doc/cloudsonar/prometheus/panorama.rules.yml' ]"
# every relative link of the installed README and docs leads to a file
D=$S/opt/cloudsonar/share/doc/cloudsonar
broken=""
for f in "$D/README.md" "$D"/docs/*.md; do
	for l in $(grep -o '](\([^)#:]*\)[#)]' "$f" | sed 's/^](//; s/[#)]$//' | sort -u); do
		[ -e "$(dirname "$f")/$l" ] || broken="$broken $(basename "$f"):$l"
	done
done
check "every link of the installed docs holds${broken:+ (broken:$broken)}" test -z "$broken"
check "the cron file is installed, its job commented out, at the installed agent" \
	bash -c "grep -q '^#\*/5 .* /opt/cloudsonar/bin/sonar-agent ' '$S/etc/cron.d/sonar-agent' && ! grep -q '^[^#A-Z]' '$S/etc/cron.d/sonar-agent'"
check "the node's config is installed, and the installed node takes it" \
	bash -c "grep -q '\"DBFile\": \"/var/lib/cloudsonar/panorama.db\"' '$S/etc/cloudsonar/hview-server.cfg'"
echo '{"Addr": "127.0.0.1:1"}' >"$S/etc/cloudsonar/hview-server.cfg"
make -s -C "$ROOT" install DESTDIR="$S" PREFIX=/opt/cloudsonar >install2.out 2>&1
check "a second install keeps a config that is there" grep -q '127.0.0.1:1' "$S/etc/cloudsonar/hview-server.cfg"
# --- man pages: one a program, and the library's -----------------------------------
I=$S/opt/cloudsonar
pages=0 bad=""
for b in sonar-agent sonar-replay sonar-plot hview-server hview-client hview-mkrc hview-logtail sonar-keygen htm-detect nab-score; do
	f=$I/share/man/man1/$b.1
	if [ -s "$f" ] && MANWIDTH=80 man -l "$f" >man.out 2>man.err && [ ! -s man.err ] && grep -q "^NAME" man.out; then
		pages=$((pages + 1))
	else
		bad="$bad $b"
	fi
done
check "man -l shows every program's page, without a warning ($pages${bad:+; bad:$bad})" test -z "$bad"
check "and the library's, libcloudsonar(3)" \
	bash -c "MANWIDTH=80 man -l '$I/share/man/man3/libcloudsonar.3' 2>&1 | grep -q 'panorama_report'"

# --- the client library: only its API is global; a program built with pkg-config reports through it
exported=$(nm -g --defined-only "$I/lib/libcloudsonar.a" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort | tr '\n' ' ')
check "libcloudsonar exports its four functions and nothing else ($exported)" \
	test "$exported" = "panorama_inferred panorama_report panorama_reporter_free panorama_reporter_new "
cat >clash.c <<'EOF'
/* names the library uses inside: a program of its own may have them too */
int strmap_new(void) { return 0; }
int arena_new(void) { return 0; }
int publisher_new(void) { return 0; }
#include <cloudsonar/panorama.h>
int main(void) { panorama_reporter_free(0); return strmap_new() + arena_new() + publisher_new(); }
EOF
cat >app.c <<'EOF'
#include <stdio.h>
#include <cloudsonar/panorama.h>

int main(int argc, char **argv)
{
	char err[256], status[32];
	double score;
	panorama_reporter *r = panorama_reporter_new(argv[1], "billing-app", NULL, NULL, 3000, err, sizeof(err));
	if (!r || panorama_report(r, "db-9", "latency", "UNHEALTHY", 20, err, sizeof(err)) != 0 ||
	    panorama_inferred(r, "db-9", "latency", status, sizeof(status), &score, err, sizeof(err)) != 0) {
		fprintf(stderr, "app: %s\n", err);
		panorama_reporter_free(r);
		return 1;
	}
	printf("%s %.0f\n", status, score);
	panorama_reporter_free(r);
	return argc > 2;
}
EOF
flags=$(PKG_CONFIG_PATH=$I/lib/pkgconfig pkg-config --define-variable=prefix=$I --cflags --libs cloudsonar 2>pc.err)
check "pkg-config knows the library ($flags)" test -n "$flags"
cc -std=c11 -Wall -Werror -o app app.c $flags 2>cc.err
check "a program builds against the installed header and library" test $? -eq 0
cc -std=c11 -Wall -o clash clash.c $flags 2>clash.err
check "one with functions named as the library's insides links too" test $? -eq 0
P=$(free_port)
start_node 127.0.0.1:$P app.db app-node app.log
check "and reports to a node through it" bash -c "[ \"\$(./app 127.0.0.1:$P)\" = 'UNHEALTHY 20' ]"
check "which the node holds" bash -c "'$BIN/hview-client' -server 127.0.0.1:$P get inference db-9 | grep -q 'latency: UNHEALTHY'"
./app 127.0.0.1:1 >/dev/null 2>noway.err
check "a node that is not there: one line saying so, exit 1" bash -c "[ $? -eq 1 ] && [ \$(wc -l <noway.err) -eq 1 ]"
kill -TERM $node; wait $node
[ "$FAILED" = 1 ] && show cc.err pc.err noway.err clash.err

make -s -C "$ROOT" uninstall DESTDIR="$S" PREFIX=/opt/cloudsonar >/dev/null 2>&1
left=$(find "$S" -type f ! -path "$S/etc/cloudsonar/hview-server.cfg" | wc -l)
check "make uninstall leaves no file behind but the node's config ($left)" test "$left" -eq 0
check "and keeps the config, saying so" test -s "$S/etc/cloudsonar/hview-server.cfg"
exit $FAILED
