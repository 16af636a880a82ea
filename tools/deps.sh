#!/bin/sh
# deps.sh check|install PACKAGE... - make sure Debian packages are installed.
#   check:   quiet when all are there; otherwise prints what is missing and
#            the command that installs it, and fails (never installs: a
#            plain make only builds).
#   install: installs what is missing (as root), or prints the command and
#            fails.
set -u
mode=$1; shift
missing=""
for p in "$@"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "$mode" = install ] && [ "$(id -u)" -eq 0 ]; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || { echo "deps: apt-get update failed" >&2; exit 1; }
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		{ echo "deps: apt-get install$missing failed" >&2; exit 1; }
	exit 0
fi
echo "deps: missing Debian packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	echo "deps: install them with: make deps (or apt-get install -y$missing)" >&2
else
	echo "deps: install them with: sudo apt-get install -y$missing" >&2
fi
exit 1
