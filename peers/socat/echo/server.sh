# shellcheck shell=sh
# echo server with socat: every connection gets its own `cat`, which
# writes back every byte it reads; the client's EOF closes cat's input,
# cat exits once it has written everything back, and socat closes.
# Concurrent clients: socat forks per connection. Backpressure comes from
# cat's blocking pipes. Contract: protocols/echo/README.md.
#
# Run:  sh peers/socat/echo/server.sh 65432
# shellcheck source=../../shell/args.sh
. "$(dirname "$0")/../../shell/args.sh"
server_args "$@"
exec socat -t "$SOCAT_CLOSE_S" "$(socat_listen),fork" EXEC:cat
