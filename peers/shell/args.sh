# shellcheck shell=sh
# Sourced by the shell-wrapped peers (peers/socat, peers/netcat): the
# program contract's arguments, `server.sh PORT` and `client.sh HOST PORT`,
# with exit 2 and a usage line when they are wrong (protocols/README.md).

usage() {
    echo "usage: $(basename "$(dirname "$0")")/$(basename "$0") $1   (PORT is 1..65535)" >&2
    exit 2
}

# valid_port TEXT: true when TEXT is a decimal number in 1..65535.
valid_port() {
    case $1 in
    '' | *[!0-9]*) return 1 ;;
    esac
    [ "${#1}" -le 5 ] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

# server_args "$@": sets port.
server_args() {
    if [ $# -ne 1 ] || ! valid_port "$1"; then
        usage PORT
    fi
    port=$1
}

# client_args "$@": sets host and port.
client_args() {
    if [ $# -ne 2 ] || ! valid_port "$2"; then
        usage 'HOST PORT'
    fi
    host=$1
    port=$2
}

# How long socat's closing phase may wait for the other direction once one
# has ended (socat -t). Not a delay: it ends as soon as that direction
# does. A busy machine can take seconds to run the reply command or cat,
# and socat -t 1 then closed before the reply was written.
SOCAT_CLOSE_S=3600

# socat_listen: the socat address that listens for TCP on every interface,
# IPv6 dual-stack (IPv4 clients arrive as ::ffff:a.b.c.d), or IPv4 only on
# a host without IPv6, as the C references do.
socat_listen() {
    if [ -e /proc/net/if_inet6 ]; then
        echo "TCP6-LISTEN:$port,ipv6only=0,reuseaddr,backlog=128"
    else
        echo "TCP4-LISTEN:$port,reuseaddr,backlog=128"
    fi
}

# socat_reply_server COMMAND: serves $port with socat, running the shell
# COMMAND for each connection (its stdout is the reply), then the lingering
# close. The connection reaches the command as a socketpair (stdin and
# stdout are one socket), so the reply goes through `socat -u - FD:1,
# shut-down`, which half-closes it once the reply is written: the outer
# socat then half-closes the TCP connection. `cat` drains the client's
# input until its EOF; closing with input unread would reset the
# connection. (socat's `pipes` option would allow `exec >&-` instead, but
# socat 1.7.4 keeps a copy of the output pipe open and never sees its
# EOF: the connection then ended only when -t ran out, which under load
# could be before the reply was written.) No step waits a fixed time:
# socat's closing phase (-t) lasts until the other direction ends, and the
# cell's own timeout ends a client that never closes. socat's address
# parser would eat quotes and take ':' or ',' as its own, so the command
# travels in the environment.
socat_reply_server() {
    export SL_REPLY="{ $1; } | socat -u - FD:1,shut-down; cat >/dev/null"
    # $SL_REPLY is expanded by the shell socat starts, not here.
    # shellcheck disable=SC2016
    exec socat -t "$SOCAT_CLOSE_S" "$(socat_listen),fork" SYSTEM:'eval "$SL_REPLY"'
}

# socat_host: $host as socat's addresses want it; an IPv6 literal needs
# brackets there (TCP:[::1]:PORT), and brackets around IPv4 are refused.
socat_host() {
    case $host in
    *:*) echo "[$host]" ;;
    *) echo "$host" ;;
    esac
}
