# lib.sh - helpers for the integration tests, which print TAP lines.
# Source it first; it makes $WORK (removed on exit, kept with KEEP=1: the
# processes a test started are stopped either way) and sets $BIN.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/bin
WORK=$(mktemp -d /tmp/cloudsonar-test.XXXXXX)
# Open to others, as a user's folder usually is: the daemons, started as
# root, run as an ordinary user and must still find their files here.
chmod 755 "$WORK"
CLEANUPS=()
cleanup() {
	local c
	for c in "${CLEANUPS[@]}"; do eval "$c" >/dev/null 2>&1; done
	if [ -n "${KEEP:-}" ]; then echo "# kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
on_exit() { CLEANUPS+=("$1"); }

FAILED=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILED=1; }
skip() { echo "ok - $1 # SKIP $2"; }
# check NAME COMMAND...: ok when the command succeeds.
check() {
	local name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
# show FILE...: the files' tails as TAP comments, for a failed test's report
# (run-all.sh prints a failed suite's comments).
show() {
	local f
	for f in "$@"; do
		echo "# --- $f"
		if [ -e "$f" ]; then tail -n 25 "$f" | sed 's/^/#   /'; else echo "#   (missing)"; fi
	done
}
# eventually SECONDS COMMAND...: succeeds once COMMAND does, trying every
# 0.1 s for at most SECONDS (for state that other processes settle).
eventually() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}
is_root() { [ "$(id -u)" -eq 0 ]; }
# Lines of FILE (header excluded) whose column 2 is HOST.
rows_for() { awk -F, -v h="$2" 'NR > 1 && $2 == h' "$1"; }

# A TCP port on 127.0.0.1 that nothing listens on now (and the next port,
# where a node serves its watch stream).  Always below the kernel's
# ephemeral range: a client that connects to a port in that range while
# nothing listens there yet can be given that very port as its own source
# port and connect to itself (TCP simultaneous open), and then the node
# cannot bind it.  That once made CI fail: wait_node "reached" a node that
# had failed to start.
free_port() {
	local p low
	low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ -n "$low" ] && [ "$low" -gt 12000 ] || low=32768
	for _ in $(seq 50); do
		p=$((10000 + RANDOM % (low - 10002)))
		if ! ss -Hltn 2>/dev/null | awk '{ print $4 }' | grep -Eq ":($p|$((p + 1)))\$"; then
			echo $p
			return 0
		fi
	done
	return 1
}
# start_browser PORT: the headless chromium at $BROWSER, driven over
# DevTools on PORT (tests/helpers/browser.py), stopped at exit; false when
# it does not come up within 20 s.  Nothing leaves the machine: no updates,
# sync or background fetches, and what chromium still tries goes to a proxy
# that is not there (loopback, the node, goes direct), so not even a name
# is looked up.
start_browser() {
	"$BROWSER" --headless --no-sandbox --disable-gpu --no-first-run --disable-quic --disable-background-networking \
		--disable-component-update --disable-sync --disable-default-apps --disable-domain-reliability \
		--disable-breakpad --no-pings --proxy-server=http://127.0.0.1:9 \
		--remote-debugging-address=127.0.0.1 \
		--remote-debugging-port="$1" --user-data-dir="$WORK/profile" about:blank >"$WORK/browser.log" 2>&1 &
	on_exit "kill -9 $!; pkill -9 -f -- --user-data-dir=$WORK/profile; sleep 0.2"
	eventually 20 curl -sf "http://127.0.0.1:$1/json/version" >/dev/null
}
# Waits until a Panorama node answers a ping at $1 (at most 5 s).
wait_node() { eventually 5 "$BIN/hview-client" -server "$1" -timeout 200 ping >/dev/null 2>&1; }
# start_node HOST:PORT DBFILE ID LOG: a Panorama node in the background (its
# stderr appended to LOG), its pid in $node, killed at exit; then waits
# for it to answer (false when it does not).
start_node() {
	"$BIN/hview-server" -addr "$1" -dbfile "$2" "$3" 2>>"$4" &
	node=$!
	on_exit "kill -9 $node"
	wait_node "$1"
}
