"""Acknowledging server: the C server of seed 002 (UTFPR, Spanhol; slide
example port 5488). No Python slide shows it; written in the lessons'
Python idiom, with a thread per connection.

Reads one message (up to and including the first "\\n", or 255 bytes, or
what came before EOF), prints it, replies `Sou o Servidor. Recebi sua
mensagem.` (no newline) and closes. Contract: protocols/ack/README.md.

Run: python3 peers/python/ack/server.py PORT
"""

import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402

MAX_MESSAGE = 255
RESPONSE = b'Sou o Servidor. Recebi sua mensagem.'
print_lock = threading.Lock()


def read_message(conn):
    """Return the request: bytes to the first "\\n" (kept), at most 255
    bytes, or what arrived before EOF."""
    buffer = b''
    while len(buffer) < MAX_MESSAGE and b'\n' not in buffer:
        data = conn.recv(MAX_MESSAGE - len(buffer))
        if not data:
            break
        buffer += data
    newline = buffer.find(b'\n')
    return buffer if newline < 0 else buffer[:newline + 1]


def serve(conn, addr):
    try:
        message = read_message(conn)
        with print_lock:
            peerlib.write_out(b'Mensagem recebida do cliente: ' + message
                              + b'\n')
        conn.sendall(RESPONSE)
    except OSError as err:
        print(f'{addr}: {err}')
    # The rest of an overlong line is read and discarded here.
    peerlib.linger_close(conn)


def main(argv):
    port = peerlib.server_args(argv)
    sock = peerlib.tcp_listener(port)
    print(f'Servidor ouvindo na porta [{port}]...', flush=True)
    while True:
        conn, addr = sock.accept()
        threading.Thread(target=serve, args=(conn, addr), daemon=True).start()


if __name__ == '__main__':
    peerlib.run(main)
