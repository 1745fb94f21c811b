"""Login server: the tasks of seed 003 ("Roteiro 4: Sockets - parte 1";
slide ports 5666/5667/5668). No slide shows the program; written in that
lesson's idiom (plain socket module), with a thread per connection so it
keeps listening for many clients (task 3).

Reads a user line and a password line; refuses an empty or invalid pair
and waits for a new one (task 5); logs a good pair to `log-acesso.txt`
(task 4), replies OK and closes. Contract: protocols/login/README.md.

Run: python3 peers/python/login/server.py PORT   (log in the working dir)
"""

import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402

LOG_FILE = 'log-acesso.txt'
MAX_LINE = 256   # bytes, the "\n" included
MAX_FIELD = 64   # bytes of a user or a password
OK = b'OK\n'
EMPTY = b'ERRO usuario ou senha vazio\n'
INVALID = b'ERRO usuario ou senha invalido\n'
log_lock = threading.Lock()


def _valid(field):
    return (field is not None and len(field) <= MAX_FIELD
            and all(0x20 <= c != 0x7f for c in field))


def check_pair(user, password):
    """Return (reply, log line) for one user/password pair given without
    their "\\n"; None stands for a line over the length limit. The log line
    is b'' when nothing is to be logged."""
    if user is not None:
        user = user.removesuffix(b'\r')
    if password is not None:
        password = password.removesuffix(b'\r')
    if user == b'' or password == b'':
        return EMPTY, b''
    if not _valid(user) or not _valid(password) or b':' in user:
        return INVALID, b''
    return OK, user + b':' + password + b'\n'


def append_log(line):
    """Append one line to the log with a single O_APPEND write."""
    with log_lock:
        fd = os.open(LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def serve(conn, addr):
    reader = peerlib.LineReader(conn, MAX_LINE)
    try:
        while True:
            user = reader.read_line()
            if user is not None and not user.endswith(b'\n'):
                break  # EOF before a complete pair: nothing is logged
            password = reader.read_line()
            if password is not None and not password.endswith(b'\n'):
                break
            reply, log_line = check_pair(
                user and user.removesuffix(b'\n'),
                password and password.removesuffix(b'\n'))
            if log_line:
                append_log(log_line)  # logged BEFORE the reply
                print(f'{addr} logged in:', log_line.decode(errors='replace'),
                      end='')
            conn.sendall(reply)
            if reply == OK:
                peerlib.linger_close(conn)
                return
    except OSError as err:
        print(f'{addr}: {err}')
    conn.close()


def main(argv):
    port = peerlib.server_args(argv)
    sock = peerlib.tcp_listener(port)
    print(f'Servidor ouvindo na porta {port}', flush=True)
    while True:
        conn, addr = sock.accept()
        threading.Thread(target=serve, args=(conn, addr), daemon=True).start()


if __name__ == '__main__':
    peerlib.run(main)
