# shellcheck shell=sh
# echo client with socat: stdin goes to the server; at stdin's EOF socat
# half-closes (shutdown SHUT_WR) and keeps copying the echo to stdout
# until the server's EOF. -t 30: socat's wait for that EOF after ours
# (default 0.5 s) must outlast any slow echo; the matrix's timeout is
# shorter anyway. Contract: protocols/echo/README.md.
#
# Run:  printf 'Hello, world' | sh peers/socat/echo/client.sh 127.0.0.1 65432
# shellcheck source=../../shell/args.sh
. "$(dirname "$0")/../../shell/args.sh"
client_args "$@"
exec socat -t 30 - "TCP:$(socat_host):$port"
