# shellcheck shell=sh
# upper client with OpenBSD netcat: `head -n 1` passes the first stdin
# line (with its "\n"; without one, all of stdin), nc sends it, -N
# half-closes at its EOF, and nc prints the reply until the server's EOF.
# Contract: protocols/upper/README.md.
#
# Run:  printf 'hello, world\n' | sh peers/netcat/upper/client.sh 127.0.0.1 12000
# shellcheck source=../../shell/args.sh
. "$(dirname "$0")/../../shell/args.sh"
client_args "$@"
head -n 1 | nc -N "$host" "$port"
