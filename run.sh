#!/bin/bash
# run.sh HOST... - the one-command start: builds on first use,
# makes sure a Panorama node is reachable (with PANO_SERVER unset and nothing
# answering on 127.0.0.1:6688, it starts a local hview-server there, its
# database under logs/, and stops it again on exit), then runs sonar-agent in
# the foreground on the hosts, logging to ./logs and reporting to the node.
# Agent options may come before the hosts (./run.sh --interval 0.5 host1 host2).
# As root, missing Debian packages are installed; otherwise the exact
# apt-get command is printed.
set -eu
cd "$(dirname "$0")"
case "${1:-}" in
"" | -h | --help)
	echo "usage: ./run.sh [agent options] HOST..."
	echo "Builds CloudSonar-C if needed, starts a local Panorama node unless PANO_SERVER"
	echo "names one, then probes each HOST every second, writes logs/sonar.csv, fd.csv,"
	echo "htm.csv and attention.csv, and reports to Panorama.  Ctrl-C stops it."
	echo "Agent options: bin/sonar-agent --help (after the first build)."
	[ -n "${1:-}" ] && exit 0 || exit 2
	;;
esac
if ! make -s all >/dev/null; then
	echo "run.sh: build failed (see the messages above)" >&2
	exit 1
fi
mkdir -p logs
node=""
server=${PANO_SERVER:-}
if [ -z "$server" ]; then
	server=127.0.0.1:6688
	if ! bin/hview-client -server "$server" -timeout 300 ping >/dev/null 2>&1; then
		bin/hview-server -addr "$server" -http 127.0.0.1:6690 -dbfile logs/panorama.db 2>>logs/hview-server.log &
		node=$!
		trap 'kill -TERM $node 2>/dev/null; wait $node 2>/dev/null' EXIT
		for _ in $(seq 50); do
			bin/hview-client -server "$server" -timeout 200 ping >/dev/null 2>&1 && break
			sleep 0.1
		done
		echo "run.sh: started a local Panorama node on $server (log: logs/hview-server.log)" >&2
		echo "run.sh: its console: http://127.0.0.1:6690/" >&2
	fi
fi
echo "run.sh: logging to $(pwd)/logs; Ctrl-C to stop" >&2
echo "run.sh: see what Panorama knows:  bin/hview-client -server $server dump inference" >&2
export PANO_SERVER=$server
bin/sonar-agent --log-dir logs "$@"
