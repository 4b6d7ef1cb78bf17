// Both cores for the long elementwise passes (the update rules over every parameter). GEMMs
// already use OpenBLAS's threads; this is for the loops between them.
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Online processors, read once.
let processorCount = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

/// Calls body on contiguous pieces covering 0..<count, one piece per core, at once, when count
/// is at least `minimum` (below it, waking a second thread costs more than it saves: a few
/// microseconds against ~1 ns per element). Piece boundaries are multiples of 64 elements so that
/// vector loops keep their lanes aligned within a piece. Results equal a serial call: every
/// element is computed by the same code whatever piece it falls in.
public func forEachPiece(of count: Int, minimum: Int = 1 << 16, _ body: (Range<Int>) -> Void) {
    let pieces = count >= minimum ? min(processorCount, count / 64) : 1
    if pieces <= 1 {
        body(0..<count)
        return
    }
    let step = (count / pieces + 63) & ~63
    DispatchQueue.concurrentPerform(iterations: pieces) { i in
        let start = min(i * step, count), end = i == pieces - 1 ? count : min(start + step, count)
        if start < end { body(start..<end) }
    }
}
