# Echo server (lesson 004, PMR3412 Aula 05), written by Davi.
# Sends back every byte it receives until the client closes; one thread
# per client, so many clients are served at once.
# Run: python3 server.py PORT
import socket
import sys
import threading


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
            threading.Thread(target=serve, args=(conn, addr),
                             daemon=True).start()


main()
