'use strict';
/*
 * timeofday server (Node.js): on every connection sends `Agora é:` + the
 * local time as Java's Date.toString() writes it (`Www Mmm dd hh:mm:ss
 * ZZZ yyyy`, the day padded with a zero) + "\n", in UTF-8 whatever the
 * locale, then a lingering close. Input is never interpreted.
 * Contract: protocols/timeofday/README.md.
 *
 * Run:  node peers/node/timeofday/server.js 5155
 *       node peers/node/timeofday/client.js 127.0.0.1 5155 </dev/null
 */
const {javaDate, lingeringClose, serverArgs, startServer} = require('../common');

const port = serverArgs();
startServer('timeofday', port, (sock) => {
    // "\u00e9" and an explicit encoding: the bytes are c3 a9 in any locale.
    sock.write(Buffer.from('Agora \u00e9:' + javaDate(new Date()) + '\n', 'utf8'));
    lingeringClose(sock);
});
