#!/bin/bash
# run.sh as a user drives it: TERM, INT and HUP stop the agent it started
# (which saves its state) as well as itself; a second run.sh on the same logs/ is
# refused with a line saying why.  Run from a copy of the script beside the
# built programs, against a node of this test's own (PANO_SERVER).
. "$(dirname "$0")/../lib.sh"
cd "$WORK"
mkdir r && cp "$ROOT/run.sh" r/ && ln -s "$BIN" r/bin
printf 'all deps-build:\n\t@true\n' >r/Makefile
P=$(free_port)
check "a node for run.sh to report to" start_node 127.0.0.1:$P n.db n n.log
export PANO_SERVER=127.0.0.1:$P
for sig in TERM INT HUP; do
	host=127.0.0.$(case $sig in TERM) echo 2 ;; INT) echo 3 ;; *) echo 4 ;; esac)
	(cd r && exec ./run.sh --interval 0.2 $host >../run-$sig.out 2>&1) &
	script=$!
	eventually 10 bash -c "pgrep -f -- '[s]onar-agent --log-dir logs --interval 0.2 $host' >/dev/null"
	sleep 1
	if [ $sig = TERM ]; then
		(cd r && ./run.sh --interval 0.2 127.0.0.9 >../second.out 2>&1)
		check "a second run.sh on the same logs/ is refused, saying why (exit $?)" \
			grep -q "another run.sh is using .*/logs; stop it first" second.out
	fi
	kill -$sig $script
	wait $script
	rc=$?
	check "kill -$sig run.sh: it ends (exit $rc)" test $rc -eq $(case $sig in TERM) echo 143 ;; INT) echo 130 ;; *) echo 129 ;; esac)
	check "and so does the agent it started" eventually 5 bash -c "! pgrep -f -- '[s]onar-agent --log-dir logs --interval 0.2 $host' >/dev/null"
	check "which saved its state first" test -s r/logs/state/phi.state
done
mkdir ro && cp r/run.sh r/Makefile ro/ && ln -s "$BIN" ro/bin && mkdir ro/logs
if is_root; then # root writes everywhere but on a read-only file system
	mount -t tmpfs -o ro,size=64k tmpfs ro/logs 2>/dev/null && on_exit "umount -l $WORK/ro/logs"
else
	chmod 555 ro/logs
fi
if [ ! -w ro/logs ]; then
	(cd ro && ./run.sh 127.0.0.1 >../ro.out 2>&1)
	check "a logs/ it cannot write: one line, exit 1" bash -c "[ $? -eq 1 ] && grep -q 'cannot write' ro.out"
else
	skip "an unwritable logs/" "cannot make one here"
fi
kill -TERM $node; wait $node
exit $FAILED
