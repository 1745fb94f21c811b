'use strict';
/*
 * smtp server (Node.js): the lesson subset of SMTP in
 * protocols/smtp/README.md, written apart from the C reference: greeting,
 * HELO/EHLO, MAIL FROM, RCPT TO, DATA (dot-stuffing), RSET, NOOP, QUIT;
 * every bad line an error reply; each accepted message stored as
 * mailbox/<n>.eml (envelope lines, then the message as received). Many
 * clients at once.
 *
 * Run:  node peers/node/smtp/server.js 2525
 */
const fs = require('fs');
const path = require('path');
const {lineFramer, lingeringClose, send, serverArgs, startServer} = require('../common');

const NAME = 'lesson.example';
const CMD_MAX = 512;
const DATA_LINE_MAX = 1000;
const SIZE_MAX = 1048576;
const RCPT_MAX = 100;
const PATH_MAX = 254;
const MAILBOX = 'mailbox';

const R = {
    greeting: `220 ${NAME} ESMTP ready`,
    ehlo: `250-${NAME}\r\n250-8BITMIME\r\n250-SIZE ${SIZE_MAX}\r\n250 HELP`,
    helo: `250 ${NAME}`,
    ok: '250 OK',
    data: '354 End data with <CR><LF>.<CR><LF>',
    bye: '221 Bye',
    tooMany: '452 Too many recipients',
    local: '451 Requested action aborted: local error',
    long: '500 Line too long',
    bareLf: '500 Bare LF not allowed',
    unknown: '500 Command unrecognized',
    syntax: '501 Syntax error in parameters',
    notImpl: '502 Command not implemented',
    sequence: '503 Bad sequence of commands',
    size: '552 Message size exceeds fixed maximum message size',
    dataLf: '554 Bare LF not allowed',
};
const NOT_IMPLEMENTED = new Set(['VRFY', 'EXPN', 'HELP', 'TURN', 'ETRN', 'AUTH',
    'STARTTLS', 'SEND', 'SOML', 'SAML']);

/*
 * Parses "<path>" then nothing or " params" (one space after the colon
 * tolerated); returns {path, size} or null on bad syntax.
 */
function parsePath(text, nullOk) {
    const m = /^ ?<([^\x00-\x20<>\x7f]*)>(?:( .*))?$/s.exec(text);
    if (m === null || (m[1] === '' && !nullOk) || Buffer.byteLength(m[1], 'latin1') > PATH_MAX) {
        return null;
    }
    let size = 0;
    for (const param of (m[2] || '').split(' ')) {
        if (/^SIZE=/i.test(param) && param.length > 5) {
            if (!/^\d+$/.test(param.slice(5))) {
                return null;
            }
            size = Number(param.slice(5));
        }
    }
    return {path: m[1], size};
}

class Session {
    constructor() {
        this.state = 'init'; // init, ready, mail, rcpt, data
        this.drop();
    }

    drop() {
        this.from = null;
        this.rcpts = [];
        this.chunks = [];
        this.size = 0;
        this.long = false;
        this.bareLf = false;
        if (this.state !== 'init') {
            this.state = 'ready';
        }
    }

    /*
     * Takes one line (latin1 string without its "\n"; cut: it reached the
     * framing limit without one). Returns null (no reply yet) or
     * {reply, deliver?, quit?}.
     */
    line(line, cut) {
        if (this.state === 'data') {
            return this.dataLine(line, cut);
        }
        if (cut || line.length + 1 > CMD_MAX) {
            return {reply: R.long};
        }
        if (!line.endsWith('\r')) {
            return {reply: R.bareLf};
        }
        return this.command(line.slice(0, -1));
    }

