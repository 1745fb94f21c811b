'use strict';
/*
 * echo-repr server (Node.js): answers every message with `Echo ==>` +
 * Python's repr() of its bytes, no terminator. A message is a line ("\n"
 * included), 1024 bytes that hold no "\n", or the remainder at the
 * client's EOF. Many messages per connection, many clients at once.
 * Contract: protocols/echo-repr/README.md.
 *
 * Run:  node peers/node/echo-repr/server.js 5050
 *       printf 'Hello world!\n' | node peers/node/echo-repr/client.js ::1 5050
 */
const {pyRepr, send, serverArgs, startServer} = require('../common');

const MSG_MAX = 1024;

/* Returns the reply to one message. */
function echoReply(msg) {
    return Buffer.from('Echo ==>' + pyRepr(msg), 'latin1');
}

/*
 * Returns [messages, rest]: the messages complete in buf, framed by "\n"
 * or by MSG_MAX bytes without one, and the bytes still waiting.
 */
function frame(buf) {
    const msgs = [];
    for (;;) {
        const nl = buf.subarray(0, MSG_MAX).indexOf(0x0a);
        const len = nl >= 0 ? nl + 1 : buf.length >= MSG_MAX ? MSG_MAX : 0;
        if (len === 0) {
            return [msgs, buf];
        }
        msgs.push(buf.subarray(0, len));
        buf = buf.subarray(len);
    }
}

function main() {
    const port = serverArgs();
    startServer('echo-repr', port, (sock) => {
        let pending = Buffer.alloc(0);
        sock.on('data', (chunk) => {
            const [msgs, rest] = frame(Buffer.concat([pending, chunk]));
            for (const msg of msgs) {
                send(sock, echoReply(msg));
            }
            pending = Buffer.from(rest);
        });
        // EOF ends the last message; everything is read, so close at once.
        sock.on('end', () => {
            if (pending.length > 0) {
                sock.write(echoReply(pending));
            }
            sock.end();
        });
    });
}

if (require.main === module) {
    main();
}
module.exports = {echoReply, frame};
