'use strict';
/*
 * smtp client (Node.js): reads the message description on stdin (From:,
 * To: one or more, Subject:, Attach:, an empty line, the body), builds
 * the RFC 5322 / MIME message (multipart/mixed with the file in base64
 * when there is an attachment), sends it with EHLO, MAIL FROM, RCPT TO,
 * DATA (dot-stuffed) and QUIT, reading every reply whole (multi-line
 * "250-" replies included). Contract: protocols/smtp/README.md.
 *
 * Run:  node peers/node/smtp/client.js 127.0.0.1 2525 < message.txt
 */
const fs = require('fs');
const path = require('path');
const {Reader, clientArgs, connect, fail, readStdin} = require('../common');
const mime = require('./mime');

const REPLY_LINE_MAX = 2048;

/* Returns {from, to: [], subject, attach, body} from the description. */
function parseDescription(buf) {
    const text = buf.toString('utf8');
    const cut = text.indexOf('\n\n');
    const head = cut < 0 ? text : text.slice(0, cut);
    const d = {from: null, to: [], subject: '', attach: null,
               body: cut < 0 ? '' : text.slice(cut + 2)};
    for (const raw of head.split('\n')) {
        const line = raw.replace(/\r$/, '');
        if (line === '') {
            continue;
        }
        const colon = line.indexOf(':');
        if (colon < 0) {
            fail(`message description: no ":" in "${line}"`);
        }
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
        if (name === 'from') {
            if (d.from !== null) {
                fail('message description: more than one From:');
            }
            d.from = value;
        } else if (name === 'to') {
            d.to.push(value);
        } else if (name === 'subject') {
            d.subject = value;
        } else if (name === 'attach') {
            d.attach = value;
        } else {
            fail(`message description: unknown field "${name}"`);
        }
    }
    if (d.from === null || d.to.length === 0) {
        fail('message description: needs From: and at least one To:');
    }
    return d;
}

/* The body with CRLF line ends, ending in CRLF. */
function crlfText(body) {
    if (body === '') {
        return '';
    }
    const lines = body.replace(/\r\n/g, '\n').split('\n');
    if (lines[lines.length - 1] === '') {
        lines.pop();
    }
    return lines.map((l) => `${l}\r\n`).join('');
}

/* Returns the whole message as a Buffer (CRLF lines, not dot-stuffed). */
function buildMessage(d) {
    const date = new Date().toUTCString().replace('GMT', '+0000');
    const head = `From: <${d.from}>\r\nTo: ${d.to.map((t) => `<${t}>`).join(', ')}\r\n` +
        `Subject: ${d.subject}\r\nDate: ${date}\r\nMIME-Version: 1.0\r\n`;
    const textHead = 'Content-Type: text/plain; charset=UTF-8\r\n' +
        'Content-Transfer-Encoding: 8bit\r\n\r\n';
    const text = crlfText(d.body);
    if (d.attach === null) {
        return Buffer.from(head + textHead + text, 'utf8');
    }
    let file;
    try {
        file = fs.readFileSync(d.attach);
    } catch (err) {
        fail(`attachment ${d.attach}: ${err.message}`);
    }
    let boundary;
    for (let k = 0; text.includes(boundary = `=_node_lesson_${k}`); k++) {
        // a boundary the text does not hold
    }
    const name = path.basename(d.attach);
    // The CRLF before a boundary belongs to the boundary (RFC 2046).
    return Buffer.concat([Buffer.from(
        `${head}Content-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n` +
        `--${boundary}\r\n${textHead}${text}\r\n--${boundary}\r\n` +
        `Content-Type: application/octet-stream; name="${name}"\r\n` +
        `Content-Disposition: attachment; filename="${name}"\r\n` +
        'Content-Transfer-Encoding: base64\r\n\r\n', 'utf8'),
        mime.b64lines(file), Buffer.from(`--${boundary}--\r\n`)]);
}

/* The message dot-stuffed (RFC 5321 4.5.2), then the final ".". */
function stuff(msg) {
    const parts = [];
    let start = 0;
    while (start < msg.length) {
        const nl = msg.indexOf(0x0a, start);
        const end = nl < 0 ? msg.length : nl + 1;
        if (msg[start] === 0x2e) {
            parts.push(Buffer.from('.'));
        }
        parts.push(msg.subarray(start, end));
        start = end;
    }
    parts.push(Buffer.from('.\r\n'));
    return Buffer.concat(parts);
}

/* Resolves with [code, last line] of one whole reply; exits 1 otherwise. */
async function readReply(reader) {
    for (;;) {
        const raw = await reader.line(REPLY_LINE_MAX);
        if (raw === null) {
            fail(`reply line from ${reader.sock.where} too long`);
        }
        const line = raw.toString('latin1').replace(/\r?\n$/, '');
        if (!/^[2-5]\d\d([ -].*)?$/s.test(line)) {
            fail(`malformed reply from ${reader.sock.where}: "${line}"`);
        }
        if (line.length === 3 || line[3] === ' ') {
            return [Number(line.slice(0, 3)), line];
        }
    }
}

async function main() {
    const {host, port} = clientArgs();
    const d = parseDescription(await readStdin());
    const wire = stuff(buildMessage(d));
    const sock = await connect(host, port);
    const reader = new Reader(sock);
    const step = async (data, want, label) => {
        if (data !== null) {
            sock.write(data);
        }
        const [code, line] = await readReply(reader);
        if (code !== want) {
            fail(`server refused ${label}: ${line}`);
        }
    };
    await step(null, 220, 'the connection');
    await step('EHLO client.lesson\r\n', 250, 'EHLO');
    await step(`MAIL FROM:<${d.from}>\r\n`, 250, `MAIL FROM:<${d.from}>`);
    for (const to of d.to) {
        await step(`RCPT TO:<${to}>\r\n`, 250, `RCPT TO:<${to}>`);
    }
    await step('DATA\r\n', 354, 'DATA');
    await step(wire, 250, 'the message');
    process.stdout.write(`delivered to ${d.to.length} recipient(s)\n`);
    await step('QUIT\r\n', 221, 'QUIT');
    sock.end();
    while (await reader.more()) {
        reader.take(reader.buf.length);
    }
    process.exit(0);
}

main();
