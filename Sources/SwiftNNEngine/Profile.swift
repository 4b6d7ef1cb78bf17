// SWIFTNN_PROFILE=1 in the environment: the trainer's steps are cut into phases on the calling
// thread's clock (each lap charges the time since the previous lap to one phase) and the helper
// threads count the time they spend working; a trainer prints the totals to stderr when it is
// freed. Off (the default), every hook is one load of a constant and a branch.
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

@usableFromInline enum Phase: Int, CaseIterable {
    case sample = 0, gemmForward, gemmWeights, gemmInputs, elementwise, update, prefetchWait, outside
    var name: String {
        ["sample", "gemm forward", "gemm dW", "gemm dX", "elementwise", "update", "prefetch wait",
         "outside steps"][rawValue]
    }
}

@usableFromInline let profiling: Bool = getenv("SWIFTNN_PROFILE").map { $0.pointee != 0 && $0.pointee != 48 } ?? false

@usableFromInline final class PhaseClock: @unchecked Sendable {
    nonisolated(unsafe) var totals = [Double](repeating: 0, count: Phase.allCases.count)
    nonisolated(unsafe) var last = 0.0
    nonisolated(unsafe) var steps = 0
    /// Nanoseconds the helpers spent running job pieces and background chunks.
    let helperBusy = Atomic<Int>(0)
    init() {}

    func reset() {
        for i in totals.indices { totals[i] = 0 }
        steps = 0
        helperBusy.store(0, ordering: .relaxed)
        last = monotonicSeconds()
    }

    func report(helpers: Int) -> String {
        let wall = totals.reduce(0, +) - totals[Phase.outside.rawValue]
        let n = Double(max(steps, 1))
        let perStep = { (s: Double) in s / n * 1e3 }
        var parts = ["swiftnn profile: \(steps) steps, \(fmt(perStep(wall))) ms/step"]
        for p in Phase.allCases where p != .outside {
            parts.append("\(p.name) \(fmt(perStep(totals[p.rawValue]))) ms (\(fmt(100 * totals[p.rawValue] / max(wall, 1e-12)))%)")
        }
        let busy = Double(helperBusy.load(ordering: .relaxed)) * 1e-9
        if helpers > 0 {
            parts.append("helpers busy \(fmt(perStep(busy) / Double(helpers))) ms/step (idle \(fmt(100 * (1 - busy / (wall * Double(helpers))))) %)")
        }
        return parts.joined(separator: "; ")
    }

    private func fmt(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return "\(r)"
    }
}

@usableFromInline let phaseClock = PhaseClock()

/// Charges the time since the previous lap to `phase` (SWIFTNN_PROFILE only).
@inlinable @inline(__always) func lap(_ phase: Phase) {
    if profiling { lapSlow(phase) }
}

@usableFromInline @inline(never) func lapSlow(_ phase: Phase) {
    let now = monotonicSeconds()
    phaseClock.totals[phase.rawValue] += now - phaseClock.last
    phaseClock.last = now
}
