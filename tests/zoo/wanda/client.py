# BUG ipv4-only (zoo): main() makes an AF_INET socket, which cannot reach
# an IPv6 address such as ::1.
# Echo client (lesson 004), written by Wanda.
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
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.connect((host, port))
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
    sys.stdout.buffer.write(reply)


main()
