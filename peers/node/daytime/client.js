'use strict';
/*
 * daytime client (Node.js): sends nothing (stdin is ignored), half-closes,
 * reads until the server's EOF and prints the bytes plus "\n". A server
 * that sends nothing is an error. Contract: protocols/daytime/README.md.
 *
 * Run:  node peers/node/daytime/client.js 127.0.0.1 8888 </dev/null
 */
const {Reader, clientArgs, connect, fail, finish} = require('../common');

/* Far more than the 24 bytes of a ctime: a bound, not an expectation. */
const DAYTIME_MAX = 4096;

async function main() {
    const {host, port} = clientArgs();
    const sock = await connect(host, port);
    const reader = new Reader(sock);
    // The half-close lets the server's lingering close end at once.
    sock.end();
    const time = await reader.all(DAYTIME_MAX);
    if (time.length === 0) {
        fail(`${sock.where} closed the connection without sending the time`);
    }
    finish(Buffer.concat([time, Buffer.from('\n')]));
}

main();
