'use strict';
/*
 * echo-repr client (Node.js): sends each stdin line, reads ONE reply
 * (`Echo ==>` + a Python bytes repr, which has no terminator: its end is
 * the closing quote) and prints it with "\n"; then half-closes and waits
 * for the server's EOF. Contract: protocols/echo-repr/README.md.
 *
 * Run:  printf 'Hello world!\nAgain!\n' | node peers/node/echo-repr/client.js ::1 5050
 */
const {Reader, clientArgs, connect, fail, readStdin, splitLines} = require('../common');

const MSG_MAX = 1024;
const PREFIX = Buffer.from('Echo ==>');
/* The longest reply: the prefix and the repr of a 1024-byte message. */
const REPLY_MAX = PREFIX.length + 3 + 4 * MSG_MAX;

/*
 * Returns the length of the reply at the start of buf, 0 if more bytes
 * are needed, or -1 if it is malformed (wrong prefix or quote).
 */
function scanReply(buf) {
    const head = Math.min(buf.length, PREFIX.length);
    if (!buf.subarray(0, head).equals(PREFIX.subarray(0, head))) {
        return -1;
    }
    const body = buf.subarray(PREFIX.length);
    if (body.length >= 1 && body[0] !== 0x62 /* b */) {
        return -1;
    }
    if (body.length < 2) {
        return 0;
    }
    const quote = body[1];
    if (quote !== 0x27 && quote !== 0x22) {
        return -1;
    }
    // A backslash escapes the byte after it; the body is not validated.
    for (let i = 2; i < body.length; i++) {
        if (body[i] === 0x5c) {
            i++;
        } else if (body[i] === quote) {
            return PREFIX.length + i + 1;
        }
    }
    return 0;
}

async function readReply(reader) {
    for (;;) {
        const n = scanReply(reader.buf);
        if (n < 0) {
            fail(`malformed reply from ${reader.sock.where}`);
        }
        if (n > 0) {
            return reader.take(n);
        }
        if (reader.buf.length >= REPLY_MAX) {
            fail(`malformed reply from ${reader.sock.where}: longer than ${REPLY_MAX} bytes`);
        }
        if (!await reader.more()) {
            fail(`malformed reply from ${reader.sock.where}: EOF before its closing quote`);
        }
    }
}

async function main() {
    const {host, port} = clientArgs();
    const sock = await connect(host, port);
    const reader = new Reader(sock);
    const lines = splitLines(await readStdin());
    let halfClosed = false;
    for (const line of lines) {
        // The server would cut a longer line into two messages.
        if (line.length > MSG_MAX) {
            fail(`line longer than ${MSG_MAX} bytes`);
        }
        sock.write(line);
        // Without "\n" only our EOF ends the message: say it before reading.
        if (line[line.length - 1] !== 0x0a) {
            sock.end();
            halfClosed = true;
        }
        const reply = await readReply(reader);
        process.stdout.write(Buffer.concat([reply, Buffer.from('\n')]));
    }
    if (!halfClosed) {
        sock.end();
    }
    if (reader.buf.length > 0 || await reader.more()) {
        fail(`unexpected bytes from ${sock.where} after the last reply`);
    }
    process.exit(0);
}

if (require.main === module) {
    main();
}
module.exports = {scanReply};
