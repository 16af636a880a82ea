#!/bin/bash
# run.sh HOST... - the one-command start: builds on first use,
# makes sure a Panorama node is reachable (with PANO_SERVER unset and nothing
# answering on 127.0.0.1:6688, it starts a local hview-server there, its
# database under logs/, and stops it again on exit), then runs sonar-agent in
# the foreground on the hosts, logging to ./logs and reporting to the node.
# Agent options may come before the hosts (./run.sh --interval 0.5 host1 host2).
# run.sh --demo replays a recorded trace instead, in seconds.
# As root, missing Debian packages are installed; otherwise the exact
# apt-get command is printed.
set -eu
cd "$(dirname "$0")"
case "${1:-}" in
"" | -h | --help)
	echo "usage: ./run.sh [agent options] HOST..."
	echo "       ./run.sh --demo"
	echo "Builds CloudSonar-C if needed, starts a local Panorama node unless PANO_SERVER"
	echo "names one, then probes each HOST every second, writes logs/sonar.csv, fd.csv,"
	echo "htm.csv and attention.csv, and reports to Panorama.  Ctrl-C stops it."
	echo "--demo: in under a minute, replays a recorded trace in which a host goes slow,"
	echo "shows when it needed attention, fills the local node and draws the chart."
	echo "Agent options: bin/sonar-agent --help (after the first build)."
	[ -n "${1:-}" ] && exit 0 || exit 2
	;;
esac
# the packages the build needs: installed when run as root, else named
if ! make -s deps-build || ! make -s all >/dev/null; then
	echo "run.sh: build failed (see the messages above)" >&2
	exit 1
fi
if ! mkdir -p logs 2>/dev/null || [ ! -w logs ]; then
	echo "run.sh: cannot write $(pwd)/logs (run as its owner, or from a copy you own)" >&2
	exit 1
fi
# one run.sh a logs/ folder: a second would probe every host twice into the
# same files and state
exec 9>>logs/run.lock
if ! flock -n 9; then
	echo "run.sh: another run.sh is using $(pwd)/logs; stop it first" >&2
	exit 1
fi
node="" agent=""
# INT, TERM, HUP (the terminal went away) or the end of the agent: stop the
# agent (it saves its state), then the node this script started
stop() {
	trap - INT TERM HUP EXIT
	[ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
	[ -n "$node" ] && kill -TERM "$node" 2>/dev/null && wait "$node" 2>/dev/null
	exit "${1:-0}"
}
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 129' HUP
trap 'stop $?' EXIT
server=${PANO_SERVER:-}
if [ -z "$server" ]; then
	server=127.0.0.1:6688
	if ! bin/hview-client -server "$server" -timeout 300 ping >/dev/null 2>&1; then
		bin/hview-server -addr "$server" -http 127.0.0.1:6690 -dbfile logs/panorama.db 2>>logs/hview-server.log &
		node=$!
		for _ in $(seq 50); do
			bin/hview-client -server "$server" -timeout 200 ping >/dev/null 2>&1 && break
			kill -0 "$node" 2>/dev/null || break
			sleep 0.1
		done
		if ! kill -0 "$node" 2>/dev/null; then
			node=""
			echo "run.sh: the local Panorama node did not start:" >&2
			tail -n 3 logs/hview-server.log >&2
			exit 1
		fi
		echo "run.sh: started a local Panorama node on $server (log: logs/hview-server.log)" >&2
		echo "run.sh: its console: http://127.0.0.1:6690/" >&2
	fi
fi

# --demo: the recorded trace through the detectors and into the node
if [ "$1" = --demo ]; then
	dir=logs/demo
	rm -rf "$dir"
	mkdir -p "$dir"
	echo "run.sh: the demo replays tools/demo/sonar.csv: three hosts probed every 0.2 s; after 80 s"
	echo "        db-1's link is congested for a minute (a gray failure: it still answers, slowly)."
	set +e
	bin/sonar-replay --interval 0.2 --log-dir "$dir" --server "$server" --observer demo tools/demo/sonar.csv
	rc=$?
	set -e
	[ $rc -eq 0 ] || { echo "run.sh: the replay failed" >&2; stop 1; }
	echo
	echo "When a host needed attention ($dir/attention.csv has every change of state):"
	awk -F, 'NR > 1 {
		if (!($2 in order)) { order[$2] = ++n; name[n] = $2 }
		if ($3 == "NEEDS_ATTENTION" || $3 == "DEAD") { printf "  %s  %-8s %s (phi %s)\n", substr($1, 12, 8), $2, $3, $4; bad[$2] = 1; ever[$2] = 1 }
		else if ($3 == "HEALTHY" && bad[$2]) { printf "  %s  %-8s HEALTHY again\n", substr($1, 12, 8), $2; bad[$2] = 0 }
	} END { for (i = 1; i <= n; i++) if (!ever[name[i]]) printf "  %s never needed attention (single slow answers were PENDING)\n", name[i] }' \
		"$dir/attention.csv"
	echo
	echo "What Panorama was told of db-1 (bin/hview-client -server $server get view demo db-1):"
	bin/hview-client -server "$server" get view demo db-1 | sed -n 's/^  |demo| /  /p'
	echo
	if command -v gnuplot >/dev/null; then
		if bin/sonar-plot --log-dir "$dir" --host db-1 --out "$dir/plots" >/dev/null 2>"$dir/plot.err"; then
			echo "The chart: $dir/plots/db-1.png (response time, phi, the stretch that needed attention)"
		else
			cat "$dir/plot.err" >&2
		fi
	else
		echo "For the chart, install gnuplot (apt-get install gnuplot-nox) and run:"
		echo "  bin/sonar-plot --log-dir $dir --host db-1 --out $dir/plots"
	fi
	if [ -n "$node" ] && [ -t 0 ]; then
		echo "The node stays up for its console, http://127.0.0.1:6690/ ; Ctrl-C to stop."
		wait "$node"
	fi
	stop 0
fi

echo "run.sh: logging to $(pwd)/logs; Ctrl-C to stop" >&2
echo "run.sh: see what Panorama knows:  bin/hview-client -server $server dump inference" >&2
export PANO_SERVER=$server
# in the background, so that this shell hears INT and TERM and passes them on
bin/sonar-agent --log-dir logs "$@" &
agent=$!
set +e
wait "$agent"
rc=$?
agent=""
stop "$rc"
