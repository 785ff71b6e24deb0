#!/bin/sh
# The tests check metrics and alert rules with the real Prometheus tools (Debian's
# `prometheus` package: promtool and the server), make test certificates with openssl,
# check the systemd unit with systemd-analyze (Debian's `systemd` package), the JUnit
# reports of `camprobe once` with libxml2's xmllint, and the status page in Debian's
# Chromium (driven by playwright-core, which downloads no browser of its own).
# Install them when missing and we can.
set -e
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 && command -v systemd-analyze >/dev/null 2>&1 && command -v xmllint >/dev/null 2>&1 && [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's prometheus (promtool, prometheus), openssl, systemd (systemd-analyze), libxml2-utils (xmllint) and chromium packages for the tests" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus prometheus-alertmanager openssl systemd libxml2-utils chromium fonts-dejavu-core >/dev/null
  exit 0
fi
echo "the tests need promtool, prometheus, openssl, systemd-analyze, xmllint and chromium: sudo apt-get install prometheus prometheus-alertmanager openssl systemd libxml2-utils chromium fonts-dejavu-core" >&2
exit 1
