'use strict';
/*
 * echo server (Node.js): every byte a client sends comes back unchanged;
 * after the client's EOF and the last byte written, the server closes.
 * Many clients at once, until SIGINT/SIGTERM. Contract:
 * protocols/echo/README.md.
 *
 * Run:  node peers/node/echo/server.js 65432
 *       printf 'Hello, world' | node peers/node/echo/client.js 127.0.0.1 65432
 */
const {serverArgs, startServer} = require('../common');

const port = serverArgs();
startServer('echo', port, (sock) => {
    /*
     * pipe() echoes as bytes arrive, stops reading while the client is
     * not taking its echo (backpressure), and ends our side after the
     * client's EOF, so no input is left unread at close.
     */
    sock.pipe(sock);
});
