# shellcheck shell=sh
# upper server with socat: each connection runs `head -n 1 | tr a-z A-Z`.
# head ends the request at the first "\n" (or at the client's EOF), and
# GNU tr maps bytes, so only a-z change and UTF-8 passes untouched. Then
# the lingering close of socat_reply_server (peers/shell/args.sh). Not
# the 1024-byte limit: head waits for the line however long it is (known
# failures in matrix.yaml).
# Contract: protocols/upper/README.md.
#
# Run:  sh peers/socat/upper/server.sh 12000
# shellcheck source=../../shell/args.sh
. "$(dirname "$0")/../../shell/args.sh"
server_args "$@"
socat_reply_server 'head -n 1 | LC_ALL=C tr a-z A-Z'
