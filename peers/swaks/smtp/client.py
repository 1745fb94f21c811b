"""smtp client through Debian's swaks (the Swiss Army Knife for SMTP): this
wrapper turns the message description (protocols/smtp/README.md,
"Programs") into swaks options; swaks builds the message (multipart/mixed
with a base64 attachment for Attach:) and speaks SMTP itself. The wrapper
prints the contract's line once swaks reports success.

Run: python3 peers/swaks/smtp/client.py HOST PORT < message.txt
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
    except ValueError as err:
        raise peerlib.PeerError(f'message description: {err}') from err
    cmd = ['swaks', '--silent', '2', '--server', host, '--port', str(port),
           '--helo', 'client.lesson', '--from', desc.sender,
           '--to', ','.join(desc.recipients),
           '--header', f'Subject: {desc.subject}', '--body', '-']
    if desc.attach is not None:
        if not os.path.isfile(desc.attach):
            raise peerlib.PeerError(f'attachment {desc.attach}: not a file')
        cmd += ['--attach-type', 'application/octet-stream',
                '--attach-name', os.path.basename(desc.attach),
                '--attach', '@' + desc.attach]
    body = desc.body.encode('utf-8', 'surrogateescape')
    try:
        done = subprocess.run(cmd, input=body, capture_output=True,
                              check=False)
    except FileNotFoundError as err:
        raise peerlib.PeerError('swaks is missing (apt-get install swaks)') \
            from err
    if done.returncode != 0:
        lines = done.stderr.decode('utf-8', 'replace').strip().splitlines()
        raise peerlib.PeerError(f'swaks exited {done.returncode}: '
                                f'{lines[-1] if lines else "no message"}')
    peerlib.write_out(
        f'delivered to {len(desc.recipients)} recipient(s)\n'.encode())
    return 0


if __name__ == '__main__':
    peerlib.run(main)
