/*
 * Net: the socket steps the Java peers share: connect to every address a
 * name resolves to, listen on all interfaces, exchange a request for the
 * whole reply, and the lingering close of protocols/README.md "Closing".
 */
package common;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;

public final class Net {
    /** How long a lingering close waits for the client's EOF. */
    public static final int LINGER_MS = 1000;

    private Net() {
    }

    /**
     * Returns a socket connected to the first address of {@code host} that
     * accepts; throws the last connect error when none does.
     */
    public static Socket connect(String host, int port) throws IOException {
        IOException last = null;
        for (InetAddress addr : InetAddress.getAllByName(host)) {
            Socket s = new Socket();
            try {
                s.connect(new InetSocketAddress(addr, port));
                return s;
            } catch (IOException e) {
                s.close();
                last = e;
            }
        }
        throw last != null ? last : new IOException("no address for " + host);
    }

    /**
     * Returns a server socket on every interface (Java's wildcard socket is
     * dual-stack IPv6 on Linux), with SO_REUSEADDR so a restart can rebind.
     */
    public static ServerSocket listen(int port) throws IOException {
        ServerSocket ss = new ServerSocket();
        try {
            ss.setReuseAddress(true);
            ss.bind(new InetSocketAddress(port), 50);
        } catch (IOException e) {
            ss.close();
            throw e;
        }
        return ss;
    }

    /**
     * Sends {@code request} and half-closes from a helper thread while this
     * thread reads; returns everything received until the peer's EOF. Sending
     * and reading at once means a large echo can never deadlock on full
     * socket buffers. Rethrows a send error after the reply was read.
     */
    public static byte[] exchange(Socket s, byte[] request)
            throws IOException {
        IOException[] sendError = new IOException[1];
        Thread sender = new Thread(() -> {
            try {
                OutputStream out = s.getOutputStream();
                out.write(request);
                out.flush();
                s.shutdownOutput();
            } catch (IOException e) {
                sendError[0] = e;
            }
        });
        sender.setDaemon(true);
        sender.start();
        byte[] reply = s.getInputStream().readAllBytes();
        try {
            sender.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        }
        if (sendError[0] != null) {
            throw sendError[0];
        }
        return reply;
    }

    /**
     * Half-closes, discards input until the client's EOF for at most
     * LINGER_MS, then closes. Closing with unread input would make the
     * kernel send a reset that can destroy the reply before the client reads
     * it. Never throws: the connection is over either way.
     */
    public static void lingeringClose(Socket s) {
        try {
            s.shutdownOutput();
            InputStream in = s.getInputStream();
            byte[] junk = new byte[4096];
            long deadline = System.nanoTime() + LINGER_MS * 1_000_000L;
            while (true) {
                long left = (deadline - System.nanoTime()) / 1_000_000L;
                if (left <= 0) {
                    break;
                }
                s.setSoTimeout((int) left);
                if (in.read(junk) < 0) {
                    break;
                }
            }
        } catch (SocketTimeoutException e) {
            // the client kept its side open: close anyway
        } catch (IOException e) {
            // reset or already closed: nothing left to protect
        } finally {
            closeQuietly(s);
        }
    }

    /** Closes the socket, ignoring errors (used on paths already failing). */
    public static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // nothing to do: the socket is gone
        }
    }
}
