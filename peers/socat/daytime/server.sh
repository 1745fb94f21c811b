# daytime server with socat: each connection runs `date` in the C locale
# with ctime()'s format (%e pads the day with a space) and no newline;
# then socat half-closes and drains whatever the client sends for up to
# 1 s (-t 1), the lingering close. Contract: protocols/daytime/README.md.
#
# Run:  sh peers/socat/daytime/server.sh 8888
. "$(dirname "$0")/../../shell/args.sh"
server_args "$@"
# What each connection runs. socat's address parser would eat its quotes
# and take its ':' as a separator, so the command travels in the environment.
export SL_REPLY='printf %s "$(LC_ALL=C date "+%a %b %e %H:%M:%S %Y")"'
exec socat -t 1 "$(socat_listen tcp),fork" SYSTEM:'eval "$SL_REPLY"'
