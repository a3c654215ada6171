#!/usr/bin/env python3
"""Turn a .cu file into C++ that g++ compiles against the CPU emulator (tests/cuda_emu).

The only CUDA syntax C++ lacks is the launch `kernel<<<grid, block, smem, stream>>>(args);`.
Each one becomes `gs_emu_launch("kernel", BARRIERS, gs_emu_cfg(grid, block, smem, stream), [=] { kernel(args); });`
so the emulator runs the kernel body once per emulated thread, later, in stream order (the lambda
captures the arguments by value, as a real launch does). Shared arrays are registered so that each
block starts with them poisoned (NaN bytes), as a reader that runs ahead of the writers must see. BARRIERS is 0 for a kernel defined in the
same file whose body has no __syncthreads: its threads then run as plain calls, not fibers (much
faster); a barrier reached in such a kernel anyway is a loud emulator error, never a wrong result. Everything else is left as written; the
emulator's headers (force-included emu_device.h) supply __global__, threadIdx, __syncthreads, ...

usage: cu2cpp.py IN.cu OUT.cpp
"""
import re
import sys

LAUNCH = re.compile(r"([A-Za-z_]\w*(?:\s*<[^<>;()]*>)?)\s*<<<")


def matching(text, i, open_ch, close_ch):
    """Index just past the bracket that closes text[i] (== open_ch)."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == open_ch:
            depth += 1
        elif text[j] == close_ch:
            depth -= 1
            if depth == 0:
                return j + 1
    raise SystemExit(f"cu2cpp: unbalanced {open_ch}{close_ch} at offset {i}")


FUNC = re.compile(r"__(?:global|device)__[\w\s*&<>:,]*?\b(\w+)\s*\(")


def barrier_free_kernels(text):
    """Names of the __global__/__device__ functions defined in text that can never reach
    __syncthreads, directly or through the functions they call (to a fixed point)."""
    bodies = {}
    for m in FUNC.finditer(text):
        close = matching(text, m.end() - 1, "(", ")")
        brace = text.find("{", close)
        if brace < 0 or text[close:brace].strip() not in ("", "const"):
            continue  # a declaration, not a definition
        bodies.setdefault(m.group(1), "")
        bodies[m.group(1)] += text[brace:matching(text, brace, "{", "}")]
    barrier = {name for name, body in bodies.items() if "__syncthreads" in body}
    while True:
        more = {name for name, body in bodies.items() if name not in barrier
                and any(re.search(r"\b" + re.escape(b) + r"\s*(<[^<>;()]*>)?\s*\(", body) for b in barrier)}
        if not more:
            break
        barrier |= more
    return set(bodies) - barrier


def rewrite(text, path):
    free = barrier_free_kernels(text)
    out, pos, count = [], 0, 0
    while True:
        m = LAUNCH.search(text, pos)
        if not m:
            break
        end_cfg = text.find(">>>", m.end())
        if end_cfg < 0:
            raise SystemExit(f"{path}: '<<<' without '>>>' at offset {m.start()}")
        cfg = text[m.end():end_cfg]
        k = end_cfg + 3
        while text[k].isspace():
            k += 1
        if text[k] != "(":
            raise SystemExit(f"{path}: launch of {m.group(1)} is not followed by an argument list")
        args_end = matching(text, k, "(", ")")
        name = m.group(1)
        plain = re.sub(r"\s+", "", name)
        barriers = 0 if plain.split("<")[0] in free else 1
        out.append(text[pos:m.start()])
        out.append(f'gs_emu_launch("{plain}", {barriers}, gs_emu_cfg({cfg}), [=] {{ {name}{text[k:args_end]}; }})')
        pos = args_end
        count += 1
    out.append(text[pos:])
    return "".join(out), count


SHARED = re.compile(r"__shared__\s+([\w\s]+?)\s+(\w+)((?:\s*\[[^\]]*\])+)\s*;")


def poison_shared(text):
    """After each `__shared__ T name[...];` register the array, so the emulator fills it with NaN
    bytes at the start of every block (on a GPU it holds whatever the last block left)."""
    return SHARED.sub(lambda m: m.group(0) + f" gs_emu_shared({m.group(2)}, sizeof {m.group(2)});", text)


# Appended to every generated file: the stand-ins define none of these, the toolkit's headers do.
TOOLKIT_CHECK = """
#if defined(CUDART_VERSION) || defined(CUBLAS_VER_MAJOR) || defined(CUDNN_MAJOR) || defined(NVTX_VERSION)
#error "a CUDA toolkit header was included instead of the emulator's stand-in (tests/cuda_emu/include)"
#endif
"""


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        text = f.read()
    body, n = rewrite(poison_shared(text), src)
    with open(dst, "w") as f:
        f.write(f'// generated from {src} by tests/cuda_emu/cu2cpp.py ({n} launches): do not edit\n')
        f.write('#include "emu_device.h"\n')
        f.write(f'#line 1 "{src}"\n')
        f.write(body)
        f.write(TOOLKIT_CHECK)


if __name__ == "__main__":
    main()
