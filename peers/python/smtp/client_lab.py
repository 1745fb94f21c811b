"""SMTP client the way the classic lab has students write it (the
textbook's "mail client on raw sockets" assignment that follows seed 004's
SMTP slide): one recv(1024) per reply, replies checked by their first
three characters, and two mistakes kept on purpose, because exposing them
is the point of this peer (matrix.yaml lists the cells they break):

- NO dot-stuffing: a body line "." ends the message early, and the lines
  after it reach the server as commands;
- the attachment's base64 on ONE line (base64.b64encode, no 76-character
  lines): a 1000-byte file is a 1336-character line, over SMTP's 1000.

It reads the same message description as every smtp client
(protocols/smtp/README.md, "Programs").

Run: python3 peers/python/smtp/client_lab.py HOST PORT < message.txt
"""

import base64
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import mime  # noqa: E402
import peerlib  # noqa: E402


def command(sock, line, expect):
    """Send line (None: just read) and check the reply's code."""
    if line is not None:
        sock.send(line.encode())
    # Slide idiom: one recv is taken to be one whole reply.
    reply = sock.recv(1024).decode()
    if reply[:3] != expect:
        raise peerlib.PeerError(f'{expect} reply not received from server: '
                                f'{reply.strip()}')


def main(argv):
    host, port = peerlib.client_args(argv)
    try:
        desc = mime.Description(peerlib.read_stdin())
    except ValueError as err:
        raise peerlib.PeerError(f'message description: {err}') from err
    msg = (f'From: {desc.sender}\r\nTo: {", ".join(desc.recipients)}\r\n'
           f'Subject: {desc.subject}\r\nMIME-Version: 1.0\r\n')
    text = desc.body.replace('\n', '\r\n')
    if desc.attach is None:
        msg += f'Content-Type: text/plain; charset=utf-8\r\n\r\n{text}'
    else:
        with open(desc.attach, 'rb') as f:
            # Kept on purpose: the whole file on one line.
            data = base64.b64encode(f.read()).decode()
        name = os.path.basename(desc.attach)
        msg += ('Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n'
                '--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
                f'{text}\r\n--XYZ\r\n'
                f'Content-Type: application/octet-stream; name="{name}"\r\n'
                'Content-Transfer-Encoding: base64\r\n'
                f'Content-Disposition: attachment; filename="{name}"\r\n'
                f'\r\n{data}\r\n--XYZ--\r\n')
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.connect((host, port))
    command(client, None, '220')
    command(client, 'HELO aluno\r\n', '250')
    command(client, f'MAIL FROM:<{desc.sender}>\r\n', '250')
    for rcpt in desc.recipients:
        command(client, f'RCPT TO:<{rcpt}>\r\n', '250')
    command(client, 'DATA\r\n', '354')
    # Kept on purpose: the message is sent as it is, no dot-stuffing.
    client.sendall(msg.encode())
    command(client, '\r\n.\r\n', '250')
    print(f'delivered to {len(desc.recipients)} recipient(s)', flush=True)
    command(client, 'QUIT\r\n', '221')
    client.close()
    return 0


if __name__ == '__main__':
    peerlib.run(main)
