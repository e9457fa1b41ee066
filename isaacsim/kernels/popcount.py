"""Population count of a 64-bit word as a numba intrinsic lowering to LLVM `ctpop`.

numba has no popcount builtin; LLVM turns `ctpop` into the `popcnt` instruction (and vectorises it
in loops), which is several times faster than a SWAR bit-twiddling popcount in the fused kernel.
"""

from numba import types
from numba.extending import intrinsic


@intrinsic
def popcount64(typingctx, x):
    """Number of set bits of a uint64 (returned as uint64)."""
    if not isinstance(x, types.Integer):
        return None
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen
