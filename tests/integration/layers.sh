#!/bin/bash
# The house's floors (docs/layout.md): each folder uses only those below it,
# and a program carries only the floors it needs: the agent and
# hview-logtail hold no part of the node and do not link sqlite.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"

# includes name their path from the top of the tree, never "../"
check "no include climbs out of its folder (\"../\")" bash -c "! grep -rn '#include \"\.\./' agent detector htm pano tools tests"
check "detector/ and htm/ use nothing above them" bash -c "! grep -rhE '#include \"(agent|pano|tools)/' detector htm"
check "pano/common uses neither the client nor the node" bash -c "! grep -rhE '#include \"pano/(client|node)/' pano/common"
check "pano/client does not use the node" bash -c "! grep -rhE '#include \"pano/node/' pano/client"
check "agent/ does not use the node" bash -c "! grep -rhE '#include \"pano/node/' agent"
check "tools/ does not use the node" bash -c "! grep -rhE '#include \"pano/node/' tools"
check "agent/, detector/, htm/ and pano/ use nothing of tools/" bash -c "! grep -rhE '#include \"tools/' agent detector htm pano"
# internal headers stay in their rooms
inside() { # HEADER FILES...: the files that include HEADER are exactly FILES
	local found want
	found=$(grep -rlE "#include \"$1\"" agent detector htm pano tools tests | sort | tr '\n' ' ')
	want=$(printf '%s\n' "${@:2}" | sort | tr '\n' ' ')
	[ "$found" = "$want" ] || { echo "# $1 is included by: $found (only: $want)"; return 1; }
}
check "agent_internal.h only in agent.c and hosts.c" inside agent/agent_internal.h agent/agent.c agent/hosts.c
check "server_internal.h only in the node's loop, requests and commit path" \
	inside pano/node/server_internal.h pano/node/server.c pano/node/requests.c pano/node/commit.c
check "htm/internal.h only in htm/" bash -c "! grep -rlE '#include \"htm/internal.h\"' agent detector pano tools tests"
node_syms=$(nm -g --defined-only build/libpano_node.a 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDBR]/ { print $3 }' | sort -u)
check "the node's archive defines symbols ($(echo "$node_syms" | wc -l))" test -n "$node_syms"
for b in sonar-agent hview-logtail hview-client sonar-replay sonar-keygen; do
	found=$(nm -g --defined-only "bin/$b" | awk 'NF == 3 { print $3 }' | sort -u | comm -12 - <(echo "$node_syms") | head -3 | tr '\n' ' ')
	check "bin/$b holds no part of the node${found:+ (it has: $found)}" test -z "$found"
	check "bin/$b does not link libsqlite3" bash -c "! ldd bin/$b | grep -q sqlite"
done
check "bin/hview-server is the node" bash -c "nm bin/hview-server | grep -q ' T pano_server_run'"
exit $FAILED
