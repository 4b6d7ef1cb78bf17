#!/bin/sh
# Prints the swiftc flags (as -Xswiftc arguments) for the libswiftnn.so that `make build` and
# `pip install` build on the machine that will run it:
#   -enforce-exclusivity=unchecked  the engine works on raw pointers only, so the dynamic
#                                   exclusivity checks guard nothing; overflow traps stay.
#   -target-cpu haswell             when the host has AVX2 and FMA (Intel Haswell and later,
#                                   every AMD Zen): eight float lanes per instruction instead of
#                                   SSE2's four, measured at 1.6x on the elementwise loops and
#                                   the update rules. SWIFTNN_PORTABLE=1 leaves it out, for a
#                                   library that runs on any x86-64.
# These are command-line flags, not manifest settings: SwiftPM refuses unsafeFlags in a package
# that another package depends on by version.
flags="-Xswiftc -enforce-exclusivity=unchecked"
if [ -z "${SWIFTNN_PORTABLE:-}" ] && [ -r /proc/cpuinfo ]; then
    cpu=$(grep -m1 '^flags' /proc/cpuinfo)
    case " $cpu " in
        *" avx2 "*) case " $cpu " in *" fma "*) flags="$flags -Xswiftc -target-cpu -Xswiftc haswell" ;; esac ;;
    esac
fi
echo "$flags"
