'use strict';
/*
 * echo client (Node.js): sends all of stdin, half-closes, and writes every
 * byte that comes back to stdout, unchanged, until the server's EOF. It
 * sends and receives at the same time, so a large echo cannot deadlock
 * with both socket buffers full. Contract: protocols/echo/README.md.
 *
 * Run:  printf 'Hello, world' | node peers/node/echo/client.js 127.0.0.1 65432
 */
const {clientArgs, connect, fail, reason} = require('../common');

async function main() {
    const {host, port} = clientArgs();
    const sock = await connect(host, port);
    sock.on('error', (err) => fail(`${sock.where}: ${reason(err)}`));
    // pipe() ends the socket (our half-close) once stdin is exhausted.
    process.stdin.pipe(sock);
    sock.on('data', (chunk) => process.stdout.write(chunk));
    sock.on('end', () => {
        if (!sock.writableFinished) {
            fail(`${sock.where} closed the connection before all input was sent`);
        }
        process.exit(0);
    });
}

main();
