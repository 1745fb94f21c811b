'use strict';
/*
 * upper server (Node.js): one request per connection, up to the first
 * "\n" or the client's EOF, returned with a-z mapped to A-Z and every
 * other byte unchanged, then a lingering close. 1024 bytes without a "\n"
 * get `ERRO linha longa demais`. Many clients at once.
 * Contract: protocols/upper/README.md.
 *
 * Run:  node peers/node/upper/server.js 12000
 *       printf 'hello, world\n' | node peers/node/upper/client.js 127.0.0.1 12000
 */
const {lingeringClose, serverArgs, startServer} = require('../common');

const LINE_MAX = 1024;
const ERR_LONG = Buffer.from('ERRO linha longa demais\n');

/*
 * Only the 26 ASCII letters change: String.prototype.toUpperCase() would
 * also change UTF-8 letters, once decoded, and depend on nothing we see.
 */
function upperAscii(buf) {
    return Buffer.from(buf.map((c) => (c >= 0x61 && c <= 0x7a ? c - 0x20 : c)));
}

function main() {
    const port = serverArgs();
    startServer('upper', port, (sock) => {
        let request = Buffer.alloc(0);
        sock.on('data', (chunk) => {
            if (sock.lingering) {
                return; // after the reply: discarded
            }
            request = Buffer.concat([request, chunk]);
            const nl = request.subarray(0, LINE_MAX).indexOf(0x0a);
            if (nl >= 0) {
                sock.write(upperAscii(request.subarray(0, nl + 1)));
            } else if (request.length >= LINE_MAX) {
                sock.write(ERR_LONG);
            } else {
                return;
            }
            lingeringClose(sock);
        });
        // EOF ends a request without "\n"; an empty one gets no reply.
        sock.on('end', () => {
            if (!sock.lingering) {
                sock.end(upperAscii(request));
            }
        });
    });
}

if (require.main === module) {
    main();
}
module.exports = {upperAscii};
