'use strict';
/*
 * Plumbing shared by the Node.js peers: the program contract of
 * protocols/README.md (`server PORT`, `client HOST PORT`, exit 0 / 1 with
 * one line on stderr / 2 on bad usage), stdin, line splitting, a socket
 * reader for clients, the lingering close and Python's bytes repr.
 *
 * Standard library only, nothing newer than Node 18 (Debian 12's nodejs).
 * Each protocol's own socket code stays in its server.js and client.js.
 */
const net = require('net');
const path = require('path');

/* How long a lingering close waits for the client's EOF. */
const LINGER_MS = 1000;

/* Pending output above which a server stops reading a connection. */
const HIGH_WATER = 64 * 1024;

/* "echo/server.js": names the program in messages. */
function progName() {
    const file = path.resolve(process.argv[1] || 'node');
    return path.join(path.basename(path.dirname(file)), path.basename(file));
}

let promptOpen = false;

/*
 * Writes a prompt without a newline on stderr; an error message that
 * follows it starts on a line of its own (protocols/README.md).
 */
function prompt(text) {
    process.stderr.write(text);
    promptOpen = true;
}

/* Prints one line on stderr, on a line of its own, and exits 1. */
function fail(message) {
    process.stderr.write(`${promptOpen ? '\n' : ''}${progName()}: ${message}\n`);
    process.exit(1);
}

/* Prints the usage line and exits 2. */
function usage(args) {
    process.stderr.write(`usage: ${progName()} ${args}   (PORT is 1..65535)\n`);
    process.exit(2);
}

/* Returns the port in text, or null unless it is 1..65535 in digits. */
function parsePort(text) {
    if (!/^[0-9]{1,5}$/.test(text)) {
        return null;
    }
    const port = Number(text);
    return port >= 1 && port <= 65535 ? port : null;
}

/* Returns PORT from `server.js PORT`, or exits 2. */
function serverArgs() {
    const args = process.argv.slice(2);
    const port = args.length === 1 ? parsePort(args[0]) : null;
    if (port === null) {
        usage('PORT');
    }
    return port;
}

/* Returns {host, port} from `client.js HOST PORT`, or exits 2. */
function clientArgs() {
    const args = process.argv.slice(2);
    const port = args.length === 2 ? parsePort(args[1]) : null;
    if (port === null) {
        usage('HOST PORT');
    }
    return {host: args[0], port};
}

/* An error's short text: "ECONNRESET", or its message. */
function reason(err) {
    return err.code || err.message || String(err);
}

/*
 * Anything thrown and not caught is still a runtime error: one line and
 * exit 1, never a stack trace. SIGINT and SIGTERM end a server normally.
 */
function installHandlers() {
    process.on('uncaughtException', (err) => fail(reason(err)));
    process.on('unhandledRejection', (err) => fail(reason(err)));
}

function stopOnSignals() {
    process.on('SIGINT', () => process.exit(0));
    process.on('SIGTERM', () => process.exit(0));
}

/*
 * Listens on every interface: with no host, Node binds "::" dual-stack
 * (IPv4 clients arrive as ::ffff:a.b.c.d) and falls back to 0.0.0.0 on a
 * host without IPv6; libuv sets SO_REUSEADDR, so a restart need not wait
 * for TIME_WAIT. allowHalfOpen keeps our side open after the client's
 * half-close, so a reply can still go out. onConnection(sock) runs for
 * each client; a reset or EPIPE only ends that client.
 */
function startServer(name, port, onConnection) {
    installHandlers();
    stopOnSignals();
    const server = net.createServer({allowHalfOpen: true}, (sock) => {
        sock.on('error', () => sock.destroy());
        onConnection(sock);
    });
    server.on('error', (err) => fail(`cannot listen on port ${port}: ${reason(err)}`));
    server.listen(port, () => {
        process.stderr.write(`${name} server listening on port ${port}\n`);
    });
    return server;
}

