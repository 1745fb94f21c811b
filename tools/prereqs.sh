#!/bin/sh
# Checks what `make run` and `make test` need on a Debian machine. Missing
# packages are installed when running as root (one apt-get update, then one
# install); otherwise the exact apt-get command is printed and we exit 2.
# A Python that Debian's python3-yaml cannot serve (a venv, pyenv,
# setup-python) and that lacks PyYAML gets the pip line instead.
# Usage: tools/prereqs.sh [--check] [PYTHON]   (the interpreter that will
# run the driver; --check: only report, never install)
set -u
check_only=0
if [ "${1:-}" = "--check" ]; then
    check_only=1
    shift
fi
python=${1:-python3}
missing=""
pip_line=""

need() { # need COMMAND PACKAGE (sbin too: not on a plain user's PATH on Debian)
    PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}

need cmake cmake
need cc gcc
need make make
need pkg-config pkg-config
need javac openjdk-17-jdk-headless
need java openjdk-17-jdk-headless
need node nodejs
need socat socat
need nc netcat-openbsd
# Every cell runs in namespaces bubblewrap makes (harness/run/cell.py).
need bwrap bubblewrap
# smtp's third-party peers (protocols/smtp): swaks and msmtp as clients,
# aiosmtpd under the Python server (Debian's package, for /usr/bin/python3;
# peers/python/smtp/server.py also finds it from another 3.x interpreter).
need swaks swaks
need msmtp msmtp
# swaks speaks IPv6 (the ipv6 mode) only with this Perl module.
if command -v perl >/dev/null 2>&1 &&
    ! perl -MIO::Socket::INET6 -e 1 >/dev/null 2>&1; then
    missing="$missing libio-socket-inet6-perl"
fi
# exim4-daemon-light: the real MTA as an smtp server (peers/exim).
need exim4 exim4-daemon-light
# The lint gates `make test` runs (tools/lint.sh, tests/lint).
need flake8 flake8
need shellcheck shellcheck
need clang-format clang-format
# Debian's python3-mypy gives no mypy command, only the module for
# /usr/bin/python3 (tools/lint.sh finds it there).
if ! command -v mypy >/dev/null 2>&1 &&
    ! "$python" -m mypy --version >/dev/null 2>&1 &&
    ! /usr/bin/python3 -m mypy --version >/dev/null 2>&1; then
    missing="$missing python3-mypy"
fi
if ! "$python" -c 'import aiosmtpd' >/dev/null 2>&1 &&
    [ ! -d /usr/lib/python3/dist-packages/aiosmtpd ]; then
    missing="$missing python3-aiosmtpd"
fi
if command -v pkg-config >/dev/null 2>&1 && ! pkg-config --exists cmocka; then
    missing="$missing libcmocka-dev"
elif ! command -v pkg-config >/dev/null 2>&1; then
    missing="$missing libcmocka-dev"
fi
# javac must be 17 or newer: the peers use Java 17 language level.
if command -v javac >/dev/null 2>&1; then
    v=$(javac -version 2>&1 | sed -n 's/^javac \([0-9]*\).*/\1/p')
    if [ -z "$v" ] || [ "$v" -lt 17 ]; then
        missing="$missing openjdk-17-jdk-headless"
    fi
fi
# node must be 18 or newer (Debian 12's): the Node peers use nothing later.
if command -v node >/dev/null 2>&1 &&
    ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' \
        >/dev/null 2>&1; then
    missing="$missing nodejs"
fi
# nc must be OpenBSD's: the netcat peer half-closes with -N, which
# netcat-traditional does not have.
if command -v nc >/dev/null 2>&1 &&
    ! nc -h 2>&1 | grep -q '^[[:space:]]*-N[[:space:]]'; then
    missing="$missing netcat-openbsd"
fi
# PyYAML only if the python that runs the driver lacks it. python3-yaml
# lands in Debian's /usr/lib/python3/dist-packages, which only Debian's own
# interpreter outside a venv reads; any other one needs pip.
if ! command -v "$python" >/dev/null 2>&1; then
    missing="$missing python3 python3-yaml"
elif ! "$python" -c 'import yaml' >/dev/null 2>&1; then
    debian=$("$python" -c 'import sys
venv = sys.prefix != sys.base_prefix
print("yes" if sys.executable.startswith("/usr/bin/python3") and not venv else "no")' \
        2>/dev/null)
    if [ "$debian" = yes ]; then
        missing="$missing python3-yaml"
    else
        pip_line="$python -m pip install pyyaml"
    fi
fi
if [ -n "$pip_line" ]; then
    exe=$("$python" -c 'import sys; print(sys.executable)' 2>/dev/null)
    echo "prereqs: $exe (a venv or not Debian's /usr/bin/python3) lacks PyYAML," \
         "which apt-get cannot give it. Run:" >&2
    echo "prereqs:   $pip_line" >&2
    echo "prereqs: (or use Debian's interpreter: make PYTHON=/usr/bin/python3 ...)" >&2
fi

# Deduplicate, keep order.
# shellcheck disable=SC2086  # $missing is a list: split it on purpose
pkgs=$(printf '%s\n' $missing | awk 'NF && !seen[$0]++' | tr '\n' ' ')
pkgs=${pkgs% }
if [ -z "$pkgs" ]; then
    [ -n "$pip_line" ] && exit 2
    exit 0
fi

cmd="apt-get install -y --no-install-recommends $pkgs"
if [ "$(id -u)" -ne 0 ] || [ "$check_only" -eq 1 ]; then
    echo "prereqs: missing Debian packages: $pkgs" >&2
    echo "prereqs: run as root:  apt-get update && $cmd" >&2
    exit 2
fi
echo "prereqs: installing $pkgs" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2 || { echo "prereqs: apt-get update failed" >&2; exit 2; }
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $pkgs >&2 || {
    echo "prereqs: '$cmd' failed" >&2
    exit 2
}
if [ -z "$pip_line" ] && ! "$python" -c 'import yaml' >/dev/null 2>&1; then
    echo "prereqs: $python still cannot import yaml; python3-yaml serves" \
         "/usr/bin/python3 only. Run: make PYTHON=/usr/bin/python3 ..." >&2
    exit 2
fi
[ -n "$pip_line" ] && exit 2
exit 0
