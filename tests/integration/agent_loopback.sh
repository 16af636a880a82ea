#!/bin/bash
# The agent on loopback as a user runs it: logs, columns, signals, locks,
# state, bad input, and a leak check under valgrind.
. "$(dirname "$0")/../lib.sh"
A=$BIN/sonar-agent
cd "$WORK"

# --- a short run writes every log with the exact header ------------------
$A --interval 0.2 --duration 2 --log-dir logs 127.0.0.1 ::1 2>stderr.txt
check "agent exits 0 after --duration" test $? -eq 0
check "sonar.csv header" test "$(head -1 logs/sonar.csv)" = "timestamp,host,rtt_ns"
check "fd.csv header" test "$(head -1 logs/fd.csv)" = "timestamp,host,rtt_ns,status,phi"
check "htm.csv header" test "$(head -1 logs/htm.csv)" = "timestamp,host,log10_rtt_us,prediction,anomaly_score"
check "attention.csv header" test "$(head -1 logs/attention.csv)" = "timestamp,host,state,phi,anomaly_score,reason"
check "stderr names the probe method" grep -q "by icmp\|by tcp" stderr.txt
n4=$(rows_for logs/sonar.csv 127.0.0.1 | wc -l); n6=$(rows_for logs/sonar.csv ::1 | wc -l)
check "about 10 probes per host in 2 s at 0.2 s ($n4, $n6)" test "$n4" -ge 8 -a "$n4" -le 11 -a "$n6" -ge 8 -a "$n6" -le 11
check "every fd.csv row is OK with phi to 3 decimals" \
	awk -F, 'NR > 1 && !($4 == "OK" && $5 ~ /^[0-9]+\.[0-9][0-9][0-9]$/ && $3 ~ /^[0-9]+$/) { bad = 1 } END { exit bad }' logs/fd.csv
check "timestamps are ISO 8601 UTC with ms" \
	awk -F, 'NR > 1 && $1 !~ /^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9][0-9][0-9]Z$/ { bad = 1 } END { exit bad }' logs/sonar.csv