/*
 * Queues data on sock; while much is pending the socket stops reading,
 * so a client that sends without reading cannot grow us without bound.
 */
function send(sock, data) {
    if (!sock.write(data) && sock.writableLength > HIGH_WATER) {
        sock.pause();
        sock.once('drain', () => sock.resume());
    }
}

/*
 * The lingering close of protocols/README.md: once the reply is written,
 * half-close (FIN), then read and discard until the client's EOF, for at
 * most LINGER_MS. Closing with unread input would make the kernel send a
 * reset, which can destroy the reply before the client reads it. The
 * caller must stop interpreting data (its handler sees sock.lingering).
 */
function lingeringClose(sock) {
    if (sock.lingering) {
        return;
    }
    sock.lingering = true;
    if (sock.readableEnded) {
        sock.end(); /* the client's EOF is in: nothing can be left unread */
        return;
    }
    sock.resume();
    sock.on('end', () => sock.destroy());
    sock.end(() => {
        const timer = setTimeout(() => sock.destroy(), LINGER_MS);
        sock.on('close', () => clearTimeout(timer));
    });
}

/*
 * A server's line framing: feed(chunk) calls onLine(line, cut) for every
 * line complete so far, without its "\n"; a line that reaches max bytes
 * without one is cut there (cut true: its first max bytes) and the rest of
 * it, up to its "\n", is dropped. Once onLine returns false, feed stops
 * and returns false. rest() is the start of a line still unfinished.
 */
function lineFramer(max, onLine) {
    let pending = Buffer.alloc(0);
    let skipping = false; // dropping the rest of an overlong line
    return {
        feed(chunk) {
            pending = Buffer.concat([pending, chunk]);
            let more = true;
            while (more) {
                const nl = pending.indexOf(0x0a);
                if (skipping) {
                    skipping = nl < 0;
                    pending = nl < 0 ? Buffer.alloc(0) : pending.subarray(nl + 1);
                    if (skipping) {
                        break;
                    }
                } else if (nl >= 0 && nl < max) {
                    more = onLine(pending.subarray(0, nl), false);
                    pending = pending.subarray(nl + 1);
                } else if (pending.length >= max) {
                    more = onLine(pending.subarray(0, max), true);
                    pending = pending.subarray(max);
                    skipping = true;
                } else {
                    break;
                }
            }
            pending = Buffer.from(pending);
            return more;
        },
        rest: () => pending,
    };
}

/* Resolves with all of stdin as one Buffer. */
function readStdin() {
    return new Promise((resolve, reject) => {
        const chunks = [];
        process.stdin.on('data', (chunk) => chunks.push(chunk));
        process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
        process.stdin.on('error', reject);
    });
}

/* Splits buf after every "\n"; the last piece may lack one. */
function splitLines(buf) {
    const lines = [];
    let start = 0;
    while (start < buf.length) {
        const nl = buf.indexOf(0x0a, start);
        const end = nl < 0 ? buf.length : nl + 1;
        lines.push(buf.subarray(start, end));
        start = end;
    }
    return lines;
}

/*
 * Resolves with a connected socket (allowHalfOpen: our FIN and theirs are
 * separate events); exits 1 if the connection fails.
 */
function connect(host, port) {
    installHandlers();
    const where = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve) => {
        const sock = net.connect({host, port, allowHalfOpen: true});
        const refused = (err) => fail(`${reason(err)} connecting to ${where}`);
        sock.once('error', refused);
        sock.once('connect', () => {
            sock.removeListener('error', refused);
            sock.where = where;
            resolve(sock);
        });
    });
}

/*
 * Collects what a client's socket receives: `buf` holds the bytes not yet
 * taken; `more()` resolves true once more bytes arrived, false at EOF, and
 * exits 1 on a reset. No read is taken to be a whole message.
 */
