#!/bin/bash
# Reloading a node's configuration without a restart: SIGHUP adds a peer
# (reports then reach it) and a notification webhook (changes then reach
# it); POST /-/reload removes both; a broken file is refused with one line
# and changes nothing.
. "$(dirname "$0")/../lib.sh"
cd "$WORK"
C=$BIN/hview-client
PA=$(free_port) PB=$(free_port) HA=$(free_port) WP=$(free_port)
python3 "$ROOT/tests/helpers/webhook.py" $WP hook.out &
on_exit "kill $!"
config() { # PEERS_JSON WEBHOOKS_JSON
	printf '{"Addr": "127.0.0.1:%s", "Id": "a", "DBFile": "a.db", "HTTPAddr": "127.0.0.1:%s",\n "Peers": {%s}, "NotifyWebhooks": [%s]}\n' \
		$PA $HA "$1" "$2" >a.cfg
}
config '' ''
"$BIN/hview-server" -config a.cfg 2>>a.log &
a=$!
on_exit "kill -9 $a"
"$BIN/hview-server" -addr 127.0.0.1:$PB -dbfile b.db b 2>>b.log &
on_exit "kill -9 $!"
check "a node without peers" wait_node 127.0.0.1:$PA
check "and another" wait_node 127.0.0.1:$PB
report() { printf 'me o\nreport %s rtt:%s\n' "$1" "$2" | $C -server 127.0.0.1:$PA >/dev/null; }
on_b() { $C -server 127.0.0.1:$PB get report "$1" >/dev/null 2>&1; }
not_on_b() { ! on_b "$1"; }
report s1 h:90
sleep 1
check "b does not hear of a's reports" not_on_b s1

config "\"b\": \"127.0.0.1:$PB\"" "\"http://127.0.0.1:$WP/hook\""
kill -HUP $a
check "SIGHUP: a says what it reloaded" eventually 5 grep -q "reloaded a.cfg: 1 peers (reconnected), 0 subjects (0 new), 1 notification targets" a.log
report s2 h:90
check "the peer added hears a's reports" eventually 5 on_b s2
report s3 u:10
check "the webhook added hears a's changes" eventually 5 grep -q '"subject":"s3"' hook.out

config '' ''
check "POST /-/reload: 200" bash -c "[ \"\$(curl -s -X POST http://127.0.0.1:$HA/-/reload)\" = reloaded ]"
report s4 h:90
report s5 u:10
sleep 2
check "the peer removed hears no more" not_on_b s4
check "nor the webhook removed" bash -c "! grep -q '\"subject\":\"s5\"' hook.out"

echo '{"Addr": "127.0.0.1:1", "Peers": ' >a.cfg
lines=$(wc -l <a.log)
kill -HUP $a
check "a broken file: one line, the running configuration stays" \
	eventually 5 bash -c "tail -n +$((lines + 1)) a.log | grep -q 'reload: a.cfg: .*; the running configuration stays'"
check "(one line)" test "$(tail -n +$((lines + 1)) a.log | wc -l)" = 1
check "and the node answers as before" wait_node 127.0.0.1:$PA
check "POST /-/reload of a broken file: 400 with why" \
	bash -c "curl -s -o r.out -w '%{http_code}' -X POST http://127.0.0.1:$HA/-/reload | grep -qx 400 && grep -q '^not reloaded: a.cfg' r.out"
check "GET /-/reload: 405" bash -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HA/-/reload | grep -qx 405"
[ "$FAILED" = 1 ] && show a.log hook.out
exit $FAILED
