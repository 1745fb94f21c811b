'use strict';
/*
 * calc server (Node.js): answers `SOMA|SUB|MUL|DIV A B` lines with one
 * result line each, in order; many lines per connection, many clients at
 * once. Errors are `ERRO ...` replies and never close the connection.
 * Contract (check order, number syntax, rounding): protocols/calc/README.md.
 *
 * Run:  node peers/node/calc/server.js 12000
 *       printf 'SOMA 2 2\nDIV 1 3\n' | node peers/node/calc/client.js 127.0.0.1 12000
 */
const {lineFramer, send, serverArgs, startServer} = require('../common');

const LINE_MAX = 256;
const RANGE = 1e15;
const OPS = {
    SOMA: (a, b) => a + b,
    SUB: (a, b) => a - b,
    MUL: (a, b) => a * b,
    DIV: (a, b) => a / b,
};
/* ASCII digits only: Number() would also take 1e3, 0x10, Infinity, " 1". */
const NUMBER = /^[+-]?[0-9]+(\.[0-9]+)?$/;

/*
 * Returns x rounded to 6 decimals as text: the exact binary value of the
 * double, rounded half-even (like C's "%.6f"), trailing zeros and a bare
 * "." dropped, -0 as 0. toFixed(6) would round an exact tie away from
 * zero (DIV 1 128 gives 0.007813), so the digits come from BigInt.
 */
function formatNumber(x) {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, Math.abs(x));
    const biased = view.getUint16(0) >> 4;
    let mantissa = BigInt(view.getUint32(0) & 0xfffff) << 32n | BigInt(view.getUint32(4));
    let exponent = -1074; // subnormal: no implicit bit
    if (biased !== 0) {
        mantissa |= 1n << 52n;
        exponent = biased - 1075;
    }
    // |x| = mantissa * 2^exponent, so |x| * 10^6 = scaled * 2^exponent.
    const scaled = mantissa * 1000000n;
    let q;
    if (exponent >= 0) {
        q = scaled << BigInt(exponent);
    } else {
        const shift = BigInt(-exponent);
        q = scaled >> shift;
        const rest = scaled - (q << shift);
        const half = 1n << (shift - 1n);
        if (rest > half || (rest === half && (q & 1n) === 1n)) {
            q += 1n;
        }
    }
    const digits = q.toString().padStart(7, '0');
    const fraction = digits.slice(-6).replace(/0+$/, '');
    const text = digits.slice(0, -6) + (fraction ? '.' + fraction : '');
    return x < 0 && text !== '0' ? '-' + text : text;
}

/* Returns the reply (without "\n") to one request line (without "\n"). */
function calcEval(line) {
    // latin1 keeps one character per byte: the checks are on bytes.
    let text = Buffer.from(line).toString('latin1');
    if (text.length >= LINE_MAX) {
        return 'ERRO linha longa demais';
    }
    if (text.endsWith('\r')) {
        text = text.slice(0, -1); // only one: "\r\r" leaves one in a field
    }
    // Only 0x20 separates fields: a TAB or NUL is part of a field.
    const fields = text.split(' ').filter((f) => f !== '');
    if (fields.length === 0 || !Object.hasOwn(OPS, fields[0])) {
        return 'ERRO operacao desconhecida';
    }
    if (fields.length !== 3) {
        return 'ERRO numero de operandos';
    }
    if (!NUMBER.test(fields[1]) || !NUMBER.test(fields[2])) {
        return 'ERRO numero invalido';
    }
    // Number() is a correctly rounded decimal-to-double conversion.
    const a = Number(fields[1]);
    const b = Number(fields[2]);
    if (!(Math.abs(a) < RANGE && Math.abs(b) < RANGE)) {
        return 'ERRO fora do intervalo';
    }
    if (fields[0] === 'DIV' && b === 0) {
        return 'ERRO divisao por zero';
    }
    const r = OPS[fields[0]](a, b);
    if (!(Math.abs(r) < RANGE)) {
        return 'ERRO fora do intervalo';
    }
    return formatNumber(r);
}

function reply(sock, line) {
    send(sock, Buffer.from(calcEval(line) + '\n', 'latin1'));
}

function main() {
    const port = serverArgs();
    startServer('calc', port, (sock) => {
        // A cut line is answered as soon as the 256th byte is not a "\n".
        const lines = lineFramer(LINE_MAX, (line) => {
            reply(sock, line);
            return true;
        });
        sock.on('data', (chunk) => lines.feed(chunk));
        // A last line cut short by EOF is still a request; then close.
        sock.on('end', () => {
            if (lines.rest().length > 0) {
                reply(sock, lines.rest());
            }
            sock.end();
        });
    });
}

if (require.main === module) {
    main();
}
module.exports = {calcEval, formatNumber};
