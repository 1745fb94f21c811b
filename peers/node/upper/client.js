'use strict';
/*
 * upper client (Node.js): sends the first stdin line (with its "\n";
 * without one, all of stdin), half-closes, and writes the reply to stdout
 * unchanged until the server's EOF. The reply is not checked: an ERRO
 * reply is printed and the exit status is 0.
 * Contract: protocols/upper/README.md.
 *
 * Run:  printf 'hello, world\n' | node peers/node/upper/client.js 127.0.0.1 12000
 */
const {Reader, clientArgs, connect, finish, readStdin, splitLines} = require('../common');

/* A bound, not an expectation: a reply is at most one 1024-byte line. */
const REPLY_MAX = 1 << 20;

async function main() {
    const {host, port} = clientArgs();
    const sock = await connect(host, port);
    const reader = new Reader(sock);
    const first = splitLines(await readStdin())[0];
    sock.end(first || Buffer.alloc(0));
    finish(await reader.all(REPLY_MAX));
}

main();
