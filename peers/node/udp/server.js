'use strict';
/*
 * udp receiver (Node.js): binds a UDP socket on every interface and, for
 * every datagram (an empty one included), prints `received message: ` +
 * Python's repr() of its bytes + "\n". Never replies. Runs until
 * SIGINT/SIGTERM. Contract: protocols/udp/README.md.
 *
 * Run:  node peers/node/udp/server.js 5005
 *       printf 'Hello, World!' | node peers/node/udp/client.js 127.0.0.1 5005
 */
const dgram = require('dgram');
const {fail, pyRepr, reason, serverArgs, stopOnSignals} = require('../common');

const port = serverArgs();
stopOnSignals();

/*
 * udp6 with ipv6Only false takes IPv4 datagrams too; a host without IPv6
 * falls back to udp4. libuv receives into 64 KiB, so no datagram is cut.
 */
function bind(type) {
    const sock = dgram.createSocket({type, ipv6Only: false});
    sock.on('error', (err) => {
        if (type === 'udp6' && ['EAFNOSUPPORT', 'EADDRNOTAVAIL'].includes(err.code)) {
            bind('udp4');
        } else {
            fail(`cannot bind port ${port}: ${reason(err)}`);
        }
    });
    sock.on('message', (msg) => {
        // stdout is a pipe: Node writes it synchronously, so a SIGTERM
        // right after loses no line.
        process.stdout.write(`received message: ${pyRepr(msg)}\n`);
    });
    sock.bind(port, () => process.stderr.write(`udp receiver on port ${port}\n`));
}

bind('udp6');
