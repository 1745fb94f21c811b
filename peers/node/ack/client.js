'use strict';
/*
 * ack client (Node.js): prompts on stderr, sends ONE stdin line ("\n"
 * included; without one, whatever stdin holds), half-closes, reads the
 * reply until the server's EOF and prints it followed by "\n". The reply
 * text is not checked, but no reply at all is an error.
 * Contract: protocols/ack/README.md.
 *
 * Run:  echo 'Oi, sou o cliente!' | node peers/node/ack/client.js 127.0.0.1 5488
 */
const {Reader, clientArgs, connect, fail, finish, prompt, readStdin, splitLines} = require('../common');

/* Far more than the 36-byte reply; anything longer is not an ack. */
const REPLY_MAX = 65536;

async function main() {
    const {host, port} = clientArgs();
    const sock = await connect(host, port);
    const reader = new Reader(sock);
    prompt('Informe a mensagem: ');
    const line = splitLines(await readStdin())[0];
    // The half-close ends the message for a server that reads to EOF.
    sock.end(line || Buffer.alloc(0));
    const reply = await reader.all(REPLY_MAX);
    if (reply.length === 0) {
        fail('connection closed without a reply');
    }
    finish(Buffer.concat([reply, Buffer.from('\n')]));
}

main();
