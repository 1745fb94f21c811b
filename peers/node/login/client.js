'use strict';
/*
 * login client (Node.js): reads stdin lines in pairs (user, password),
 * sends each pair, reads ONE reply line and prints it. OK: half-close,
 * wait for EOF, exit 0. ERRO: send the next pair; when stdin runs out
 * first, half-close, wait for EOF and exit 1. A partial pair is never
 * sent. Contract: protocols/login/README.md.
 *
 * Run:  printf 'alice\n\nalice\ns3cret\n' | node peers/node/login/client.js ::1 5668
 */
const {Reader, clientArgs, connect, fail, readStdin, splitLines} = require('../common');

const LINE_MAX = 256;

/* Resolves with the next reply line, "\n" included; exits 1 otherwise. */
async function readLine(reader) {
    const line = await reader.line(LINE_MAX);
    if (line === null) {
        fail(`reply from ${reader.sock.where} longer than ${LINE_MAX} bytes`);
    }
    return line;
}

/* Half-closes and reads until the server's EOF. */
async function drain(sock, reader) {
    sock.end();
    while (await reader.more()) {
        reader.take(reader.buf.length);
    }
}

async function main() {
    const {host, port} = clientArgs();
    const sock = await connect(host, port);
    const reader = new Reader(sock);
    const lines = splitLines(await readStdin()).map((line) =>
        line[line.length - 1] === 0x0a ? line : Buffer.concat([line, Buffer.from('\n')]));
    let sent = false;
    for (let i = 0; i + 1 < lines.length; i += 2) {
        sock.write(Buffer.concat([lines[i], lines[i + 1]]));
        sent = true;
        const reply = await readLine(reader);
        process.stdout.write(reply);
        if (reply.toString('latin1') === 'OK\n') {
            await drain(sock, reader);
            process.exit(0);
        }
        if (!reply.subarray(0, 5).equals(Buffer.from('ERRO '))) {
            fail(`unexpected reply from ${sock.where}`);
        }
    }
    await drain(sock, reader);
    fail(sent ? 'credentials refused' : 'no credentials on stdin');
}

main();
