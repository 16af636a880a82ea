#!/bin/bash
# ./run.sh --demo as a newcomer runs it: in under a minute, the recorded
# trace through the detectors (db-1 needs attention while its link is
# congested, and is healthy again after), into a Panorama node (here the
# test's own, through PANO_SERVER), and a chart.
. "$(dirname "$0")/../lib.sh"
cd "$WORK"
mkdir r && cp "$ROOT/run.sh" r/ && ln -s "$BIN" r/bin && mkdir -p r/tools && cp -r "$ROOT/tools/demo" r/tools/
printf 'all deps-build:\n\t@true\n' >r/Makefile
P=$(free_port)
check "a node for the demo" start_node 127.0.0.1:$P n.db n n.log
start=$(date +%s)
(cd r && PANO_SERVER=127.0.0.1:$P ./run.sh --demo </dev/null >../demo.out 2>&1)
rc=$?
took=$(($(date +%s) - start))
check "./run.sh --demo exits 0 in under a minute (${took} s)" bash -c "[ $rc -eq 0 ] && [ $took -lt 60 ]"
check "it shows db-1 needing attention" grep -Eq 'db-1 +NEEDS_ATTENTION' demo.out
check "and healthy again after" bash -c "awk '/db-1 +NEEDS_ATTENTION/ { f = 1 } f && /db-1 +HEALTHY/ { ok = 1 } END { exit !ok }' demo.out"
check "and no false alarm on the other two" bash -c "! grep -Eq '(web-1|cache-1) +NEEDS_ATTENTION' demo.out"
check "the node holds what the demo reported" \
	bash -c "'$BIN/hview-client' -server 127.0.0.1:$P list observer | grep -qx demo && '$BIN/hview-client' -server 127.0.0.1:$P get inference db-1 | grep -q rtt"
if command -v gnuplot >/dev/null; then
	check "and the chart is drawn" test -s r/logs/demo/plots/db-1.png
else
	check "without gnuplot it says how to draw the chart" grep -q 'install gnuplot' demo.out
fi
kill -TERM $node; wait $node
[ "$FAILED" = 1 ] && show demo.out
exit $FAILED
