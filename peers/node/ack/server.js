'use strict';
/*
 * ack server (Node.js): one message per connection, ended by the first
 * "\n" (included), the 255th byte or the client's EOF; prints it and
 * replies `Sou o Servidor. Recebi sua mensagem.` (36 bytes, no newline),
 * then a lingering close. Many clients at once.
 * Contract: protocols/ack/README.md.
 *
 * Run:  node peers/node/ack/server.js 5488
 *       echo 'Oi, sou o cliente!' | node peers/node/ack/client.js 127.0.0.1 5488
 */
const {lingeringClose, serverArgs, startServer} = require('../common');

/* The slide's read(..., 255): longer messages end at 255 bytes. */
const MESSAGE_MAX = 255;
const REPLY = Buffer.from('Sou o Servidor. Recebi sua mensagem.');

function answer(sock, msg) {
    process.stdout.write(Buffer.concat([
        Buffer.from('Mensagem recebida do cliente: '), msg, Buffer.from('\n')]));
    sock.write(REPLY);
    lingeringClose(sock);
}

function main() {
    const port = serverArgs();
    startServer('ack', port, (sock) => {
        let msg = Buffer.alloc(0);
        sock.on('data', (chunk) => {
            if (sock.lingering) {
                return; // after the reply: discarded
            }
            msg = Buffer.concat([msg, chunk]);
            const nl = msg.subarray(0, MESSAGE_MAX).indexOf(0x0a);
            if (nl >= 0) {
                answer(sock, msg.subarray(0, nl + 1));
            } else if (msg.length >= MESSAGE_MAX) {
                answer(sock, msg.subarray(0, MESSAGE_MAX));
            }
        });
        // EOF ends the message, even an empty one (the slide replies too).
        sock.on('end', () => {
            if (!sock.lingering) {
                answer(sock, msg);
            }
        });
    });
}

main();
