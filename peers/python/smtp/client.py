"""SMTP client with the standard library: `email` builds the message
(MIME multipart/mixed with a base64 attachment when the description names
a file) and `smtplib` sends it. Contract: protocols/smtp/README.md.

Slide: seed 004 (PMR3412 Aula 05), "Protocolos de Email": SMTP, the header
ended by an empty line, MIME, Base64. The slide has no program; this is
how a Python programmer sends mail without touching sockets.

Run: python3 peers/python/smtp/client.py HOST PORT < message.txt
"""

import os
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import mime  # noqa: E402
import peerlib  # noqa: E402


def main(argv):
    host, port = peerlib.client_args(argv)
    try:
        desc = mime.Description(peerlib.read_stdin())
    except ValueError as err:
        raise peerlib.PeerError(f'message description: {err}') from err
    try:
        msg = mime.build_message(desc)
    except OSError as err:
        raise peerlib.PeerError(f'attachment {desc.attach}: '
                                f'{err.strerror}') from err
    try:
        with smtplib.SMTP(host, port, local_hostname='client.lesson') as smtp:
            # send_message raises unless the final "." is answered 250.
            smtp.send_message(msg, desc.sender, desc.recipients)
            peerlib.write_out(
                f'delivered to {len(desc.recipients)} recipient(s)\n'.encode())
    except smtplib.SMTPException as err:
        raise peerlib.PeerError(f'{type(err).__name__}: {err}') from err
    return 0


if __name__ == '__main__':
    peerlib.run(main)
