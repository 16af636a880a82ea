#!/bin/sh
# deps.sh check|install PACKAGE... - make sure Debian packages are installed.
#   check:   quiet when all are there; installs the missing ones when run as
#            root, otherwise prints the exact command and fails.
#   install: installs (as root) or prints the command.
set -u
mode=$1; shift
missing=""
for p in "$@"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && { [ "$mode" = install ] && echo "deps: all installed:$*" | cut -c1-200; exit 0; }
if [ "$(id -u)" -eq 0 ]; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || { echo "deps: apt-get update failed" >&2; exit 1; }
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		{ echo "deps: apt-get install$missing failed" >&2; exit 1; }
	exit 0
fi
echo "deps: missing Debian packages:$missing" >&2
echo "deps: install them with: sudo apt-get install -y$missing" >&2
exit 1
