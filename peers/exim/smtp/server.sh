# shellcheck shell=sh
# smtp server: Debian's Exim 4 (exim4-daemon-light) in the foreground on
# PORT, as the user who starts it, with the minimal configuration next to
# this script (peers/exim/smtp/exim.conf; paths and the user are filled in
# here, because Exim does not expand them from the environment).
#
# Run:  sh peers/exim/smtp/server.sh 2525
# shellcheck source=../../shell/args.sh
. "$(dirname "$0")/../../shell/args.sh"
server_args "$@"
# Debian installs exim4 in /usr/sbin, which a plain user's PATH lacks.
PATH=$PATH:/usr/sbin:/sbin
command -v exim4 >/dev/null 2>&1 || {
    echo "server.sh: exim4 is missing (apt-get install exim4-daemon-light)" >&2
    exit 1
}
dir=$(pwd)
mkdir -p exim-spool mailbox || exit 1
deliver=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
    # Exim never delivers as root: deliver as nobody into an open mailbox/.
    # nobody must be able to walk down to it, so folders above it made
    # with mode 0700 (mkdtemp) get o+x (search only, never read).
    deliver=nobody
    chmod 0777 mailbox || exit 1
    d=$dir
    while [ "$d" != / ] && [ -n "$d" ]; do
        chmod o+x "$d" || exit 1
        d=$(dirname "$d")
    done
fi
sed -e "s|SL_DIR|$dir|g" -e "s|SL_USER|$(id -un)|g" -e "s|SL_GROUP|$(id -gn)|g" \
    -e "s|SL_DELIVER_USER|$deliver|g" \
    "$(dirname "$0")/exim.conf" >exim-spool/exim.conf || exit 1
# -bdf: daemon in the foreground; -oX: the port; -odi: deliver in the
# receiving process; -C: this configuration (Exim then gives up root).
exec exim4 -C "$dir/exim-spool/exim.conf" -bdf -odi -oX "$port"