    command(line) {
        const sp = line.indexOf(' ');
        const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
        const arg = sp < 0 ? '' : line.slice(sp);
        if (verb === 'EHLO' || verb === 'HELO') {
            if (arg.trim() === '' || /^ +$/.test(arg)) {
                return {reply: R.syntax};
            }
            this.state = 'ready';
            this.drop();
            return {reply: verb === 'EHLO' ? R.ehlo : R.helo};
        }
        if (verb === 'MAIL' || verb === 'RCPT') {
            const prefix = verb === 'MAIL' ? ' FROM:' : ' TO:';
            if (arg.slice(0, prefix.length).toUpperCase() !== prefix) {
                return {reply: R.syntax};
            }
            const p = parsePath(arg.slice(prefix.length), verb === 'MAIL');
            if (p === null) {
                return {reply: R.syntax};
            }
            if (verb === 'MAIL') {
                if (this.state !== 'ready') {
                    return {reply: R.sequence};
                }
                if (p.size > SIZE_MAX) {
                    return {reply: R.size};
                }
                this.drop();
                this.from = p.path;
                this.state = 'mail';
                return {reply: R.ok};
            }
            if (this.state !== 'mail' && this.state !== 'rcpt') {
                return {reply: R.sequence};
            }
            if (this.rcpts.length >= RCPT_MAX) {
                return {reply: R.tooMany};
            }
            this.rcpts.push(p.path);
            this.state = 'rcpt';
            return {reply: R.ok};
        }
        if (verb === 'DATA') {
            if (this.state !== 'rcpt') {
                return {reply: R.sequence};
            }
            this.state = 'data';
            return {reply: R.data};
        }
        if (verb === 'RSET') {
            this.drop();
            return {reply: R.ok};
        }
        if (verb === 'NOOP') {
            return {reply: R.ok};
        }
        if (verb === 'QUIT') {
            return {reply: R.bye, quit: true};
        }
        return {reply: NOT_IMPLEMENTED.has(verb) ? R.notImpl : R.unknown};
    }

    dataLine(line, cut) {
        if (cut) {
            this.long = true;
            return null;
        }
        const crlf = line.endsWith('\r');
        const text = crlf ? line.slice(0, -1) : line;
        if (text === '.') {
            let reply = null;
            if (this.long) {
                reply = R.long;
            } else if (this.bareLf || !crlf) {
                reply = R.dataLf;
            } else if (this.size > SIZE_MAX) {
                reply = R.size;
            }
            this.state = 'ready';
            if (reply !== null) {
                this.drop();
                return {reply};
            }
            const env = `X-Envelope-From: <${this.from}>\r\n` +
                this.rcpts.map((r) => `X-Envelope-To: <${r}>\r\n`).join('');
            const message = Buffer.concat([Buffer.from(env, 'latin1'), ...this.chunks]);
            const count = this.rcpts.length;
            this.drop();
            return {reply: R.ok, deliver: message, count};
        }
        if (!crlf) {
            this.bareLf = true;
        }
        // Dot-stuffing (RFC 5321 4.5.2): a leading "." was doubled.
        const body = Buffer.from((line.startsWith('.') ? line.slice(1) : line) + '\n', 'latin1');
        this.size += body.length;
        if (this.size <= SIZE_MAX && !this.long && !this.bareLf) {
            this.chunks.push(body);
        }
        return null;
    }
}

let next = 1;

/* Writes data under a temporary name, then links it to the first free
 * mailbox/<n>.eml; returns the name, or null after a message on stderr. */
function store(data) {
    const tmp = path.join(MAILBOX, `.tmp-${process.pid}`);
    try {
        fs.mkdirSync(MAILBOX, {recursive: true});
        fs.writeFileSync(tmp, data);
        for (;;) {
            const name = path.join(MAILBOX, `${next++}.eml`);
            try {
                fs.linkSync(tmp, name);
                return name;
            } catch (err) {
                if (err.code !== 'EEXIST') {
                    throw err;
                }
            }
        }
    } catch (err) {
        process.stderr.write(`server.js: mailbox: ${err.message}\n`);
        return null;
    } finally {
        try {
            fs.unlinkSync(tmp);
        } catch (err) {
            // nothing was written
        }
    }
}

function main() {
    const port = serverArgs();
    startServer('smtp', port, (sock) => {
        const peer = `${sock.remoteAddress}:${sock.remotePort}`;
        const session = new Session();
        send(sock, `${R.greeting}\r\n`);
        const lines = lineFramer(DATA_LINE_MAX, (line, cut) => {
            const r = session.line(line.toString('latin1'), cut);
            if (r === null) {
                return true;
            }
            let reply = r.reply;
            if (r.deliver) {
                const name = store(r.deliver);
                if (name === null) {
                    reply = R.local;
                } else {
                    process.stdout.write(`delivered ${name} from ${peer}, ${r.count} recipient(s)\n`);
                }
            }
            send(sock, `${reply}\r\n`);
            return !r.quit;
        });
        sock.on('data', (chunk) => {
            if (sock.lingering) {
                return; // after QUIT: discarded
            }
            if (!lines.feed(chunk)) {
                lingeringClose(sock);
            }
        });
        // EOF: a transaction still open (even mid-DATA) is dropped.
        sock.on('end', () => {
            if (!sock.lingering) {
                sock.end();
            }
        });
    });
}

if (require.main === module) {
    main();
}
module.exports = {Session};
