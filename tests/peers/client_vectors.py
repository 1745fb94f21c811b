"""Every client peer of matrix.yaml against protocols/<id>/vectors.client.tsv.

Each case is run against a scripted server: it accepts one connection,
sends the case's `server` bytes at once, half-closes, and reads until the
client's EOF. The client gets the case's `stdin`; its stdout and exit
status must be the case's `stdout` and `exit` (protocols/README.md,
"Vectors"). A slide peer's documented quirk is listed in QUIRKS with its
reason and must still differ (so a fixed quirk is noticed).

Usage: client_vectors.py [BUILD_DIR]   (default: $SL_BUILD_DIR or build)
"""

import os
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(HERE, 'python'))

from harness.spec import matrix  # noqa: E402
from vectors import unescape  # noqa: E402

PEERS = ('c', 'python', 'java', 'node')
TIMEOUT_S = 20

# (protocol, peer, case line number) -> the slide quirk that makes it differ.
QUIRKS = {
    ('timeofday', 'java', 'lone-cr'): (
        "the seed 002 Java client reads with BufferedReader.readLine(), "
        "which also ends a line at a lone \\r (and drops a \\r before "
        "EOF): it prints 'Agora' only"),
}


def case_key(stdin, server):
    """A short stable name for the cases QUIRKS refers to."""
    if b'\r:' in server or server.endswith(b'\r'):
        return 'lone-cr'
    return None


def scripted_server(sock, payload, done):
    """Accepts one client, sends payload, half-closes, drains to EOF."""
    try:
        sock.settimeout(TIMEOUT_S)
        conn, _ = sock.accept()
        with conn:
            conn.settimeout(TIMEOUT_S)
            try:
                if payload:
                    conn.sendall(payload)
                conn.shutdown(socket.SHUT_WR)
                while conn.recv(4096):
                    pass
            except OSError:
                pass  # a client that exits with unread data resets us
    except OSError:
        pass
    finally:
        done.set()


def read_cases(path):
    """[(line number, (stdin, server, stdout, exit))] of a vectors.client.tsv."""
    rows = []
    with open(path, 'rb') as f:
        for number, line in enumerate(f.read().split(b'\n'), 1):
            if not line or line.startswith(b'#'):
                continue
            fields = line.split(b'\t')
            if len(fields) != 4:
                raise ValueError(f'{path}:{number}: {len(fields)} fields, want 4')
            rows.append((number, tuple(unescape(f) for f in fields)))
    return rows


def run_case(argv_for, stdin, server, env):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(1)
    done = threading.Event()
    t = threading.Thread(target=scripted_server,
                         args=(sock, server, done), daemon=True)
    t.start()
    argv = argv_for(sock.getsockname()[1])
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True,
                           timeout=TIMEOUT_S, env=env, cwd=ROOT)
        return p.stdout, p.returncode, p.stderr
    except subprocess.TimeoutExpired as e:
        return e.stdout or b'', 'timeout', e.stderr or b''
    finally:
        sock.close()
        t.join(TIMEOUT_S)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        'SL_BUILD_DIR', os.path.join(ROOT, 'build'))
    m = matrix.load(os.path.join(ROOT, 'matrix.yaml'))
    ctx = matrix.CommandContext.create(matrix.Path(ROOT), matrix.Path(build))
    env = dict(os.environ, TZ='UTC', LANG='C.UTF-8')
    env.pop('LC_ALL', None)
    failures = 0
    ran = 0
    for proto_id in sorted(m.protocols):
        path = os.path.join(ROOT, 'protocols', proto_id, 'vectors.client.tsv')
        if not os.path.exists(path):
            continue
        proto = m.protocols[proto_id]
        for peer_name in PEERS:
            peer = m.peers.get(peer_name)
            tpl = peer.template('client') if peer else None
            if tpl is None or (peer.protocols and proto_id not in peer.protocols):
                continue

            def argv_for(port, tpl=tpl, proto=proto):
                return matrix.render(tpl, ctx, proto, port)

            for lineno, (stdin, server, stdout, code) in read_cases(path):
                want = int(code.decode())
                got_out, got_code, err = run_case(argv_for, stdin, server, env)
                ran += 1
                ok = got_out == stdout and got_code == want
                quirk = QUIRKS.get((proto_id, peer_name, case_key(stdin, server)))
                where = f'{proto_id} {peer_name} vectors.client.tsv:{lineno}'
                if quirk and ok:
                    failures += 1
                    print(f'FAIL {where}: passes, but QUIRKS says it differs: {quirk}')
                elif quirk:
                    print(f'quirk {where}: {quirk}')
                elif not ok:
                    failures += 1
                    print(f'FAIL {where}: server sent {server!r}, stdin {stdin!r}\n'
                          f'  want exit {want}, stdout {stdout!r}\n'
                          f'  got  exit {got_code}, stdout {got_out!r}\n'
                          f'  stderr {err[-300:]!r}')
    print(f'{ran} client vector runs, {failures} failure(s)')
    return 1 if failures or not ran else 0


if __name__ == '__main__':
    sys.exit(main())
