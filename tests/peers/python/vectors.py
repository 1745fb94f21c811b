"""Shared helpers of the Python peer tests: read protocols/<id>/vectors.tsv
and load a peer program as a module.

Vectors format (protocols/README.md, "Vectors"): one case per line, fields
separated by one TAB, `#` starts a comment line, blank lines are ignored,
fields use the C-style escapes \\n \\r \\t \\\\ \\xHH.
"""

import importlib.util
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..',
                                    '..'))
SIMPLE_ESCAPES = {ord('n'): b'\n', ord('r'): b'\r', ord('t'): b'\t',
                  ord('\\'): b'\\'}


def unescape(field):
    """Return the bytes a vectors.tsv field (bytes) stands for."""
    out = bytearray()
    i = 0
    while i < len(field):
        c = field[i]
        if c != ord('\\'):
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(field):
            raise ValueError(f'dangling backslash in {field!r}')
        n = field[i + 1]
        if n in SIMPLE_ESCAPES:
            out += SIMPLE_ESCAPES[n]
            i += 2
        elif n == ord('x') and i + 4 <= len(field):
            out.append(int(field[i + 2:i + 4], 16))
            i += 4
        else:
            raise ValueError(f'bad escape in {field!r}')
    return bytes(out)


def read_vectors(protocol, columns):
    """Return [(line number, (field bytes, ...))] from the protocol's
    vectors.tsv; every row must have `columns` fields."""
    path = os.path.join(ROOT, 'protocols', protocol, 'vectors.tsv')
    with open(path, 'rb') as f:
        text = f.read()
    rows = []
    for number, line in enumerate(text.split(b'\n'), 1):
        if not line or line.startswith(b'#'):
            continue
        fields = line.split(b'\t')
        if len(fields) != columns:
            raise ValueError(f'{path}:{number}: {len(fields)} fields, '
                             f'want {columns}')
        rows.append((number, tuple(unescape(f) for f in fields)))
    if not rows:
        raise ValueError(f'{path}: no vectors')
    return rows


def load_peer(relative_path, name):
    """Import a peer program (e.g. 'peers/python/calc/server.py') as a
    module called name, without running its main()."""
    path = os.path.join(ROOT, relative_path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
