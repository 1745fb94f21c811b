/*
 * EchoRepr: the echo-repr codec, pure (no sockets): message framing limits
 * and the reply text of seed 002 "Servidor 2", f'Echo ==>{data}', where
 * {data} is Python's repr() of the received bytes.
 */
package echo_repr;

import common.PyRepr;
import java.nio.charset.StandardCharsets;

public final class EchoRepr {
    /** A message is at most this many bytes (the slide's recv(1024)). */
    public static final int MAX_MESSAGE = 1024;
    /** Every reply starts with this text. */
    public static final String PREFIX = "Echo ==>";

    private EchoRepr() {
    }

    /** Returns the reply bytes for one message: no terminator follows. */
    public static byte[] reply(byte[] message) {
        return (PREFIX + PyRepr.repr(message))
                .getBytes(StandardCharsets.US_ASCII);
    }
}
