'use strict';
/*
 * login server (Node.js): reads a user line and a password line; refuses
 * an empty or invalid pair and waits for a new one; otherwise appends
 * `user:password` to log-acesso.txt in its working directory, replies OK
 * and closes (lingering). Many clients at once; prints who logged in.
 * Contract (checks, order, log): protocols/login/README.md.
 *
 * Run:  node peers/node/login/server.js 5668
 *       printf 'alice\ns3cret\n' | node peers/node/login/client.js 127.0.0.1 5668
 */
const fs = require('fs');
const {lineFramer, lingeringClose, serverArgs, startServer} = require('../common');

const LINE_MAX = 256;
const FIELD_MAX = 64;
const LOG_FILE = 'log-acesso.txt';
const OK = Buffer.from('OK\n');
const EMPTY = Buffer.from('ERRO usuario ou senha vazio\n');
const INVALID = Buffer.from('ERRO usuario ou senha invalido\n');

/* Too long, a control byte (DEL included), or (user only) a ':'. */
function invalid(field, isUser) {
    return field.length > FIELD_MAX ||
        field.some((c) => c < 0x20 || c === 0x7f || (isUser && c === 0x3a));
}

function stripCr(line) {
    return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line;
}

/*
 * Returns [reply, log line] for a pair of lines (without "\n"); null
 * stands for a line cut at 256 bytes. Empty beats invalid.
 */
function checkPair(user, password) {
    if (user !== null) {
        user = stripCr(user);
    }
    if (password !== null) {
        password = stripCr(password);
    }
    if ((user !== null && user.length === 0) || (password !== null && password.length === 0)) {
        return [EMPTY, Buffer.alloc(0)];
    }
    if (user === null || password === null || invalid(user, true) || invalid(password, false)) {
        return [INVALID, Buffer.alloc(0)];
    }
    return [OK, Buffer.concat([user, Buffer.from(':'), password, Buffer.from('\n')])];
}

/*
 * Opened on first use (a server that accepted nothing leaves no file),
 * O_APPEND, one write per line: lines land whole at the end of the file,
 * and the line is written before its OK is sent.
 */
let logFd = null;
function appendLog(line) {
    if (logFd === null) {
        logFd = fs.openSync(LOG_FILE, 'a');
    }
    fs.writeSync(logFd, line);
}

function main() {
    const port = serverArgs();
    startServer('login', port, (sock) => {
        const peer = `${sock.remoteAddress}:${sock.remotePort}`;
        let user; // undefined until the first line of a pair is in

        // Returns false once the connection is done (after OK). A line cut
        // at 256 bytes without "\n" is invalid: null.
        const lines = lineFramer(LINE_MAX, (line, cut) => {
            if (cut) {
                line = null;
            }
            if (user === undefined) {
                user = line;
                return true;
            }
            const [reply, log] = checkPair(user, line);
            user = undefined;
            if (reply === OK) {
                appendLog(log);
                process.stdout.write(`login ${log.subarray(0, log.indexOf(0x3a))} from ${peer}\n`);
            }
            sock.write(reply);
            return reply !== OK;
        });

        sock.on('data', (chunk) => {
            if (sock.lingering) {
                return; // after OK: discarded
            }
            if (!lines.feed(chunk)) {
                lingeringClose(sock);
            }
        });
        // EOF before a complete pair: no reply, nothing logged.
        sock.on('end', () => {
            if (!sock.lingering) {
                sock.end();
            }
        });
    });
}

if (require.main === module) {
    main();
}
module.exports = {checkPair, EMPTY, INVALID, OK};
