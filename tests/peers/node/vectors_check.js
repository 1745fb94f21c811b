'use strict';
/*
 * The Node peers' pure codecs against the shared vectors
 * (protocols/<id>/vectors.tsv, format in protocols/README.md "Vectors"),
 * the same tables the C, Python and Java tests read. Prints every mismatch
 * and a summary per file; exits 1 on any mismatch or unreadable file.
 *
 * Run:  node tests/peers/node/vectors_check.js
 */
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const peer = (file) => require(path.join(ROOT, 'peers', 'node', file));
const calc = peer('calc/server.js');
const echoRepr = peer('echo-repr/server.js');
const echoReprClient = peer('echo-repr/client.js');
const login = peer('login/server.js');
const upper = peer('upper/server.js');
const mime = peer('smtp/mime.js');

const ESCAPES = {n: 0x0a, r: 0x0d, t: 0x09, '\\': 0x5c};

/* Returns the bytes a vectors.tsv field stands for (C-style escapes). */
function unescape(field) {
    const out = [];
    for (let i = 0; i < field.length; i++) {
        if (field[i] !== 0x5c) {
            out.push(field[i]);
            continue;
        }
        const e = String.fromCharCode(field[i + 1]);
        if (e in ESCAPES) {
            out.push(ESCAPES[e]);
            i += 1;
        } else if (e === 'x' && i + 3 < field.length) {
            out.push(parseInt(field.subarray(i + 2, i + 4).toString('latin1'), 16));
            i += 3;
        } else {
            throw new Error(`bad escape in ${JSON.stringify(field.toString('latin1'))}`);
        }
    }
    return Buffer.from(out);
}

/* Returns [[line number, [field bytes...]]] of protocols/<id>/vectors.tsv. */
function readVectors(protocol, columns) {
    const file = path.join(ROOT, 'protocols', protocol, 'vectors.tsv');
    const rows = [];
    fs.readFileSync(file).toString('latin1').split('\n').forEach((line, i) => {
        if (line === '' || line.startsWith('#')) {
            return;
        }
        const fields = line.split('\t');
        if (fields.length !== columns) {
            throw new Error(`${file}:${i + 1}: ${fields.length} fields, want ${columns}`);
        }
        rows.push([i + 1, fields.map((f) => unescape(Buffer.from(f, 'latin1')))]);
    });
    if (rows.length === 0) {
        throw new Error(`${file}: no vectors`);
    }
    return rows;
}

let failures = 0;

/* Runs check(fields) -> [want, got] over a table; prints mismatches. */
function table(protocol, columns, check, label = protocol) {
    let bad = 0;
    const rows = readVectors(protocol, columns);
    for (const [number, fields] of rows) {
        const [want, got] = check(fields);
        if (!Buffer.from(want).equals(Buffer.from(got))) {
            bad++;
            console.log(`${label}: vectors.tsv:${number}: want ${JSON.stringify(
                Buffer.from(want).toString('latin1'))}, got ${JSON.stringify(
                Buffer.from(got).toString('latin1'))}`);
        }
    }
    console.log(`${label}: ${rows.length - bad}/${rows.length} vectors pass`);
    failures += bad;
}

function main() {
    table('calc', 2, ([request, reply]) =>
        [reply, Buffer.from(calc.calcEval(request), 'latin1')]);
    table('upper', 2, ([input, output]) => [output, upper.upperAscii(input)]);
    table('echo-repr', 2, ([data, repr]) =>
        [Buffer.concat([Buffer.from('Echo ==>'), repr]), echoRepr.echoReply(data)]);
    // The client must find where each of those replies ends.
    table('echo-repr', 2, ([data]) => {
        const reply = echoRepr.echoReply(data);
        const whole = Buffer.concat([reply, Buffer.from("Echo ==>b''")]);
        return [String(reply.length), String(echoReprClient.scanReply(whole))];
    }, 'echo-repr client (end of reply)');
    table('login', 4, ([user, password, reply, logline]) => {
        const [gotReply, gotLog] = login.checkPair(user, password);
        const wantLog = logline.length ? Buffer.concat([logline, Buffer.from('\n')]) : logline;
        return [Buffer.concat([reply, Buffer.from('\n'), wantLog]),
                Buffer.concat([gotReply, gotLog])];
    });
    table('base64', 3, ([kind, raw, text]) => {
        const got = mime.b64decodeStrict(text);
        if (kind.toString() === 'ok') {
            return [Buffer.concat([text, Buffer.from('|'), raw]),
                    Buffer.concat([mime.b64encode(raw), Buffer.from('|'), got || Buffer.from('(rejected)')])];
        }
        return ['(rejected)', got === null ? '(rejected)' : got];
    });
    // The cases no table row can hold: a line cut at 256 bytes is null.
    const cut = [[null, Buffer.from('pw'), login.INVALID], [Buffer.from('alice'), null, login.INVALID],
                 [null, Buffer.alloc(0), login.EMPTY]];
    for (const [user, password, want] of cut) {
        if (login.checkPair(user, password)[0] !== want) {
            failures++;
            console.log(`login: overlong line case ${user} / ${password}: wrong reply`);
        }
    }
    // Rounding on the binary value, half-even: the contract's examples.
    for (const [x, want] of [[0.0078125, '0.007812'], [-10, '-10'], [-0.0000001, '0'],
                             [0.0000025, '0.000003'], [0.000001 * 2.5, '0.000002']]) {
        if (calc.formatNumber(x) !== want) {
            failures++;
            console.log(`calc: formatNumber(${x}) = ${calc.formatNumber(x)}, want ${want}`);
        }
    }
    console.log(failures === 0 ? 'all vectors pass' : `${failures} failure(s)`);
    process.exit(failures === 0 ? 0 : 1);
}

main();
