#!/bin/bash
# Notifications: a node with a command and a webhook (a receiver of the
# test's own on loopback) sends one message per episode to each, in
# Alertmanager's format; nothing for an unchanged state; retries while the
# receiver fails; loses nothing across kill -9 and restart, and repeats
# nothing; keeps at most 1,000 waiting for a receiver that stays down.
. "$(dirname "$0")/../lib.sh"
cd "$WORK"
C=$BIN/hview-client
P=$(free_port) WP=$(free_port)
python3 "$ROOT/tests/helpers/webhook.py" $WP hook.out &
hook=$!
on_exit "kill $hook"
start() {
	"$BIN/hview-server" -addr 127.0.0.1:$P -dbfile n.db -notify-command "cat >>'$WORK/cmd.out'; echo >>'$WORK/cmd.out'" \
		-notify-webhook http://127.0.0.1:$WP/hook n 2>>n.log &
	node=$!
	on_exit "kill -9 $node"
	wait_node 127.0.0.1:$P
}
check "a node with a command and a webhook" start
report() { printf 'me a\nreport %s rtt:%s\nme b\nreport %s rtt:%s\n' "$1" "$2" "$1" "$2" | $C -server 127.0.0.1:$P >/dev/null; }
count() { grep -c "$1" "$2" 2>/dev/null || true; }
firing='"status":"firing","truncatedAlerts":0'
resolved='"status":"resolved","truncatedAlerts":0'
report db-1 u:10
check "db-1 UNHEALTHY: the webhook hears it firing" eventually 5 bash -c "grep -q '\"subject\":\"db-1\".*$firing' hook.out"
check "and the command" eventually 5 bash -c "grep -q '\"subject\":\"db-1\".*$firing' cmd.out"
check "in Alertmanager's format" python3 -c '
import json
m = json.loads(open("hook.out").readline())
assert m["version"] == "4" and m["receiver"] == "cloudsonar" and len(m["alerts"]) == 1, m
a = m["alerts"][0]
assert a["labels"]["alertname"] == "PanoramaSubjectUnhealthy" and a["labels"]["subject"] == "db-1", a
assert a["labels"]["node"] == "n" and a["endsAt"] == "0001-01-01T00:00:00Z" and len(a["fingerprint"]) == 16, a
'
for _ in 1 2 3; do report db-1 u:12; sleep 0.4; done
sleep 1.5
check "still UNHEALTHY: nothing more ($(count db-1 hook.out) for db-1)" test "$(count '"subject":"db-1"' hook.out)" = 1
report db-1 h:90
check "HEALTHY again: resolved, once" eventually 5 bash -c "grep '\"subject\":\"db-1\"' hook.out | grep -q '$resolved'"
check "the command too" eventually 5 bash -c "grep '\"subject\":\"db-1\"' cmd.out | grep -q '$resolved'"

# a receiver that fails, then a node killed and restarted: nothing lost
touch hook.out.fail
report db-2 u:10
sleep 3
check "while the receiver answers 500 it gets nothing" test "$(count '"subject":"db-2"' hook.out)" = 0
check "and the node says it will try again" grep -q 'notification to http://127.0.0.1:.* failed (HTTP 500); trying again' n.log
kill -9 $node
wait $node 2>/dev/null
rm hook.out.fail
check "the node again, after kill -9" start
check "what was waiting arrives once the receiver takes it" eventually 10 bash -c "grep -q '\"subject\":\"db-2\".*$firing' hook.out"
sleep 2
check "once: db-2 fired once ($(count '"subject":"db-2"' hook.out))" test "$(count '"subject":"db-2"' hook.out)" = 1
check "and db-1, resolved before, is not told again" test "$(count '"subject":"db-1"' hook.out)" = 2
report db-2 u:11
sleep 2
check "db-2 still UNHEALTHY after the restart: no new message" test "$(count '"subject":"db-2"' hook.out)" = 1

# a receiver that stays down: at most 1,000 wait, the oldest go
kill $hook
wait $hook 2>/dev/null
{ echo "me a"; for i in $(seq 1100); do echo "report flood-$i rtt:u:1"; done; } | $C -server 127.0.0.1:$P >/dev/null
check "a receiver down for 1,100 firings: the oldest dropped, and said" \
	eventually 10 grep -q 'notifications to http://127.0.0.1:.*: 1000 waiting, the oldest dropped' n.log
check "the node still answers" wait_node 127.0.0.1:$P
"$BIN/hview-server" -addr 127.0.0.1:$(free_port) -dbfile x.db -notify-webhook ftp://127.0.0.1/x x 2>bad.err
check "a webhook that is not http(s): one line, exit 2" bash -c "[ $? -eq 2 ] && grep -q 'notify-webhook: .*not an http:// or https:// URL' bad.err && [ \$(wc -l <bad.err) -eq 1 ]"
[ "$FAILED" = 1 ] && show n.log hook.out
exit $FAILED
