#!/bin/bash
# The shipped Prometheus rules and Grafana dashboard against the real
# thing: promtool checks and tests every rule file, and Debian's
# Prometheus, scraping a node and an agent on loopback, returns data for
# every query of tools/grafana/cloudsonar.json.
. "$(dirname "$0")/../lib.sh"
cd "$WORK"
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
	skip "the rules and the dashboard" "prometheus is not installed"
	exit 0
fi
PR=$ROOT/tools/prometheus
for r in panorama sonar; do
	check "promtool check rules $r.rules.yml" bash -c "promtool check rules '$PR/$r.rules.yml' >promtool.out 2>&1"
	check "promtool test rules $r.rules.test.yml" bash -c "cd '$PR' && promtool test rules $r.rules.test.yml >'$WORK/promtool.out' 2>&1"
done
check "the example scrape config is valid" bash -c "cd '$PR' && promtool check config prometheus.yml >'$WORK/promtool.out' 2>&1"

P=$(free_port) HP=$(free_port) AP=$(free_port) PP=$(free_port)
"$BIN/hview-server" -addr 127.0.0.1:$P -http 127.0.0.1:$HP -dbfile n.db n 2>>n.log &
on_exit "kill -9 $!"
check "a node" wait_node 127.0.0.1:$P
"$BIN/sonar-agent" --interval 0.2 --no-htm --http 127.0.0.1:$AP --server 127.0.0.1:$P --log-dir logs \
	--duration 60 127.0.0.1 127.0.0.2 2>agent.err &
on_exit "kill $!"
cat >prom.yml <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: panorama
    static_configs:
      - targets: ["127.0.0.1:$HP"]
  - job_name: sonar
    static_configs:
      - targets: ["127.0.0.1:$AP"]
EOF
prometheus --config.file=prom.yml --storage.tsdb.path=tsdb --web.listen-address=127.0.0.1:$PP >prom.log 2>&1 &
on_exit "kill -9 $!"
up() { [ "$(curl -s "http://127.0.0.1:$PP/api/v1/query?query=sum(up)" | python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)' 2>/dev/null)" = 2 ]; }
check "Prometheus scrapes the node and the agent" eventually 30 up
sleep 12 # a few scrapes: rates need two samples at least
python3 - "$ROOT/tools/grafana/cloudsonar.json" $PP >queries.out <<'EOF'
import json, sys, urllib.parse, urllib.request
dash = json.load(open(sys.argv[1]))
for panel in dash["panels"]:
    for t in panel["targets"]:
        url = "http://127.0.0.1:%s/api/v1/query?query=%s" % (sys.argv[2], urllib.parse.quote(t["expr"]))
        r = json.load(urllib.request.urlopen(url, timeout=10))
        n = len(r["data"]["result"]) if r["status"] == "success" else -1
        print("%d\t%s\t%s" % (n, panel["title"], t["expr"]))
EOF
check "every query of the dashboard ran ($(wc -l <queries.out))" test "$(wc -l <queries.out)" -ge 10
while IFS=$'\t' read -r n title expr; do
	check "data for: $title ($n series)" test "$n" -gt 0
done <queries.out
[ "$FAILED" = 1 ] && show queries.out promtool.out prom.log agent.err
exit $FAILED
