"""A closed cell leaves the driver nothing to reap: the cell's init and a
program whose `sl-cell enter` died before it are re-parented to the driver
(its subreaper) and must be reaped, or they stay zombies until the driver
exits and keep their PID namespace's init from ending."""

import asyncio
import os
import signal
import unittest
from pathlib import Path

import support
from harness.run import cell as isolation
from harness.run import processes, procnet

SL_CELL = str(Path(os.environ.get("SL_BUILD_DIR") or support.ROOT / "build")
              / "c" / "cell" / "sl-cell")
SUPPORT = isolation.support(SL_CELL)


def zombie_children(besides: set[int]) -> list[int]:
    """This process's zombie children, but the ones asyncio started."""
    out = []
    for pid in procnet.children(os.getpid()):
        st = procnet.stat(pid)
        if st is not None and st.state == "Z" and pid not in besides:
            out.append(pid)
    return out


@unittest.skipUnless(SUPPORT.ok, f"cells cannot be made here: {SUPPORT.why}")
class CellEndTest(unittest.TestCase):
    def test_closed_cells_leave_no_zombie(self):
        async def go() -> tuple[list[int], bool]:
            processes.adopt_orphans()
            cells = [await isolation.Cell.start(SL_CELL, [str(support.ROOT)]) for _ in range(3)]
            ours = {c.proc.pid for c in cells}
            # sl-cell enter forks the program into the cell: killing enter
            # alone re-parents the program (alive, inside) to this process.
            enter = await processes.spawn(cells[0].wrap(["sleep", "60"], "/"),
                                          str(support.ROOT), dict(os.environ))
            ours.add(enter.pid)
            inside = []
            while not inside and enter.proc.returncode is None:
                inside = procnet.children(enter.pid)
                await asyncio.sleep(0.01)
            self.assertTrue(inside, "sl-cell enter did not start the program")
            os.kill(enter.pid, signal.SIGKILL)
            await processes.ended(enter.proc)
            adopted = inside[0] in procnet.children(os.getpid())
            for c in cells:
                await c.close()  # the program dies with its cell
            await enter.finish_output()
            return zombie_children(ours), adopted

        left, adopted = asyncio.run(go())
        self.assertTrue(adopted, "the program was not re-parented to the test")
        self.assertEqual(left, [], "zombies left after the cells were closed: "
                         + ", ".join(support.cmd(p).decode("utf-8", "replace") or str(p)
                                     for p in left))


if __name__ == "__main__":
    unittest.main()
