#!/bin/bash
# Files written by earlier builds still load: a node's database, an agent's
# detector state and its publish queue (tests/fixtures/README.md).
. "$(dirname "$0")/../lib.sh"
C=$BIN/hview-client FX=$ROOT/tests/fixtures
cd "$WORK"

P=$(free_port)
cp "$FX/node-v3.db" node.db
check "a node starts on a database of schema version 3" start_node 127.0.0.1:$P node.db nf node.log
check "and serves what it holds" bash -c "$C -server 127.0.0.1:$P get inference db-1 | grep -q 'cpu: PENDING, 50.0; rtt: HEALTHY, 90.0'"
check "all of it" bash -c "$C -server 127.0.0.1:$P get inference db-2 | grep -q 'rtt: UNHEALTHY, 20.0'"

mkdir -p l/state
cp "$FX/agent-nohtm.state" l/state/phi.state
cp "$FX/publish-v2.queue" l/state/publish.queue
$BIN/sonar-agent --no-htm --server 127.0.0.1:$P --observer fixture-agent --interval 0.2 --duration 1 \
	--log-dir l 127.0.0.1 2>agent.err
check "an agent restores the detector state an earlier build saved" \
	bash -c "! grep -q 'starting fresh' agent.err && ! ls l/state/phi.state.corrupt-* >/dev/null 2>&1"
check "and sends the report an earlier build queued" grep -q "1 Panorama reports queued by an earlier run will be sent first" agent.err
check "which reaches the node" bash -c "$C -server 127.0.0.1:$P list observer | grep -qx fixture-agent"
[ "$FAILED" = 1 ] && show agent.err node.log
kill -TERM $node; wait $node
exit $FAILED
