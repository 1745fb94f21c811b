/*
 * ack client (seed 002, the C socket_client1): prompts on stderr, reads ONE
 * stdin line (with its "\n"), sends it, half-closes, and prints the reply
 * + "\n". Run: echo 'Oi, sou o cliente!' | java -cp build/java ack.Client HOST PORT
 */
package ack;

import common.Cli;
import common.LineReader;
import common.Net;
import java.io.IOException;
import java.net.Socket;
import java.util.Arrays;

public final class Client {
    private static final String PROG = "ack.Client";

    private Client() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 2, PROG, "HOST PORT");
        try (Socket s = Net.connect(args[0], port)) {
            // the prompt is chatter, so it goes to stderr (stdout is judged)
            Cli.prompt("Informe a mensagem: ");
            byte[] line = new LineReader(System.in).readLine(Integer.MAX_VALUE);
            if (line == null) {
                line = new byte[0];
            }
            byte[] reply = Net.exchange(s, line);
            if (reply.length == 0) {
                Cli.fail(PROG, "connection closed without a reply");
            }
            reply = Arrays.copyOf(reply, reply.length + 1);
            reply[reply.length - 1] = '\n';
            Cli.out(reply);
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }
}
