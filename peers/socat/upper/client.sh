# shellcheck shell=sh
# upper client with socat: `head -n 1` passes the first stdin line (with
# its "\n"; without one, all of stdin), socat sends it, half-closes at its
# EOF and prints the reply unchanged until the server's EOF.
# Contract: protocols/upper/README.md.
#
# Run:  printf 'hello, world\n' | sh peers/socat/upper/client.sh 127.0.0.1 12000
# shellcheck source=../../shell/args.sh
. "$(dirname "$0")/../../shell/args.sh"
client_args "$@"
head -n 1 | socat -t 30 - "TCP:$(socat_host):$port"
