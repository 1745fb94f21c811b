# timeofday server with socat: each connection runs `date` in the C
# locale with Java's Date.toString() format (%d pads the day with a zero,
# %Z is UTC under the matrix's TZ), after `Agora é:` written as its UTF-8
# bytes, and one "\n"; then the lingering close (-t 1).
# Contract: protocols/timeofday/README.md.
#
# Run:  sh peers/socat/timeofday/server.sh 5155
. "$(dirname "$0")/../../shell/args.sh"
server_args "$@"
# What each connection runs. socat's address parser would eat its quotes
# and take its ':' as a separator, so the command travels in the environment.
export SL_REPLY='printf "Agora \303\251:%s\n" "$(LC_ALL=C date "+%a %b %d %H:%M:%S %Z %Y")"'
exec socat -t 1 "$(socat_listen tcp),fork" SYSTEM:'eval "$SL_REPLY"'
