#!/bin/bash
# Where a fault is, on every surface a user reads: four observers report on
# each other through hview-client, one of them (d) sees everything
# UNHEALTHY.  The node blames observer d (dump blame, /api/v1/blame,
# /metrics, watch), keeps d from voting (get inference names the others
# and stays HEALTHY), and ends the blame when d sees well again.  A fifth
# observer that stops reporting becomes stale: it no longer votes, and
# the inference, the matrix and /metrics say so.
. "$(dirname "$0")/../lib.sh"
cd "$WORK"
P=$(free_port)
H=$(free_port)
"$BIN/hview-server" -addr 127.0.0.1:$P -http 127.0.0.1:$H -dbfile n.db n 2>>n.log &
node=$!
on_exit "kill -9 $node"
check "a node" wait_node 127.0.0.1:$P
C=("$BIN/hview-client" -server 127.0.0.1:$P)
"${C[@]}" watch >watch.out 2>&1 &
watcher=$!
on_exit "kill $watcher"
sleep 0.5

# round D_STATUS [e]: every observer reports on every other host once
round() {
	local o s st
	for o in a b c d; do
		echo "me $o"
		for s in a b c d; do
			[ $o = $s ] && continue
			st=h
			[ $o = d ] && st=$1
			echo "report $s rtt:$st:$([ $st = h ] && echo 90 || echo 20)"
		done
	done
	[ "${2:-}" = e ] && printf 'me e\nreport a rtt:h:90\n'
	return 0
}
for _ in 1 2 3 4; do
	round u e | "${C[@]}" >/dev/null
	sleep 1
done
has_blame() { "${C[@]}" dump blame | grep -q "$1"; }
check "dump blame names the sick observer" eventually 5 has_blame '^observer d since 20[0-9-]*T[0-9:]*Z: 3 of 3 views bad$'
"${C[@]}" get inference a >inference.out
check "its views do not vote: a stays HEALTHY, inferred from the others (Panorama's format)" \
	grep -q '^\[b c e\] ==> a: [0-9T:.-]*Z { rtt: HEALTHY, 90.0; }$' inference.out
curl -s http://127.0.0.1:$H/api/v1/blame >blame.json
check "GET /api/v1/blame" grep -q '^{"blame":\[{"kind":"observer","hosts":\["d"\],"since":"20[0-9-]*T[0-9:]*Z","evidence":{"bad":3,"views":3}}\]}$' blame.json
check "/metrics: pano_blame" bash -c "curl -s http://127.0.0.1:$H/metrics | grep -qx 'pano_blame{kind=\"observer\",hosts=\"d\",group=\"\"} 1'"
check "watch prints the blame as it appears" eventually 3 grep -q '^observer d since' watch.out

# d sees well again; e has stopped (its last report is at least 10 s old
# by the end of this)
for _ in $(seq 11); do
	round h | "${C[@]}" >/dev/null
	sleep 1
done
check "the blame ends when d sees well again" bash -c "[ -z \"\$('${C[0]}' -server 127.0.0.1:$P dump blame)\" ]"
check "and watch says so" grep -q '^blame: 0 current$' watch.out
stale_e() { "${C[@]}" get inference a | grep -q '^\[b c d\] ==> a: [0-9T:.-]*Z { rtt: HEALTHY, 90.0; }$'; }
check "an observer that stopped reporting is stale: it does not vote" eventually 5 stale_e
check "/metrics: pano_views_stale 1" bash -c "curl -s http://127.0.0.1:$H/metrics | grep -qx 'pano_views_stale 1'"
check "the matrix marks its cell stale" bash -c "curl -s http://127.0.0.1:$H/api/v1/matrix | grep -q '\"e\":\[2,90.0*,[0-9.]*,1,'"
[ "$FAILED" = 1 ] && { show n.log watch.out inference.out blame.json; "${C[@]}" get inference a; curl -s http://127.0.0.1:$H/api/v1/matrix; }
exit $FAILED
