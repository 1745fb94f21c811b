"""Time-of-day server: the Java server of seed 002 (UTFPR, Spanhol; slide
port 5155). No Python slide shows it; written in the lessons' Python idiom
with a thread per connection, like the Java slide.

On each connection sends `Agora é:` + the date as Java's Date.toString()
writes it + "\\n", UTF-8, then closes. Contract: protocols/timeofday/README.md.

Run: python3 peers/python/timeofday/server.py PORT
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402

DAYS = ('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')
MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun',
          'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')


def java_date(seconds=None):
    """Return the local time as Java's Date.toString() writes it:
    `Www Mmm dd hh:mm:ss ZZZ yyyy` (English names, day padded with 0)."""
    t = time.localtime(seconds)
    # Names from a table, not strftime, so the locale cannot change them.
    return '%s %s %02d %02d:%02d:%02d %s %d' % (
        DAYS[t.tm_wday], MONTHS[t.tm_mon - 1], t.tm_mday,
        t.tm_hour, t.tm_min, t.tm_sec, t.tm_zone, t.tm_year)


def serve(conn, addr):
    print(f'#Cliente atendido no socket:{addr}')
    try:
        conn.sendall(('Agora é:' + java_date() + '\n').encode('utf-8'))
    except OSError as err:
        print(f'{addr}: {err}')
    peerlib.linger_close(conn)


def main(argv):
    port = peerlib.server_args(argv)
    sock = peerlib.tcp_listener(port)
    print(f'Servidor ouvindo na porta {port}...', flush=True)
    while True:
        conn, addr = sock.accept()
        threading.Thread(target=serve, args=(conn, addr), daemon=True).start()


if __name__ == '__main__':
    peerlib.run(main)
