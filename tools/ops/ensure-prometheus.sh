#!/usr/bin/env bash
# ensure-prometheus.sh: make `prometheus` and `promtool` available on PATH, installing
# Debian's `prometheus` package with apt-get when either is missing, and say which it did.
#
# tools/checkops runs it before `promtool check rules`, `promtool test rules` and the
# dashboard check, so nothing has to be installed by hand. It installs with
# --no-install-recommends (no node exporter) and, like any package install in a container
# whose policy-rc.d forbids it, starts no service: the checks run their own Prometheus.
set -euo pipefail

missing=()
for tool in prometheus promtool; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "ensure-prometheus: found $(command -v prometheus) and $(command -v promtool) ($(prometheus --version 2>&1 | head -n1))"
	exit 0
fi

echo "ensure-prometheus: ${missing[*]} not on PATH: installing Debian's prometheus package with apt-get"
if ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-prometheus: apt-get not found: install Prometheus 2.x (prometheus and promtool) and put it on PATH" >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "ensure-prometheus: not root and no sudo: run 'apt-get install -y prometheus' as root" >&2
		exit 1
	fi
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh container has no package lists; update only when apt cannot see the package.
if ! apt-cache show prometheus >/dev/null 2>&1; then
	"${sudo[@]}" apt-get update -q
fi
"${sudo[@]}" apt-get install -y -q --no-install-recommends prometheus

for tool in prometheus promtool; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "ensure-prometheus: apt-get installed the prometheus package but $tool is still not on PATH" >&2
		exit 1
	fi
done
echo "ensure-prometheus: installed $(prometheus --version 2>&1 | head -n1)"
