'use strict';
/*
 * timeofday client (Node.js): sends nothing (stdin is ignored),
 * half-closes, reads until the server's EOF and prints the first line
 * (to "\n", or all if there is none) with exactly one "\n"; a "\r" before
 * the "\n" is dropped, as Java's readLine() does. No bytes at all is an
 * error. Contract: protocols/timeofday/README.md.
 *
 * Run:  node peers/node/timeofday/client.js 127.0.0.1 5155 </dev/null
 */
const {Reader, clientArgs, connect, fail, finish} = require('../common');

/* Longest first line kept; the line is about 38 bytes. */
const LINE_MAX = 4096;

async function main() {
    const {host, port} = clientArgs();
    const sock = await connect(host, port);
    const reader = new Reader(sock);
    let line = null;
    let gotAny = false;
    sock.end();
    // Read to EOF either way, so the server's close meets no reset.
    do {
        gotAny = gotAny || reader.buf.length > 0;
        const nl = line === null ? reader.buf.indexOf(0x0a) : -1;
        if (nl >= 0) {
            line = reader.take(nl + 1);
        } else if (line === null && reader.buf.length > LINE_MAX) {
            fail(`first line from ${sock.where} longer than ${LINE_MAX} bytes`);
        } else if (line !== null) {
            reader.take(reader.buf.length); // after the line: discarded
        }
    } while (await reader.more());
    if (!gotAny) {
        fail(`${sock.where} closed the connection without sending the time`);
    }
    if (line === null) {
        line = reader.take(reader.buf.length); // no "\n": the line ends at EOF
    } else {
        line = line.subarray(0, line[line.length - 2] === 0x0d ? -2 : -1);
    }
    finish(Buffer.concat([line, Buffer.from('\n')]));
}

main();
