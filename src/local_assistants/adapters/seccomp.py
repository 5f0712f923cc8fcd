"""A seccomp filter for the kernel sandbox, as the BPF program bubblewrap loads (``--seccomp FD``).

It denies, with EPERM, the system calls sandboxed code has no use for and that
widen the host kernel's attack surface: debugging other processes (``ptrace``,
``process_vm_*``, ``pidfd_getfd``, ``kcmp``), the key store, BPF, userfaultfd,
perf events, io_uring, module and kexec loading, mounting and namespaces, file
handles, swap, clock and reboot calls.  Everything else is allowed: the filter
narrows what the other layers (no capabilities, no network, rlimits) left open.

Calls from another ABI (x86 32-bit ``int 0x80``, x32) are denied as a whole, so
the list cannot be bypassed through their different numbers.  Written as raw
``struct sock_filter`` words because libseccomp's Python binding is seldom
installed.
"""

from __future__ import annotations

import errno
import platform
import struct

# linux/filter.h, linux/seccomp.h, linux/audit.h
_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_ARCH_OFFSET = 4  # struct seccomp_data: int nr; __u32 arch; ...
_NR_OFFSET = 0
_X32_SYSCALL_BIT = 0x40000000

DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "keyctl", "add_key", "request_key",
    "bpf", "userfaultfd", "perf_event_open",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
    "mount_setattr", "setns", "unshare",
    "name_to_handle_at", "open_by_handle_at", "fanotify_init", "lookup_dcookie", "quotactl", "quotactl_fd",
    "swapon", "swapoff", "reboot", "acct", "syslog", "vhangup",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    # x86 only
    "iopl", "ioperm", "modify_ldt", "uselib",
)

# The unified numbers (424 and up) are the same on every architecture.
_COMMON = {
    "pidfd_getfd": 438, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "quotactl_fd": 443,
}

_X86_64 = {
    **_COMMON,
    "ptrace": 101, "syslog": 103, "uselib": 134, "vhangup": 153, "modify_ldt": 154, "pivot_root": 155,
    "adjtimex": 159, "acct": 163, "settimeofday": 164, "mount": 165, "umount2": 166, "swapon": 167,
    "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173, "init_module": 175, "delete_module": 176,
    "quotactl": 179, "lookup_dcookie": 212, "clock_settime": 227, "kexec_load": 246, "add_key": 248,
    "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298, "fanotify_init": 300,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "clock_adjtime": 305, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "finit_module": 313,
    "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
}

# asm-generic/unistd.h
_AARCH64 = {
    **_COMMON,
    "lookup_dcookie": 18, "umount2": 39, "mount": 40, "pivot_root": 41, "vhangup": 58, "quotactl": 60,
    "acct": 89, "unshare": 97, "kexec_load": 104, "init_module": 105, "delete_module": 106,
    "clock_settime": 112, "syslog": 116, "ptrace": 117, "reboot": 142, "settimeofday": 170, "adjtimex": 171,
    "add_key": 217, "request_key": 218, "keyctl": 219, "swapon": 224, "swapoff": 225, "perf_event_open": 241,
    "fanotify_init": 262, "name_to_handle_at": 264, "open_by_handle_at": 265, "clock_adjtime": 266,
    "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272, "finit_module": 273,
    "bpf": 280, "userfaultfd": 282, "kexec_file_load": 294,
}

_ARCHES = {
    "x86_64": (0xC000003E, _X86_64, True),
    "aarch64": (0xC00000B7, _AARCH64, False),
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def program(machine: str | None = None) -> bytes | None:
    """The filter for this machine's architecture, or None where no table is known."""
    machine = machine or platform.machine()
    if machine not in _ARCHES:
        return None
    audit_arch, numbers, x32 = _ARCHES[machine]
    nrs = sorted({numbers[name] for name in DENIED if name in numbers})
    deny = _RET_ERRNO | errno.EPERM
    body = [_insn(_BPF_LD_W_ABS, 0, 0, _NR_OFFSET)]
    checks = ([(_BPF_JGE_K, _X32_SYSCALL_BIT)] if x32 else []) + [(_BPF_JEQ_K, nr) for nr in nrs]
    for i, (code, k) in enumerate(checks):
        to_deny = len(checks) - i  # past the remaining checks and the allow
        body.append(_insn(code, to_deny, 0, k))
    body += [_insn(_BPF_RET_K, 0, 0, _RET_ALLOW), _insn(_BPF_RET_K, 0, 0, deny)]
    head = [
        _insn(_BPF_LD_W_ABS, 0, 0, _ARCH_OFFSET),
        _insn(_BPF_JEQ_K, 1, 0, audit_arch),
        _insn(_BPF_RET_K, 0, 0, deny),  # another ABI: refused as a whole
    ]
    return b"".join(head + body)
