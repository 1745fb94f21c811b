# BUG one-at-a-time (zoo): main() serves each client itself, in the accept
# loop, instead of in a thread: while one client stays connected nobody
# else is served.
# Echo server (lesson 004, PMR3412 Aula 05), written by Kaio.
# Sends back every byte it receives until the client closes, one client
# after the other.
# Run: python3 server.py PORT
import socket
import sys


def serve(conn, addr):
    with conn:
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                conn.sendall(data)
        except OSError as err:
            # A client that resets its connection must not end the server.
            print(addr, err)


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print('usage: server.py PORT', file=sys.stderr)
        sys.exit(2)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('', int(sys.argv[1])))
        s.listen()
        while True:
            conn, addr = s.accept()
            print('Connected by', addr, flush=True)
            serve(conn, addr)


main()
