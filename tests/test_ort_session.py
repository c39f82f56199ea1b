"""One way to open an ONNX Runtime session: its options, and the memory a load leaves behind handed back."""

import sys

import pytest

from ented_desktop.core.engines.ort_session import return_freed_memory, session_options


def resident_mb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 // 2**20


def test_the_arena_is_on_and_its_per_shape_plan_off():
    options = session_options()
    assert options.enable_cpu_mem_arena and not options.enable_mem_pattern
    assert options.intra_op_num_threads >= 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's; elsewhere it is a no-op")
def test_freed_heap_memory_goes_back_to_the_system():
    """Small blocks freed between blocks still in use stay in the heap (as a model load leaves them) until
    trimmed."""
    chunks = [bytearray(100_000) for _ in range(2000)]  # 200 MB below glibc's mmap threshold: on the heap
    for chunk in chunks:
        chunk[::4096] = b"\1" * len(chunk[::4096])  # touch every page
    kept = chunks[::10]
    del chunks
    before = resident_mb()
    return_freed_memory()
    assert before - resident_mb() > 100
    assert len(kept) == 200
