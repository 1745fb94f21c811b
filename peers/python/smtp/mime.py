"""Base64 and MIME helpers shared by the Python SMTP peers
(protocols/smtp/README.md). Standard library only.

Base64 follows protocols/base64/vectors.tsv: the standard alphabet with
padding, and strict decoding (one encoding per byte string), which
base64.b64decode alone does not give: it accepts "Zh==" for b"f".
"""

import base64
import binascii
import email.message
import email.utils
import os

LINE = 76  # base64 characters per MIME body line (RFC 2045 6.8)


def b64encode(data):
    """Return the base64 text (bytes) of data, one line, no line breaks."""
    return base64.b64encode(data)


def b64decode_strict(text):
    """Return the bytes text (bytes) encodes, or None when text is not the
    one strict encoding of anything (bad characters, bad padding, non-zero
    unused bits)."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    # The encoding is unique, so a lenient decode is strict iff it
    # encodes back to the same text.
    return data if base64.b64encode(data) == text else None


def b64lines(data):
    """Return data's base64 as CRLF-ended lines of at most 76 characters."""
    text = b64encode(data)
    return b''.join(text[i:i + LINE] + b'\r\n'
                    for i in range(0, len(text), LINE))


class Description:
    """The client's stdin message description (protocols/smtp/README.md,
    "Programs"): From, To (one or more), Subject, Attach, then the body."""

    def __init__(self, data):
        head, sep, body = data.partition(b'\n\n')
        if not sep and not data.endswith(b'\n'):
            head, body = data, b''
        self.sender = None
        self.recipients = []
        self.subject = ''
        self.attach = None
        for raw in head.split(b'\n'):
            line = raw.removesuffix(b'\r').decode('utf-8', 'surrogateescape')
            if not line:
                continue
            name, colon, value = line.partition(':')
            if not colon:
                raise ValueError(f'no ":" in "{line}"')
            name, value = name.strip().lower(), value.strip(' \t')
            if name == 'from':
                if self.sender is not None:
                    raise ValueError('more than one From:')
                self.sender = value
            elif name == 'to':
                self.recipients.append(value)
            elif name == 'subject':
                self.subject = value
            elif name == 'attach':
                self.attach = value
            else:
                raise ValueError(f'unknown field "{name}"')
        if self.sender is None or not self.recipients:
            raise ValueError('needs From: and at least one To:')
        self.body = body.decode('utf-8', 'surrogateescape')


def build_message(desc):
    """Return the email.message.EmailMessage a Description asks for: a
    text/plain message, or multipart/mixed with the Attach: file in base64
    (76-character lines); raises OSError when the file cannot be read."""
    msg = email.message.EmailMessage()
    msg['From'] = desc.sender
    msg['To'] = ', '.join(desc.recipients)
    msg['Subject'] = desc.subject
    msg['Date'] = email.utils.formatdate(usegmt=True)
    msg.set_content(desc.body, charset='utf-8', cte='8bit')
    if desc.attach is not None:
        with open(desc.attach, 'rb') as f:
            data = f.read()
        msg.add_attachment(data, maintype='application',
                           subtype='octet-stream',
                           filename=os.path.basename(desc.attach))
    return msg
