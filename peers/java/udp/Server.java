/*
 * udp receiver (seed 004, slide port 5005): for every datagram prints
 * `received message: ` + Python's bytes repr + "\n" and flushes at once (so
 * nothing is lost when the process is stopped). Never replies. The buffer
 * holds 65536 bytes, so no datagram is truncated (the slide's recvfrom(1024)
 * would). Run: java -cp build/java udp.Server PORT
 */
package udp;

import common.Cli;
import common.PyRepr;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

public final class Server {
    private static final String PROG = "udp.Server";
    private static final int BUFFER = 65536;

    private Server() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 1, PROG, "PORT");
        // the wildcard address makes Java's socket dual-stack on Linux
        try (DatagramSocket sock = new DatagramSocket(
                new InetSocketAddress(port))) {
            byte[] buf = new byte[BUFFER];
            while (true) {
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                sock.receive(p);
                byte[] data = Arrays.copyOfRange(buf, p.getOffset(),
                        p.getOffset() + p.getLength());
                String line = "received message: " + PyRepr.repr(data) + "\n";
                Cli.out(line.getBytes(StandardCharsets.US_ASCII));
            }
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }
}
