# upper server with socat: each connection runs `head -n 1 | tr a-z A-Z`.
# head ends the request at the first "\n" (or at the client's EOF), and
# GNU tr maps bytes, so only a-z change and UTF-8 passes untouched. Then
# the lingering close (below). Not the 1024-byte limit: head waits for the
# line however long it is (known failures in matrix.yaml).
# Contract: protocols/upper/README.md.
#
# Run:  sh peers/socat/upper/server.sh 12000
. "$(dirname "$0")/../../shell/args.sh"
server_args "$@"
# What each connection runs: the reply, then `exec >&-` closes its output
# pipe (pipes: one per direction), so socat half-closes the connection,
# and `timeout 1 cat` drains the client's input until its EOF, for at most
# 1 s: the lingering close. If the child exited at once, socat would fail
# writing late input to it and close with input unread, which resets the
# connection. socat's address parser would take a ':' or ',' in the
# command as its own, so it travels in the environment.
export SL_REPLY='head -n 1 | LC_ALL=C tr a-z A-Z; exec >&-; timeout 1 cat >/dev/null'
exec socat -t 1 "$(socat_listen tcp),fork" SYSTEM:'eval "$SL_REPLY"',pipes
