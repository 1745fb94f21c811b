# shellcheck shell=sh
# daytime server with socat: each connection runs `date` in the C locale
# with ctime()'s format (%e pads the day with a space) and no newline;
# then the lingering close of socat_reply_server (peers/shell/args.sh).
# Contract: protocols/daytime/README.md.
#
# Run:  sh peers/socat/daytime/server.sh 8888
# shellcheck source=../../shell/args.sh
. "$(dirname "$0")/../../shell/args.sh"
server_args "$@"
# The command runs (and expands) per connection, not here.
# shellcheck disable=SC2016
socat_reply_server 'printf %s "$(LC_ALL=C date "+%a %b %e %H:%M:%S %Y")"'