class Reader {
    constructor(sock) {
        this.sock = sock;
        this.buf = Buffer.alloc(0);
        this.eof = false;
        this.wake = null;
        sock.on('data', (chunk) => {
            this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
            this.notify();
        });
        sock.on('end', () => {
            this.eof = true;
            this.notify();
        });
        sock.on('error', (err) => fail(`receiving from ${sock.where}: ${reason(err)}`));
    }

    notify() {
        if (this.wake) {
            const wake = this.wake;
            this.wake = null;
            wake();
        }
    }

    more() {
        if (this.eof) {
            return Promise.resolve(false);
        }
        const before = this.buf.length;
        return new Promise((resolve) => {
            this.wake = () => resolve(this.buf.length > before);
        });
    }

    /* Returns and removes the first n bytes held. */
    take(n) {
        const head = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return head;
    }

    /*
     * Resolves with the next line, "\n" included, or null when max bytes
     * hold no "\n"; exits 1 at EOF before a whole line.
     */
    async line(max) {
        for (;;) {
            const nl = this.buf.subarray(0, max).indexOf(0x0a);
            if (nl >= 0) {
                return this.take(nl + 1);
            }
            if (this.buf.length >= max) {
                return null;
            }
            if (!await this.more()) {
                fail(`${this.sock.where} closed the connection before a full reply`);
            }
        }
    }

    /* Resolves with everything until EOF (at most limit bytes, else exits 1). */
    async all(limit) {
        while (await this.more()) {
            if (this.buf.length > limit) {
                fail(`${this.sock.where} sent more than ${limit} bytes`);
            }
        }
        return this.take(this.buf.length);
    }
}

/* Writes data to stdout and exits 0 once it is out. */
function finish(data) {
    if (data && data.length) {
        process.stdout.write(data, () => process.exit(0));
    } else {
        process.exit(0);
    }
}

/*
 * Python 3's repr() of bytes: b'...', or b"..." when the data holds a '
 * and no "; \\ and the quote escaped; \t \n \r by name; other bytes below
 * 0x20, 0x7f and 0x80..0xff as lowercase \xHH. Returns an ASCII string.
 */
function pyRepr(buf) {
    const quote = buf.includes(0x27) && !buf.includes(0x22) ? '"' : "'";
    let out = 'b' + quote;
    for (const c of buf) {
        const ch = String.fromCharCode(c);
        if (ch === '\\' || ch === quote) {
            out += '\\' + ch;
        } else if (ch === '\t') {
            out += '\\t';
        } else if (ch === '\n') {
            out += '\\n';
        } else if (ch === '\r') {
            out += '\\r';
        } else if (c < 0x20 || c >= 0x7f) {
            out += '\\x' + c.toString(16).padStart(2, '0');
        } else {
            out += ch;
        }
    }
    return out + quote;
}

/* English names whatever the locale, as C's ctime() and Java's Date. */
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun',
                'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n) {
    return String(n).padStart(2, '0');
}

function clock(d) {
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/* Python's time.ctime() in local time (TZ): `Sun Nov  2 03:49:05 2026`. */
function ctime(d) {
    const day = String(d.getDate()).padStart(2, ' ');
    return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${day} ${clock(d)} ${d.getFullYear()}`;
}

/*
 * Java's Date.toString(): `Sun Nov 02 03:49:05 UTC 2026`. The zone
 * abbreviation comes from ICU, which agrees with Java and C's %Z for UTC
 * (the matrix's TZ) but not for every zone (GMT-3 where glibc says -03).
 */
function javaDate(d) {
    const parts = new Intl.DateTimeFormat('en-US', {timeZoneName: 'short'}).formatToParts(d);
    const zone = parts.find((p) => p.type === 'timeZoneName');
    return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${pad2(d.getDate())} ${clock(d)} ` +
           `${zone ? zone.value : 'UTC'} ${d.getFullYear()}`;
}

module.exports = {
    Reader, clientArgs, connect, ctime, fail, finish, javaDate, lineFramer,
    lingeringClose, prompt, pyRepr, readStdin, reason, send, serverArgs, splitLines,
    startServer, stopOnSignals,
};
