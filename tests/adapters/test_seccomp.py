"""The sandbox's seccomp program, run by a small classic-BPF interpreter: the listed calls
are refused with EPERM, every other call is allowed, other ABIs are refused as a whole.
(The real filter is checked against a real kernel in tests/tools/test_sandbox_attacks.py.)"""

from __future__ import annotations

import errno
import struct

import pytest

from local_assistants.adapters import seccomp

ALLOW = 0x7FFF0000
EPERM = 0x00050000 | errno.EPERM
X86_64, I386, AARCH64 = 0xC000003E, 0x40000003, 0xC00000B7


def run_filter(program: bytes, nr: int, arch: int) -> int:
    data = struct.pack("=iI", nr, arch) + bytes(56)  # struct seccomp_data
    insns = [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code in (0x15, 0x35):  # jeq / jge #k
            hit = acc == k if code == 0x15 else acc >= k
            pc += 1 + (jt if hit else jf)
        elif code == 0x06:  # ret #k
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")


@pytest.mark.parametrize("machine, arch", [("x86_64", X86_64), ("aarch64", AARCH64)])
def test_listed_calls_are_refused_and_others_allowed(machine, arch):
    program = seccomp.program(machine)
    table = seccomp._ARCHES[machine][1]
    assert len(program) % 8 == 0
    denied = {table[name] for name in seccomp.DENIED if name in table}
    assert {"ptrace", "keyctl", "bpf", "userfaultfd", "perf_event_open"} <= set(table)
    for nr in range(460):
        assert run_filter(program, nr, arch) == (EPERM if nr in denied else ALLOW), nr


def test_other_abis_are_refused_as_a_whole():
    program = seccomp.program("x86_64")
    assert run_filter(program, 0, I386) == EPERM  # read(), through int 0x80
    assert run_filter(program, 0x40000000 | 0, X86_64) == EPERM  # read(), as x32


def test_no_filter_where_no_table_is_known():
    assert seccomp.program("riscv64") is None
