#!/usr/bin/env bash
# What `make test` needs so that no suite skips: redis-server (Redis store and multi-instance
# tests), Debian's chromium at /usr/bin/chromium (real-browser test), node and npm with the
# JS clients in tests/js/node_modules (MCP TypeScript SDK, openid-client), curl and openssl
# (README walkthrough). `make test` and `make test-deps` run this; so does CI (.ci/run).
#
# Missing system packages are installed with apt-get when running as root or with
# passwordless sudo; otherwise it prints what is missing and the command that installs it.
# tests/js/node_modules is (re)installed with `npm ci` when absent or older than
# package-lock.json. Nothing is fetched when everything is already there.
#
# Exits 0 when something is still missing (those tests skip, and `make test` lists them at
# the end), unless DRIO_REQUIRE_REDIS/CLIENTS/BROWSER=1 asks for it (CI): then exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."

say() { printf 'test-deps: %s\n' "$*"; }

# missing_pkgs fills need with the Debian packages whose commands are absent.
missing_pkgs() {
	need=()
	command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
	[ -x /usr/bin/chromium ] || need+=(chromium)
	command -v node >/dev/null 2>&1 || need+=(nodejs)
	command -v npm >/dev/null 2>&1 || need+=(npm)
	command -v curl >/dev/null 2>&1 || need+=(curl)
	command -v openssl >/dev/null 2>&1 || need+=(openssl)
}

missing_pkgs
if [ ${#need[@]} -gt 0 ]; then
	sudo=()
	can=yes
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			can=no
		fi
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		say "MISSING: ${need[*]}"
		say "apt-get is not available here; install them with your package manager"
		say "(chromium must be at /usr/bin/chromium; macOS: brew install redis node)."
	elif [ $can = no ]; then
		say "MISSING: ${need[*]} (not root, and no passwordless sudo)"
		say "install them with:"
		say "    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]} && make test-deps"
	else
		say "installing ${need[*]} (apt-get)"
		${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null ||
			say "apt-get update failed; trying the install anyway"
		${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >/dev/null ||
			say "apt-get install ${need[*]} failed (see above)"
		missing_pkgs
		[ ${#need[@]} -eq 0 ] || say "MISSING after apt-get: ${need[*]}"
	fi
fi
still=(${need[@]+"${need[@]}"})

# npm trusts only its bundled CAs; let it also trust the system's (a proxy CA installed there).
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
	export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

# The real JS clients, exactly as tests/js/package-lock.json pins them. npm ci writes
# node_modules/.package-lock.json last, so it marks a complete install.
js=tests/js
stamp=$js/node_modules/.package-lock.json
if command -v node >/dev/null 2>&1; then
	major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
	if [ "${major:-0}" -lt 20 ]; then
		say "WARNING: node $(node --version) is older than the >=20 that $js/package.json asks for;"
		say "the JS client tests may fail (Debian 12's nodejs is 18: use a newer node, e.g. from NodeSource)."
	fi
fi
if [ ! -f "$stamp" ] || [ "$js/package-lock.json" -nt "$stamp" ]; then
	if command -v npm >/dev/null 2>&1; then
		say "npm ci --prefix $js (the MCP TypeScript SDK and openid-client, as package-lock.json pins them)"
		if ! npm ci --prefix "$js" --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null; then
			say "npm ci --prefix $js failed (see above); \`make test-deps\` retries it"
			still+=("$js/node_modules")
		fi
	else
		still+=("$js/node_modules")
	fi
fi

if [ ${#still[@]} -eq 0 ]; then
	say "redis-server, chromium, node, npm, curl, openssl and $js/node_modules are present"
	exit 0
fi
# CI (DRIO_REQUIRE_*=1) wants every suite: stop here rather than skip or fail later.
strict=0
for m in "${still[@]}"; do
	case $m in
	redis-server) [ "${DRIO_REQUIRE_REDIS:-}" = 1 ] && strict=1 ;;
	chromium) [ "${DRIO_REQUIRE_BROWSER:-}" = 1 ] && strict=1 ;;
	nodejs | npm | "$js/node_modules") [ "${DRIO_REQUIRE_CLIENTS:-}" = 1 ] && strict=1 ;;
	esac
done
if [ $strict = 1 ]; then
	say "FAIL: DRIO_REQUIRE_* is set and ${still[*]} is still missing"
	exit 1
fi
say "without ${still[*]} the tests that need them skip (curl, openssl: fail); \`make test\` lists skips at the end"
exit 0
