# BUG Unicode upper (zoo, no catalogue id): serve() upper-cases the text
# with str.upper(), which changes letters outside a-z too (é -> É).
# Upper server (lesson 001, "Programação com sockets"), written by Yuri.
# One line per connection: the reply is the line with a-z in upper case.
# Run: python3 server.py PORT
import socket
import sys
import threading

MAX_LINE = 1024  # bytes, the '\n' included


def read_request(conn):
    # recv() returns whatever has arrived, so keep reading until the '\n',
    # the client's EOF or the length limit.
    request = b''
    while b'\n' not in request and len(request) < MAX_LINE:
        data = conn.recv(MAX_LINE - len(request))
        if not data:
            break
        request += data
    if b'\n' in request:
        return request[:request.index(b'\n') + 1]
    if len(request) >= MAX_LINE:
        return None
    return request


def close_gently(conn):
    # Closing with unread input makes the kernel send a reset, which can
    # destroy the reply: say we are done, read what is left (1 s at most).
    try:
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(1.0)
        while conn.recv(4096):
            pass
    except OSError:
        pass
    conn.close()


def serve(conn):
    try:
        request = read_request(conn)
        if request is None:
            conn.sendall(b'ERRO linha longa demais\n')
        else:
            text = request.decode('utf-8', 'surrogateescape')
            conn.sendall(text.upper().encode('utf-8', 'surrogateescape'))
    except OSError as err:
        print('client error:', err)
    close_gently(conn)


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print('usage: server.py PORT', file=sys.stderr)
        sys.exit(2)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('', int(sys.argv[1])))
    server.listen()
    print('The server is ready to receive', flush=True)
    while True:
        conn, addr = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


main()
