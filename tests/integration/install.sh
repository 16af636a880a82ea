#!/bin/bash
# make install into a staging folder: the programs and their man pages, the
# client library (a program built with pkg-config reports to a node through
# it), the systemd units pointing at the installed programs, the logrotate
# file, the docs and the Prometheus examples; make uninstall takes them all
# away again.
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
	bash -c "[ -s '$S/opt/cloudsonar/share/doc/cloudsonar/detection.md' ] && [ -s '$S/opt/cloudsonar/share/doc/cloudsonar/prometheus/panorama.rules.yml' ]"
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

# --- the client library: a program built with pkg-config reports through it ------------
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
P=$(free_port)
start_node 127.0.0.1:$P app.db app-node app.log
check "and reports to a node through it" bash -c "[ \"\$(./app 127.0.0.1:$P)\" = 'UNHEALTHY 20' ]"
check "which the node holds" bash -c "'$BIN/hview-client' -server 127.0.0.1:$P get inference db-9 | grep -q 'latency: UNHEALTHY'"
./app 127.0.0.1:1 >/dev/null 2>noway.err
check "a node that is not there: one line saying so, exit 1" bash -c "[ $? -eq 1 ] && [ \$(wc -l <noway.err) -eq 1 ]"
kill -TERM $node; wait $node
[ "$FAILED" = 1 ] && show cc.err pc.err noway.err

make -s -C "$ROOT" uninstall DESTDIR="$S" PREFIX=/opt/cloudsonar >/dev/null 2>&1
check "make uninstall leaves no file behind ($(find "$S" -type f | wc -l))" test "$(find "$S" -type f | wc -l)" -eq 0
exit $FAILED
