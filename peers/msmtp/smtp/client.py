"""smtp client through Debian's msmtp: Python's `email` builds the message
from the description (protocols/smtp/README.md, "Programs", the same
message as peers/python/smtp/client.py), and msmtp, an SMTP client that
real mail setups use as their sendmail, delivers it (CRLF line ends,
dot-stuffing, the SMTP dialogue). No configuration file is read: every
setting is on the command line. The wrapper prints the contract's line
once msmtp reports success.

Run: python3 peers/msmtp/smtp/client.py HOST PORT < message.txt
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'python'))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'python', 'smtp'))
import mime  # noqa: E402
import peerlib  # noqa: E402


def main(argv):
    host, port = peerlib.client_args(argv)
    try:
        desc = mime.Description(peerlib.read_stdin())
        msg = mime.build_message(desc)
    except ValueError as err:
        raise peerlib.PeerError(f'message description: {err}') from err
    except OSError as err:
        raise peerlib.PeerError(f'attachment {desc.attach}: '
                                f'{err.strerror}') from err
    cmd = ['msmtp', '--file=/dev/null', f'--host={host}', f'--port={port}',
           '--auth=off', '--tls=off', '--domain=client.lesson',
           f'--from={desc.sender}', '--', *desc.recipients]
    try:
        done = subprocess.run(cmd, input=msg.as_bytes(), capture_output=True,
                              check=False)
    except FileNotFoundError as err:
        raise peerlib.PeerError('msmtp is missing (apt-get install msmtp)') \
            from err
    if done.returncode != 0:
        lines = done.stderr.decode('utf-8', 'replace').strip().splitlines()
        raise peerlib.PeerError(f'msmtp exited {done.returncode}: '
                                f'{lines[-1] if lines else "no message"}')
    peerlib.write_out(
        f'delivered to {len(desc.recipients)} recipient(s)\n'.encode())
    return 0


if __name__ == '__main__':
    peerlib.run(main)
