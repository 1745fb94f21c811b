'use strict';
/*
 * daytime server (Node.js): on every connection sends the local time as
 * Python's time.ctime() writes it (`Www Mmm dd hh:mm:ss yyyy`, the day
 * padded with a space, 24 bytes, no newline), then a lingering close.
 * Input is never interpreted. Many clients at once.
 * Contract: protocols/daytime/README.md.
 *
 * Run:  node peers/node/daytime/server.js 8888
 *       node peers/node/daytime/client.js 127.0.0.1 8888 </dev/null
 */
const {ctime, lingeringClose, serverArgs, startServer} = require('../common');

const port = serverArgs();
startServer('daytime', port, (sock) => {
    sock.write(ctime(new Date()));
    // Whatever the client sends is drained by the lingering close.
    lingeringClose(sock);
});
