#!/bin/bash
# make install into a staging folder: the programs, the systemd units
# pointing at the installed programs, the logrotate file, the docs and the
# Prometheus examples; make uninstall takes them all away again.
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
make -s -C "$ROOT" uninstall DESTDIR="$S" PREFIX=/opt/cloudsonar >/dev/null 2>&1
check "make uninstall leaves no file behind ($(find "$S" -type f | wc -l))" test "$(find "$S" -type f | wc -l)" -eq 0
exit $FAILED
