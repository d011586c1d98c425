#!/usr/bin/env bash
# Make sure the programs a make target drives are on this machine, before it starts.
#
#   tools/system-deps.sh NEED...     NEED: terraform, chromium, redis, node
#
# A missing program that the distribution packages (chromium, redis-server, nodejs) is
# installed with apt-get when this runs as root on a machine that has apt-get; otherwise the
# script stops within seconds with one line that names the package and the command to run.
# Terraform is not a distribution package: its line says where to get it.
#
# Found where the tests look: on PATH (chromium or chromium-browser, or $BROWSER_EXECUTABLE;
# redis-server or valkey-server; node; terraform or $TERRAFORM).
# Exit status: 0 all present (or installed now), 1 something is missing, 64 usage error.
set -uo pipefail

have_chromium() {
  if [[ -n "${BROWSER_EXECUTABLE:-}" ]]; then [[ -x "$BROWSER_EXECUTABLE" ]]; return; fi
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null
}
have_redis() { command -v redis-server >/dev/null || command -v valkey-server >/dev/null; }
have_node() { command -v node >/dev/null; }
have_terraform() { command -v "${TERRAFORM:-terraform}" >/dev/null; }

package_of() {
  case "$1" in
    chromium) echo chromium ;;
    redis) echo redis-server ;;
    node) echo nodejs ;;
    *) echo "" ;;
  esac
}

(( $# )) || { echo "usage: tools/system-deps.sh terraform|chromium|redis|node..." >&2; exit 64; }
missing=()
for need in "$@"; do
  case "$need" in
    terraform | chromium | redis | node) "have_$need" || missing+=("$need") ;;
    *) echo "tools/system-deps.sh: unknown need '$need' (terraform, chromium, redis, node)" >&2; exit 64 ;;
  esac
done
(( ${#missing[@]} )) || exit 0

if [[ " ${missing[*]} " == *" chromium "* && -n "${BROWSER_EXECUTABLE:-}" ]]; then
  echo "BROWSER_EXECUTABLE=$BROWSER_EXECUTABLE is not an executable file: point it at Chromium, or unset it to use the distribution's chromium" >&2
  exit 1
fi

if [[ " ${missing[*]} " == *" terraform "* ]]; then
  echo "terraform not found: install Terraform 1.11 or newer (https://developer.hashicorp.com/terraform/install), or run make TERRAFORM=/path/to/terraform" >&2
  exit 1
fi

packages=()
for need in "${missing[@]}"; do packages+=("$(package_of "$need")"); done
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  echo "installing the distribution's ${packages[*]} with apt-get (once per machine)" >&2
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  if { apt-get update -qq && apt-get install -y -qq "${packages[@]}"; } >"$log" 2>&1; then
    hash -r
    still=()
    for need in "${missing[@]}"; do "have_$need" || still+=("$need"); done
    (( ${#still[@]} == 0 )) && exit 0
    echo "apt-get installed ${packages[*]}, but ${still[*]} is still not on PATH ($PATH)" >&2
    exit 1
  fi
  tail -n 5 "$log" >&2
  echo "apt-get could not install ${packages[*]} (its last lines above): run apt-get update && apt-get install -y ${packages[*]}" >&2
  exit 1
fi
echo "missing ${packages[*]}: install with sudo apt-get install -y ${packages[*]} (or your system's packages), then run make again" >&2
exit 1
