/*
 * udp sender (seed 004): reads all of stdin and sends it as ONE datagram
 * (empty allowed); prints nothing. More than 65507 bytes cannot fit one
 * IPv4 UDP datagram: exit 1. Run: echo hi | java -cp build/java udp.Client HOST PORT
 */
package udp;

import common.Cli;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;

public final class Client {
    private static final String PROG = "udp.Client";
    /** 65535 - 8 (UDP header) - 20 (IPv4 header). */
    private static final int MAX_DATAGRAM = 65507;

    private Client() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 2, PROG, "HOST PORT");
        try {
            byte[] data = System.in.readAllBytes();
            if (data.length > MAX_DATAGRAM) {
                Cli.fail(PROG, "message too long for one datagram");
            }
            InetAddress addr = InetAddress.getByName(args[0]);
            try (DatagramSocket sock = new DatagramSocket()) {
                sock.send(new DatagramPacket(data, data.length, addr, port));
            }
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }
}
