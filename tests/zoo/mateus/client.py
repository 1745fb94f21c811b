# BUG extra-output (zoo): main() prints the label 'Received: ' on stdout
# before the reply; only the reply belongs there.
# Echo client (lesson 004), written by Mateus.
# Sends all of stdin, then prints everything the server sends back.
# Run: python3 client.py HOST PORT < message
import socket
import sys


def main():
    if len(sys.argv) != 3 or not sys.argv[2].isdigit():
        print('usage: client.py HOST PORT', file=sys.stderr)
        sys.exit(2)
    host, port = sys.argv[1], int(sys.argv[2])
    message = sys.stdin.buffer.read()
    try:
        with socket.create_connection((host, port)) as s:
            s.sendall(message)
            # EOF tells the server there is nothing more to echo.
            s.shutdown(socket.SHUT_WR)
            reply = b''
            while True:
                data = s.recv(4096)
                if not data:
                    break
                reply += data
    except OSError as err:
        print('client.py:', err, file=sys.stderr)
        sys.exit(1)
    print('Received:', end=' ', flush=True)
    sys.stdout.buffer.write(reply)


main()
