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
    [ $# -eq 1 ] && valid_port "$1" || usage PORT
    port=$1
}

# client_args "$@": sets host and port.
client_args() {
    [ $# -eq 2 ] && valid_port "$2" || usage 'HOST PORT'
    host=$1
    port=$2
}

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
# close: `exec >&-` closes the command's output pipe (pipes: one per
# direction), so socat half-closes the connection, and `timeout 1 cat`
# drains the client's input until its EOF, for at most 1 s. If the child
# exited at once, socat would fail writing late input to it and close with
# input unread, which resets the connection. socat's address parser would
# eat quotes and take ':' or ',' as its own, so the command travels in the
# environment.
socat_reply_server() {
    export SL_REPLY="$1; exec >&-; timeout 1 cat >/dev/null"
    exec socat -t 1 "$(socat_listen),fork" SYSTEM:'eval "$SL_REPLY"',pipes
}

# socat_host: $host as socat's addresses want it; an IPv6 literal needs
# brackets there (TCP:[::1]:PORT), and brackets around IPv4 are refused.
socat_host() {
    case $host in
    *:*) echo "[$host]" ;;
    *) echo "$host" ;;
    esac
}
