# Upper client (lesson 001), written by Ana.
# Sends the first line of stdin, prints the server's reply.
# Run: python3 client.py HOST PORT < line
import socket
import sys


def main():
    if len(sys.argv) != 3 or not sys.argv[2].isdigit():
        print('usage: client.py HOST PORT', file=sys.stderr)
        sys.exit(2)
    host, port = sys.argv[1], int(sys.argv[2])
    sentence = sys.stdin.buffer.readline()
    try:
        with socket.create_connection((host, port)) as sock:
            sock.sendall(sentence)
            # The half-close tells the server the request is complete.
            sock.shutdown(socket.SHUT_WR)
            reply = b''
            while True:
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
    except OSError as err:
        print('client.py:', err, file=sys.stderr)
        sys.exit(1)
    sys.stdout.buffer.write(reply)


main()
