#!/bin/bash
# run.sh HOST... - the one-command start (SPEC section 1): builds on first use,
# then runs sonar-agent in the foreground on the hosts, logging to ./logs.
# Agent options may come before the hosts (./run.sh --interval 0.5 host1 host2).
# As root, missing Debian packages are installed; otherwise the exact
# apt-get command is printed.
set -eu
cd "$(dirname "$0")"
case "${1:-}" in
"" | -h | --help)
	echo "usage: ./run.sh [agent options] HOST..."
	echo "Builds CloudSonar-C if needed, then probes each HOST every second and"
	echo "writes logs/sonar.csv, fd.csv, htm.csv and attention.csv.  Ctrl-C stops it."
	echo "Agent options: bin/sonar-agent --help (after the first build)."
	[ -n "${1:-}" ] && exit 0 || exit 2
	;;
esac
if ! make -s all >/dev/null; then
	echo "run.sh: build failed (see the messages above)" >&2
	exit 1
fi
if [ -n "${PANO_SERVER:-}" ]; then
	echo "run.sh: Panorama publishing is not built yet; probing and logging only" >&2
fi
echo "run.sh: logging to $(pwd)/logs (Ctrl-C to stop)" >&2
exec bin/sonar-agent --log-dir logs "$@"
