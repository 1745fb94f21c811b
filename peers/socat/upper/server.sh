# upper server with socat: each connection runs `head -n 1 | tr a-z A-Z`.
# head ends the request at the first "\n" (or at the client's EOF), and
# GNU tr maps bytes, so only a-z change and UTF-8 passes untouched. After
# the reply socat half-closes and drains the client for up to 1 s (-t 1),
# the lingering close. Not the 1024-byte limit: head waits for the line
# however long it is (known failures in matrix.yaml).
# Contract: protocols/upper/README.md.
#
# Run:  sh peers/socat/upper/server.sh 12000
. "$(dirname "$0")/../../shell/args.sh"
server_args "$@"
# What each connection runs; socat's address parser would take a ':' or ','
# in it as its own, so the command travels in the environment.
export SL_REPLY='head -n 1 | LC_ALL=C tr a-z A-Z'
exec socat -t 1 "$(socat_listen tcp),fork" SYSTEM:'eval "$SL_REPLY"'
