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
node_syms=$(nm -g --defined-only build/libpano_node.a 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDBR]/ { print $3 }' | sort -u)
check "the node's archive defines symbols ($(echo "$node_syms" | wc -l))" test -n "$node_syms"
for b in sonar-agent hview-logtail hview-client sonar-replay sonar-keygen; do
	found=$(nm -g --defined-only "bin/$b" | awk 'NF == 3 { print $3 }' | sort -u | comm -12 - <(echo "$node_syms") | head -3 | tr '\n' ' ')
	check "bin/$b holds no part of the node${found:+ (it has: $found)}" test -z "$found"
	check "bin/$b does not link libsqlite3" bash -c "! ldd bin/$b | grep -q sqlite"
done
check "bin/hview-server is the node" bash -c "nm bin/hview-server | grep -q ' T pano_server_run'"
exit $FAILED
