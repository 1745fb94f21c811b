# shellcheck shell=sh
# timeofday server with socat: each connection runs `date` in the C
# locale with Java's Date.toString() format (%d pads the day with a zero,
# %Z is UTC under the matrix's TZ), after `Agora é:` written as its UTF-8
# bytes, and one "\n"; then the lingering close of socat_reply_server
# (peers/shell/args.sh).
# Contract: protocols/timeofday/README.md.
#
# Run:  sh peers/socat/timeofday/server.sh 5155
# shellcheck source=../../shell/args.sh
. "$(dirname "$0")/../../shell/args.sh"
server_args "$@"
# The command runs (and expands) per connection, not here.
# shellcheck disable=SC2016
socat_reply_server 'printf "Agora \303\251:%s\n" "$(LC_ALL=C date "+%a %b %d %H:%M:%S %Z %Y")"'
