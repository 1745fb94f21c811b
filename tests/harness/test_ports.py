"""Ports: a range the driver owns, outside the ephemeral range, never two
live cells on one port, ports in use skipped."""

import socket
import unittest

import support  # noqa: F401
from harness.run import ports


class PortsTest(unittest.TestCase):
    def test_ephemeral_range_excluded(self):
        elo, ehi = ports.ephemeral_range()
        pool = ports.PortPool(elo - 10, elo + 10)
        self.assertTrue(all(p < elo for p in pool.ports))
        self.assertEqual(len(pool.ports), 10)

    def test_too_small_after_exclusion(self):
        elo, ehi = ports.ephemeral_range()
        with self.assertRaises(ValueError):
            ports.PortPool(elo, elo + 100)

    def test_never_twice_while_live(self):
        pool = ports.PortPool(32400, 32409)
        got = pool.acquire(4) + pool.acquire(4)
        self.assertEqual(len(set(got)), 8)
        with self.assertRaises(RuntimeError):
            pool.acquire(4)  # only 2 left
        pool.release(got[:4])
        again = pool.acquire(6)
        self.assertEqual(set(again), set(range(32400, 32410)) - set(got[4:]))

    def test_busy_port_is_skipped(self):
        pool = ports.PortPool(32410, 32413)
        holder = socket.create_server(("127.0.0.1", 32411))
        try:
            self.assertFalse(ports.port_free(32411))
            got = pool.acquire(3)
            self.assertNotIn(32411, got)
        finally:
            holder.close()

    def test_parse_range(self):
        self.assertEqual(ports.parse_range("20000-29999"), (20000, 29999))
        for bad in ("20000", "2-1", "100-200", "a-b", "30000-70000"):
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    ports.parse_range(bad)


if __name__ == "__main__":
    unittest.main()
