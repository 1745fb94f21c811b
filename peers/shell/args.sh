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

# socat_listen tcp|udp: the socat address that listens on every interface,
# IPv6 dual-stack (IPv4 clients arrive as ::ffff:a.b.c.d), or IPv4 only on
# a host without IPv6, as the C references do.
socat_listen() {
    if [ -e /proc/net/if_inet6 ]; then
        echo "$(echo "$1" | tr a-z A-Z)6-LISTEN:$port,ipv6only=0,reuseaddr,backlog=128"
    else
        echo "$(echo "$1" | tr a-z A-Z)4-LISTEN:$port,reuseaddr,backlog=128"
    fi
}

# socat_host: $host as socat's addresses want it; an IPv6 literal needs
# brackets there (TCP:[::1]:PORT), and brackets around IPv4 are refused.
socat_host() {
    case $host in
    *:*) echo "[$host]" ;;
    *) echo "$host" ;;
    esac
}
