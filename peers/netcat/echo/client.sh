# shellcheck shell=sh
# echo client with OpenBSD netcat (Debian's netcat-openbsd): stdin goes to
# the server; -N half-closes (shutdown SHUT_WR) at stdin's EOF, and nc
# prints the echo unchanged until the server's EOF. A refused connection
# exits 1, silently (nc prints why only with -v).
# Contract: protocols/echo/README.md.
#
# Run:  printf 'Hello, world' | sh peers/netcat/echo/client.sh 127.0.0.1 65432
# shellcheck source=../../shell/args.sh
. "$(dirname "$0")/../../shell/args.sh"
client_args "$@"
exec nc -N "$host" "$port"
