'use strict';
/*
 * Base64 helpers of the Node SMTP peers (protocols/smtp/README.md), on
 * Buffer's base64. Buffer.from(text, 'base64') never fails: it skips
 * characters outside the alphabet and ignores bad padding, so strict
 * decoding (protocols/base64/vectors.tsv) keeps a decode only if it
 * encodes back to the very same text.
 */

const LINE = 76; // base64 characters per MIME body line (RFC 2045 6.8)

/* Returns the base64 text of data as a Buffer, one line. */
function b64encode(data) {
    return Buffer.from(Buffer.from(data).toString('base64'), 'latin1');
}

/* Returns the bytes text (a Buffer) encodes, or null when it is not strict base64. */
function b64decodeStrict(text) {
    const data = Buffer.from(text.toString('latin1'), 'base64');
    return b64encode(data).equals(Buffer.from(text)) ? data : null;
}

/* Returns data's base64 as CRLF-ended lines of at most 76 characters. */
function b64lines(data) {
    const text = b64encode(data);
    const parts = [];
    for (let i = 0; i < text.length; i += LINE) {
        parts.push(text.subarray(i, i + LINE), Buffer.from('\r\n'));
    }
    return Buffer.concat(parts);
}

module.exports = {LINE, b64encode, b64decodeStrict, b64lines};
