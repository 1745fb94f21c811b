'use strict';
/*
 * udp sender (Node.js): reads all of stdin (at most 65507 bytes, the
 * largest UDP payload) and sends it as ONE datagram, an empty one
 * included. Prints nothing on stdout; nobody confirms delivery, so a
 * missing receiver is no error. Contract: protocols/udp/README.md.
 *
 * Run:  printf 'Hello, World!' | node peers/node/udp/client.js 127.0.0.1 5005
 */
const dgram = require('dgram');
const dns = require('dns');
const {clientArgs, fail, readStdin, reason} = require('../common');

const PAYLOAD_MAX = 65507;

async function main() {
    const {host, port} = clientArgs();
    const data = await readStdin();
    if (data.length > PAYLOAD_MAX) {
        fail('message too long for one datagram');
    }
    // The socket's family must be the address's: ::1 needs udp6.
    const {address, family} = await dns.promises.lookup(host);
    const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    sock.send(data, port, address, (err) => {
        if (err) {
            fail(`sending to ${host}:${port}: ${reason(err)}`);
        }
        sock.close();
    });
}

main().catch((err) => fail(reason(err)));