median=$(rows_for logs/sonar.csv 127.0.0.1 | cut -d, -f3 | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
check "loopback RTT in the tens of microseconds (median ${median} ns)" test "$median" -lt 1000000
check "state saved at exit" test -s logs/state/phi.state

# --- the same logs grow across runs, header once -----------------------------
$A --interval 0.2 --duration 0.5 --log-dir logs 127.0.0.1 2>/dev/null
check "header written once across runs" test "$(grep -c '^timestamp' logs/fd.csv)" -eq 1

# --- replay reproduces fd.csv byte for byte ------------------------------------
$BIN/sonar-replay --interval 0.2 --log-dir replay logs/sonar.csv
check "sonar-replay exits 0 on the agent's log" test $? -eq 0
check "replayed fd.csv is byte-identical to the agent's" cmp -s logs/fd.csv replay/fd.csv
check "replayed attention.csv is byte-identical" cmp -s logs/attention.csv replay/attention.csv

# --- SIGTERM: finish, save state, exit 0; SIGHUP reopens logs --------------------
$A --interval 0.1 --log-dir sig 127.0.0.1 2>/dev/null &
pid=$!
sleep 1
mv sig/fd.csv sig/fd.csv.1
kill -HUP $pid
sleep 0.5
kill -TERM $pid
wait $pid
check "SIGTERM exits 0" test $? -eq 0
check "SIGHUP reopened fd.csv with a header" test "$(head -1 sig/fd.csv 2>/dev/null)" = "timestamp,host,rtt_ns,status,phi"
check "rows went on after SIGHUP" test "$(wc -l <sig/fd.csv)" -ge 3
check "state saved on SIGTERM" test -s sig/state/phi.state

# --- a restarted agent continues from saved phi windows ----------------------------
$A --interval 0.1 --duration 0.6 --log-dir sig 127.0.0.1 2>/dev/null
first_phi=$(tail -n +2 sig/fd.csv | tail -6 | head -1 | cut -d, -f5)
check "restored windows give phi from the first probe ($first_phi)" test "$first_phi" != "0.000"

# --- --lock: a second agent exits 0 at once, quietly ------------------------------
$A --interval 0.2 --duration 3 --lock agent.lock --log-dir lk 127.0.0.1 2>/dev/null &
pid=$!
sleep 0.5
start=$(date +%s%N)
$A --lock agent.lock --log-dir lk2 127.0.0.1 >lock.out 2>&1
rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
check "locked out agent exits 0" test $rc -eq 0
check "locked out agent is quiet and quick (${took} ms)" test ! -s lock.out -a "$took" -lt 1000
check "locked out agent wrote no logs" test ! -e lk2
# without --lock, a second agent on the same state directory is refused
$A --interval 0.2 --duration 1 --log-dir lk 127.0.0.1 >second.out 2>&1
rc=$?
check "a second agent on the same state directory: exit 1, saying why" \
	bash -c "[ $rc -eq 1 ] && grep -q 'another sonar-agent is using the state in lk/state' second.out"
kill $pid; wait $pid

# --- an unresolvable name is said once, fails visibly, and does not stop the others ---
$A --interval 0.2 --duration 1.5 --dead-after 0.5 --log-dir unres 127.0.0.1 no-such-host.invalid 2>unres.err
check "agent with an unresolvable host exits 0" test $? -eq 0
check "unresolvable host reported once" test "$(grep -c 'no-such-host.invalid: cannot resolve' unres.err)" -eq 1
check "other hosts still probed" test "$(rows_for unres/sonar.csv 127.0.0.1 | wc -l)" -ge 5
check "the unresolvable host's probes count as failed (ERROR in fd.csv)" \
	test "$(rows_for unres/fd.csv no-such-host.invalid | grep -c ',ERROR,')" -ge 5
check "so it goes DEAD, as a host that answers nothing does" \
	bash -c "rows_for() { awk -F, -v h=\"\$2\" 'NR > 1 && \$2 == h' \"\$1\"; }; rows_for unres/attention.csv no-such-host.invalid | grep -q DEAD"
$A --interval 0.2 --duration 0.5 --log-dir unres2 127.0.0.300 2>unres2.err
check "a literal that is no address is refused at once (exit 2), never looked up" \
	bash -c "[ $? -eq 2 ] && grep -q 'not a valid IPv4 address' unres2.err"

# --- a corrupt state file is set aside, never trusted --------------------------------
mkdir -p bad/state && head -c 300 /dev/urandom >bad/state/phi.state
$A --interval 0.2 --duration 0.5 --log-dir bad 127.0.0.1 2>bad.err
check "agent starts despite a corrupt state file" test $? -eq 0
check "corrupt state reported" grep -q "state .*not a CloudSonar state file" bad.err
check "corrupt state moved aside" test -n "$(ls bad/state/ | grep "^phi.state.corrupt-")"

# --- command-line errors: one line, exit 2 ----------------------------------------------
bad_cli() {
	local name=$1; shift
	$A "$@" >cli.out 2>cli.err
	local rc=$?
	check "$name: exit 2 and one line on stderr" test $rc -eq 2 -a "$(wc -l <cli.err)" -eq 1 -a ! -s cli.out
}
bad_cli "no host"
bad_cli "unknown flag" --bogus 127.0.0.1
bad_cli "bad interval" --interval abc 127.0.0.1
bad_cli "negative interval" --interval -1 127.0.0.1
bad_cli "timeout above interval" --interval 1 --timeout 2 127.0.0.1
bad_cli "bad method" --method udp 127.0.0.1
bad_cli "bad port" --method tcp:70000 127.0.0.1
bad_cli "anomaly threshold out of range" --anomaly-threshold 1.5 127.0.0.1
bad_cli "phi window too small" --phi-window 2 127.0.0.1
bad_cli "bad dist" --phi-dist weibull 127.0.0.1
bad_cli "host with a comma" "a,b"
bad_cli "duplicate host" 127.0.0.1 127.0.0.1
bad_cli "missing value" --interval
$A --help >help.out 2>&1
check "--help exits 0 with usage on stdout" test $? -eq 0 -a "$(head -c 6 help.out)" = "usage:"

# --- tcp method to a closed port counts the RST as an answer ----------------------------
$A --method tcp:1 --interval 0.2 --duration 1 --log-dir tcp 127.0.0.1 ::1 2>/dev/null
check "tcp probes to a closed port are answered (refused)" \
	test "$(awk -F, 'NR > 1 && $4 == "OK"' tcp/fd.csv | wc -l)" -ge 8

# --- no leaks or memory errors under valgrind -------------------------------------------
if command -v valgrind >/dev/null; then
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=99 $A --interval 0.2 --duration 1.5 --log-dir vg 127.0.0.1 ::1 no-such-host.invalid \
		>vg.out 2>&1
	rc=$?
	check "valgrind: no leaks or errors (exit $rc)" test $rc -eq 0
	[ $rc -eq 0 ] || sed 's/^/# /' vg.out | head -30
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		$BIN/sonar-replay --log-dir vgr logs/sonar.csv >vgr.out 2>&1
	check "valgrind: sonar-replay clean" test $? -eq 0
else
	skip "valgrind leak check" "valgrind not installed"
fi
