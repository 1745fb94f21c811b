# shellcheck shell=sh
# udp sender with socat: -u copies stdin to one UDP socket, one datagram
# per read(); -b 65507 lets one read hold the largest payload, so a stdin
# written at once goes out as one datagram. Not an empty one: a read of 0
# bytes is EOF to socat, so empty stdin sends nothing (a known failure in
# matrix.yaml). Contract: protocols/udp/README.md.
#
# Run:  printf 'Hello, World!' | sh peers/socat/udp/client.sh 127.0.0.1 5005
# shellcheck source=../../shell/args.sh
. "$(dirname "$0")/../../shell/args.sh"
client_args "$@"
exec socat -u -b 65507 - "UDP-SENDTO:$(socat_host):$port"
