"""Calculator server: the exercise of seed 001 ("Programação com sockets";
slide port 12000). No slide shows it; written in that lesson's idiom, with a
thread per connection so many clients can calculate at once.

Each request line `OP A B` (OP = SOMA, SUB, MUL or DIV) gets one reply line:
the result, or an `ERRO ...` line; the connection stays open until the
client's EOF. Contract: protocols/calc/README.md.

Run: python3 peers/python/calc/server.py PORT
"""

import os
import re
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import peerlib  # noqa: E402

MAX_LINE = 256  # bytes, the "\n" included
LIMIT = 1e15
NUMBER = re.compile(rb'[+-]?[0-9]+(\.[0-9]+)?')
OPERATIONS = {
    b'SOMA': lambda a, b: a + b,
    b'SUB': lambda a, b: a - b,
    b'MUL': lambda a, b: a * b,
    b'DIV': lambda a, b: a / b,
}

TOO_LONG = b'ERRO linha longa demais'
UNKNOWN_OP = b'ERRO operacao desconhecida'
OPERAND_COUNT = b'ERRO numero de operandos'
BAD_NUMBER = b'ERRO numero invalido'
OUT_OF_RANGE = b'ERRO fora do intervalo'
DIVISION_BY_ZERO = b'ERRO divisao por zero'


def format_number(value):
    """Return value rounded to 6 decimals, without trailing zeros."""
    # "%.6f" rounds the double's exact binary value, half to even, like C.
    text = ('%.6f' % value).rstrip('0').rstrip('.')
    return b'0' if text == '-0' else text.encode('ascii')


def calc_eval(request):
    """Return the reply (no "\\n") to one request line (no "\\n")."""
    if len(request) >= MAX_LINE:
        return TOO_LONG
    if request.endswith(b'\r'):
        request = request[:-1]
    fields = [f for f in request.split(b' ') if f]
    if not fields or fields[0] not in OPERATIONS:
        return UNKNOWN_OP
    if len(fields) != 3:
        return OPERAND_COUNT
    op, a, b = fields
    if not NUMBER.fullmatch(a) or not NUMBER.fullmatch(b):
        return BAD_NUMBER
    a, b = float(a), float(b)
    if abs(a) >= LIMIT or abs(b) >= LIMIT:
        return OUT_OF_RANGE
    if op == b'DIV' and b == 0:
        return DIVISION_BY_ZERO
    result = OPERATIONS[op](a, b)
    if abs(result) >= LIMIT:
        return OUT_OF_RANGE
    return format_number(result)


def serve(conn, addr):
    reader = peerlib.LineReader(conn, MAX_LINE)
    try:
        while True:
            line = reader.read_line()
            if line is None:
                reply = TOO_LONG
            elif not line:
                break
            else:
                reply = calc_eval(line.removesuffix(b'\n'))
            conn.sendall(reply + b'\n')
    except OSError as err:
        print(f'{addr}: {err}')
    conn.close()


def main(argv):
    port = peerlib.server_args(argv)
    server_socket = peerlib.tcp_listener(port)
    print('The server is ready to receive')
    while True:
        conn, addr = server_socket.accept()
        threading.Thread(target=serve, args=(conn, addr), daemon=True).start()


if __name__ == '__main__':
    peerlib.run(main)
