#!/usr/bin/env bash
# Builds ./caddy: Caddy at a pinned version with the drio gateway plugin, the way an operator
# builds it (xcaddy), then checks that the plugin's modules are in the binary.
#
#   ./xcaddy.sh            build ./caddy
#   OUTPUT=path ./xcaddy.sh
set -euo pipefail
cd "$(dirname "$0")"

CADDY_VERSION="${CADDY_VERSION:-v2.11.9}"
XCADDY_VERSION="${XCADDY_VERSION:-v0.4.5}"
OUTPUT="${OUTPUT:-./caddy}"
MODULE="$(go list -m)"

if ! command -v xcaddy >/dev/null 2>&1; then
	echo "xcaddy.sh: installing xcaddy ${XCADDY_VERSION}" >&2
	go install "github.com/caddyserver/xcaddy/cmd/xcaddy@${XCADDY_VERSION}"
	PATH="$(go env GOPATH)/bin:${PATH}"
fi

# The module proxy answers 403 (not 404) for a module path that is not published, and `go get`
# stops at a 403; ending the proxy list with "|off" lets that lookup fall through to the local
# replacement while real modules still download.
first_proxy="$(go env GOPROXY | cut -d, -f1 | cut -d'|' -f1)"
case "$first_proxy" in
	direct|off|"") proxy="$(go env GOPROXY)" ;;
	*) proxy="${first_proxy}|off" ;;
esac

echo "xcaddy.sh: building Caddy ${CADDY_VERSION} with ${MODULE}/caddymodule -> ${OUTPUT}" >&2
GOPROXY="$proxy" xcaddy build "$CADDY_VERSION" \
	--output "$OUTPUT" \
	--with "${MODULE}/caddymodule" \
	--replace "${MODULE}=."

# Read the list once: with pipefail, `list-modules | grep -q` fails whenever grep stops reading
# before Caddy has written the whole list (Caddy dies of SIGPIPE), which depends on timing.
modules="$("$OUTPUT" list-modules)"
missing=0
for m in drio http.handlers.drio_oauth http.handlers.drio_protect; do
	if ! grep -qx "$m" <<<"$modules"; then
		echo "xcaddy.sh: module $m is missing from $OUTPUT" >&2
		missing=1
	fi
done
[ "$missing" -eq 0 ] || exit 1
echo "xcaddy.sh: ok: $("$OUTPUT" version | cut -d' ' -f1) with drio, http.handlers.drio_oauth, http.handlers.drio_protect" >&2
