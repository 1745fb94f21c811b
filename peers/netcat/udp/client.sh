# shellcheck shell=sh
# udp sender with OpenBSD netcat: -u sends one datagram per read() of
# stdin (a stdin written at once is one datagram), -q 0 quits at stdin's
# EOF instead of waiting for replies. Not an empty datagram: a read of 0
# bytes is EOF to nc, so empty stdin sends nothing (a known failure in
# matrix.yaml). Contract: protocols/udp/README.md.
#
# Run:  printf 'Hello, World!' | sh peers/netcat/udp/client.sh 127.0.0.1 5005
# shellcheck source=../../shell/args.sh
. "$(dirname "$0")/../../shell/args.sh"
client_args "$@"
exec nc -u -q 0 "$host" "$port"
