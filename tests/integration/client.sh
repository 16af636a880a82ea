#!/bin/bash
# hview-client as people use it: from a pipe (no prompt; exit 1 when a
# command failed), at a terminal (a prompt, line editing and history; Ctrl-C
# ends a watch and not the client, driven through tmux), and a watch that
# says when its node goes away and when it comes back.
. "$(dirname "$0")/../lib.sh"
C=$BIN/hview-client
cd "$WORK"
P=$(free_port)
check "a node" start_node 127.0.0.1:$P n.db n n.log

# --- from a pipe --------------------------------------------------------------------
printf 'me o1\nreport a m:h:10\nget inference a\n' | $C -server 127.0.0.1:$P >ok.out 2>ok.err
check "piped commands that all succeed: exit 0" test $? -eq 0
check "and no prompt in the output" bash -c "! grep -q '^> ' ok.out && grep -q 'Accepted' ok.out"
printf 'get inference nope\nping\n' | $C -server 127.0.0.1:$P >fail.out 2>fail.err
check "a piped command that fails: exit 1, the others still run" \
	bash -c "[ $? -eq 1 ] && grep -q 'no such subject: nope' fail.err && grep -q 'GOOD' fail.out"
printf 'frobnicate\n' | $C -server 127.0.0.1:$P >/dev/null 2>bad.err
check "an unknown piped command: exit 1, saying so" bash -c "[ $? -eq 1 ] && grep -q \"unknown command 'frobnicate'\" bad.err"

# --- a watch sees its node go and come back ------------------------------------------
$C -server 127.0.0.1:$P watch a >w.out 2>w.err &
watcher=$!
on_exit "kill $watcher"
eventually 5 grep -q 'watching a' w.err
kill -TERM $node; wait $node
check "a watch says when its node goes away" eventually 5 grep -q 'watch: lost the node' w.err
start_node 127.0.0.1:$P n.db n n.log
check "and when it is back" eventually 10 grep -q 'watch: the node at .* is back' w.err
printf 'me o2\nreport a m:u:5\n' | $C -server 127.0.0.1:$P >/dev/null
check "and shows the changes again" eventually 5 grep -q 'UNHEALTHY' w.out
kill -INT $watcher
wait $watcher
check "Ctrl-C ends a one-shot watch, exit 0" test $? -eq 0

# --- at a terminal ---------------------------------------------------------------------
if ! command -v tmux >/dev/null; then
	skip "hview-client at a terminal" "tmux not installed"
else
	T=hv-$$
	on_exit "tmux kill-session -t $T"
	HOME=$WORK tmux new-session -d -s $T -x 150 -y 40 "$C -server 127.0.0.1:$P"
	screen() { tmux capture-pane -p -t $T; }
	check "a terminal gets a prompt" eventually 5 bash -c "tmux capture-pane -p -t $T | grep -q '^>'"
	tmux send-keys -t $T 'watch a' Enter
	eventually 5 bash -c "tmux capture-pane -p -t $T | grep -q 'watching a'"
	tmux send-keys -t $T C-c
	check "Ctrl-C ends the watch and the client goes on" \
		eventually 5 bash -c "tmux capture-pane -p -t $T | grep -A1 'watch: stopped' | grep -q '^>'"
	tmux send-keys -t $T Up
	check "the up arrow brings back the last command (line editing, history)" \
		eventually 5 bash -c "tmux capture-pane -p -t $T | tail -n +2 | grep -q '^> watch a\$'"
	tmux send-keys -t $T C-u 'exit' Enter
	check "exit leaves, and the history is kept" eventually 5 grep -qx 'watch\\040a' .hview_client_history
fi
kill -TERM $node; wait $node
[ "$FAILED" = 1 ] && show w.err n.log
exit $FAILED
