# timeofday server with socat: each connection runs `date` in the C
# locale with Java's Date.toString() format (%d pads the day with a zero,
# %Z is UTC under the matrix's TZ), after `Agora é:` written as its UTF-8
# bytes, and one "\n"; then the lingering close (below).
# Contract: protocols/timeofday/README.md.
#
# Run:  sh peers/socat/timeofday/server.sh 5155
. "$(dirname "$0")/../../shell/args.sh"
server_args "$@"
# What each connection runs: the reply, then `exec >&-` closes its output
# pipe (pipes: one per direction), so socat half-closes the connection,
# and `timeout 1 cat` drains the client's input until its EOF, for at most
# 1 s: the lingering close. If the child exited at once, socat would fail
# writing late input to it and close with input unread, which resets the
# connection. socat's address parser would eat the quotes and take ':' as
# a separator, so the command travels in the environment.
export SL_REPLY='printf "Agora \303\251:%s\n" "$(LC_ALL=C date "+%a %b %d %H:%M:%S %Z %Y")"; exec >&-; timeout 1 cat >/dev/null'
exec socat -t 1 "$(socat_listen tcp),fork" SYSTEM:'eval "$SL_REPLY"',pipes
