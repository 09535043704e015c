#!/usr/bin/env bash
# Idempotent set-up for a Debian/Ubuntu host, run as root from anywhere:
# system packages, Node/kubectl checks, npm dependencies. Quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
warn() { printf 'setup: warning: %s\n' "$*" >&2; }

# 1. System packages (dpkg name per tool).
packages=(iproute2 nftables redis-server dnsutils iputils-ping iperf3 procps openssl conntrack curl python3 python3-kubernetes dnsperf dnsmasq-base)
missing=()
if command -v dpkg >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      echo "setup: missing packages: ${missing[*]} (run as root to install them)" >&2
      exit 1
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # iperf3 asks whether to start a daemon; the answer is no.
    echo 'iperf3 iperf3/start_daemon boolean false' | debconf-set-selections 2>/dev/null || true
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    say "installed ${missing[*]}"
  fi
else
  warn "dpkg not found: not a Debian/Ubuntu host; make sure these are installed: ${packages[*]}"
fi
# meshlet starts its own redis-server processes (a private one per server, lab
# and test); the system's redis service is neither needed nor touched.
command -v redis-server >/dev/null 2>&1 || { echo "setup: redis-server not on PATH" >&2; exit 1; }

# 2. Node >= 20 and npm.
if ! command -v node >/dev/null 2>&1; then
  echo "setup: node not found: install Node.js 20 or newer (with npm)" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "setup: Node.js $(node -v) is too old: meshlet needs 20 or newer" >&2
  exit 1
fi
command -v npm >/dev/null 2>&1 || { echo "setup: npm not found (it comes with Node.js)" >&2; exit 1; }

# 3. kubectl: optional for meshlet, needed by some integration tests and the demo.
command -v kubectl >/dev/null 2>&1 || warn "kubectl not found: the demo and the kubectl tests need it (v1.32 works)"

# 4. npm dependencies when node_modules is missing or older than package-lock.json.
stamp=node_modules/.meshlet-stamp
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
need_ci=0
if [[ ! -d node_modules ]]; then
  need_ci=1
elif [[ -f $stamp ]]; then
  [[ $(cat "$stamp") == "$lock_sum" ]] || need_ci=1
elif [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  # No stamp yet: trust an install npm made after the lock last changed.
  need_ci=1
fi
if ((need_ci)); then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
[[ -f $stamp && $(cat "$stamp") == "$lock_sum" ]] || echo "$lock_sum" > "$stamp"
exit 0
