'use strict';
/*
 * calc client (Node.js): sends each stdin line (adding "\n" to a last
 * line without one), reads ONE reply line and prints it, in lock-step;
 * then half-closes and waits for the server's EOF. ERRO replies are
 * printed like any other: they are answers, not client errors.
 * Contract: protocols/calc/README.md.
 *
 * Run:  printf 'SOMA 2 2\nDIV 1 0\n' | node peers/node/calc/client.js 127.0.0.1 12000
 */
const {Reader, clientArgs, connect, fail, readStdin, splitLines} = require('../common');

const LINE_MAX = 256;

/* Resolves with the next reply line, "\n" included; exits 1 otherwise. */
async function readLine(reader) {
    const line = await reader.line(LINE_MAX);
    if (line === null) {
        fail(`reply longer than ${LINE_MAX} bytes`);
    }
    return line;
}

async function main() {
    const {host, port} = clientArgs();
    const sock = await connect(host, port);
    const reader = new Reader(sock);
    for (let line of splitLines(await readStdin())) {
        if (line[line.length - 1] !== 0x0a) {
            line = Buffer.concat([line, Buffer.from('\n')]);
        }
        sock.write(line);
        process.stdout.write(await readLine(reader));
    }
    sock.end();
    // Lock-step: nothing may follow the last reply but the EOF.
    if (reader.buf.length > 0 || await reader.more()) {
        fail('unexpected bytes after the last reply');
    }
    process.exit(0);
}

main();
