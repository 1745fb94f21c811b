# daytime server with socat: each connection runs `date` in the C locale
# with ctime()'s format (%e pads the day with a space) and no newline;
# then the lingering close (below). Contract: protocols/daytime/README.md.
#
# Run:  sh peers/socat/daytime/server.sh 8888
. "$(dirname "$0")/../../shell/args.sh"
server_args "$@"
# What each connection runs: the reply, then `exec >&-` closes its output
# pipe (pipes: one per direction), so socat half-closes the connection,
# and `timeout 1 cat` drains the client's input until its EOF, for at most
# 1 s: the lingering close. If the child exited at once, socat would fail
# writing late input to it and close with input unread, which resets the
# connection. socat's address parser would eat the quotes and take ':' as
# a separator, so the command travels in the environment.
export SL_REPLY='printf %s "$(LC_ALL=C date "+%a %b %e %H:%M:%S %Y")"; exec >&-; timeout 1 cat >/dev/null'
exec socat -t 1 "$(socat_listen tcp),fork" SYSTEM:'eval "$SL_REPLY"',pipes
