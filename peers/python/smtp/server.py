"""SMTP server on Debian's python3-aiosmtpd: aiosmtpd speaks SMTP (and
its own error texts); this handler pins the contract's greeting and EHLO
lines and stores each accepted message as mailbox/<n>.eml (envelope
lines, then the message as received). Contract: protocols/smtp/README.md.

Slide: seed 004 (PMR3412 Aula 05), "Protocolos de Email". The slide has
no server; this is the library a Python programmer would reach for.

Run: python3 -u peers/python/smtp/server.py 2525
"""

import asyncio
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402

if sys.flags.no_site:
    # The matrix starts the Python peers with -S (only this one needs a
    # package outside the standard library): add site-packages as a plain
    # start would.
    import site
    site.main()

try:
    from aiosmtpd.smtp import SMTP
except ImportError:
    # Debian installs python3-aiosmtpd for its /usr/bin/python3; a driver
    # running another 3.x interpreter (pyenv) finds the pure-Python
    # package there.
    sys.path.append('/usr/lib/python3/dist-packages')
    try:
        from aiosmtpd.smtp import SMTP
    except ImportError:
        print('server.py: aiosmtpd is missing (apt-get install '
              'python3-aiosmtpd)', file=sys.stderr)
        sys.exit(1)

NAME = 'lesson.example'
SIZE_MAX = 1048576
MAILBOX = 'mailbox'


class Mailbox:
    """aiosmtpd handler: the contract's EHLO lines and the mailbox."""

    def __init__(self):
        self.next = 1

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        session.host_name = hostname
        return [f'250-{NAME}', '250-8BITMIME', f'250-SIZE {SIZE_MAX}',
                '250 HELP']

    def store(self, data):
        """Write data under a temporary name, then link it to the first
        free mailbox/<n>.eml (never overwriting); return the name."""
        os.makedirs(MAILBOX, exist_ok=True)
        tmp = os.path.join(MAILBOX, f'.tmp-{os.getpid()}')
        with open(tmp, 'wb') as f:
            f.write(data)
        try:
            while True:
                name = os.path.join(MAILBOX, f'{self.next}.eml')
                self.next += 1
                try:
                    os.link(tmp, name)
                    return name
                except FileExistsError:
                    continue
        finally:
            os.unlink(tmp)

    async def handle_DATA(self, server, session, envelope):
        head = b'X-Envelope-From: <%s>\r\n' % envelope.mail_from.encode()
        for rcpt in envelope.rcpt_tos:
            head += b'X-Envelope-To: <%s>\r\n' % rcpt.encode()
        try:
            name = self.store(head + envelope.original_content)
        except OSError as err:
            print(f'server.py: mailbox: {err.strerror}', file=sys.stderr)
            return '451 Requested action aborted: local error'
        print(f'delivered {name} from {session.peer[0]}, '
              f'{len(envelope.rcpt_tos)} recipient(s)', flush=True)
        return '250 OK'


async def serve(port):
    handler = Mailbox()
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set_result, None)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname=NAME, ident='ESMTP ready',
                     data_size_limit=SIZE_MAX),
        sock=peerlib.tcp_listener(port))
    print(f'smtp server (aiosmtpd) listening on port {port}',
          file=sys.stderr)
    async with server:
        await stop
    return 0


def main(argv):
    port = peerlib.server_args(argv)
    return asyncio.run(serve(port))


if __name__ == '__main__':
    peerlib.run(main)
