// The engine's own threading: GEMMs cut into blocks per thread, and the helper team that runs
// them and the long elementwise passes.
import CBLAS
import Dispatch
@testable import SwiftNNEngine
import XCTest

/// Row-major c (m, n) = alpha · op(a) · op(b) + beta · c in Double, one dot product at a time.
private func referenceProduct(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                              a: [Float], b: [Float], beta: Double, c: [Float]) -> [Double] {
    let lda = transA ? m : k, ldb = transB ? k : n
    var out = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let x = transA ? a[p * lda + i] : a[i * lda + p]
                let y = transB ? b[j * ldb + p] : b[p * ldb + j]
                sum += Double(x) * Double(y)
            }
            out[i * n + j] = alpha * sum + beta * Double(c[i * n + j])
        }
    }
    return out
}

final class ParallelTests: XCTestCase {
    func testTheEngineTakesOverOpenBLASThreads() {
        XCTAssertGreaterThanOrEqual(engineThreads, 1)
        XCTAssertEqual(openblas_get_num_threads(), 1, "OpenBLAS must run single-threaded under the engine's split")
        XCTAssertEqual(team == nil, engineThreads == 1)
    }

    /// Shapes of a training step on both sides of the split threshold, split by rows (m large)
    /// and by columns (m small), in every transposition, with alpha and beta as the fused SGD
    /// step uses them.
    func testSplitProductsEqualTheDoublePrecisionProduct() {
        var rng = SystemRandomNumberGenerator()
        let shapes = [(100, 100, 100), (640, 100, 50), (100, 640, 50), (16, 800, 400),
                      (130, 70, 257), (7, 5, 3), (64, 64, 64)]
        if engineThreads > 1 {
            XCTAssertGreaterThan(gemmBlocks(m: 100, n: 100, k: 100), 1, "the row split is not tested")
            XCTAssertGreaterThan(gemmBlocks(m: 16, n: 800, k: 400), 1, "the column split is not tested")
        }
        for (m, n, k) in shapes {
            for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
                let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
                let c0 = (0..<(m * n)).map { _ in Float.random(in: -1...1, using: &rng) }
                var c = c0
                Float.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: -0.5,
                           a: a, lda: transA ? m : k, b: b, ldb: transB ? k : n, beta: 0.75, c: &c, ldc: n)
                let expected = referenceProduct(transA: transA, transB: transB, m: m, n: n, k: k,
                                                alpha: -0.5, a: a, b: b, beta: 0.75, c: c0)
                var worst = 0.0
                for i in 0..<(m * n) { worst = max(worst, abs(Double(c[i]) - expected[i])) }
                XCTAssertLessThan(worst, 1e-5 * Double(k), "m \(m) n \(n) k \(k) transA \(transA) transB \(transB)")
            }
        }
    }

    func testSplitProductsAreTheSameEveryTime() {
        let (m, n, k) = (200, 800, 300)
        let a = (0..<(m * k)).map { Float(($0 * 7919) % 1001) / 1001 - 0.5 }
        let b = (0..<(k * n)).map { Float(($0 * 104729) % 997) / 997 - 0.5 }
        var first = [Float](repeating: 0, count: m * n)
        Float.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                   beta: 0, c: &first, ldc: n)
        for _ in 0..<20 {
            var again = [Float](repeating: 0, count: m * n)
            Float.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                       beta: 0, c: &again, ldc: n)
            XCTAssertEqual(again, first)
        }
    }

    /// Several callers at once (the team serves one, the others run their pieces themselves)
    /// and calls from inside a piece: every element is visited exactly once, every time.
    func testEveryPieceRunsOnceWhenCallersCollideOrNest() {
        let count = 1 << 17, callers = 4, rounds = 300
        // Each caller writes only its own slice of the counters.
        nonisolated(unsafe) let visits = UnsafeMutablePointer<Int32>.allocate(capacity: callers * count)
        defer { visits.deallocate() }
        visits.initialize(repeating: 0, count: callers * count)
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            let mine = visits + caller * count
            for round in 0..<rounds {
                if round % 3 == 0 {
                    forEachPiece(of: count) { outer in
                        forEachPiece(of: outer.count, minimum: 1) { inner in
                            for i in inner { mine[outer.lowerBound + i] += 1 }
                        }
                    }
                } else {
                    forEachPiece(of: count) { piece in
                        for i in piece { mine[i] += 1 }
                    }
                }
            }
        }
        for i in 0..<(callers * count) where visits[i] != Int32(rounds) {
            XCTFail("element \(i % count) of caller \(i / count) visited \(visits[i]) times, not \(rounds)")
            break
        }
    }

    func testPiecesCoverTheRangeAtTheirAlignment() {
        for (count, alignment) in [(100, 1), (1 << 16, 64), ((1 << 16) + 5, 64), (3, 1)] {
            var seen = [Range<Int>]()
            let lock = NSLock()
            forEachPiece(of: count, minimum: 1, alignment: alignment) { piece in
                lock.lock(); seen.append(piece); lock.unlock()
            }
            seen.sort { $0.lowerBound < $1.lowerBound }
            XCTAssertEqual(seen.first?.lowerBound, 0)
            XCTAssertEqual(seen.last?.upperBound, count)
            for (p, q) in zip(seen, seen.dropFirst()) { XCTAssertEqual(p.upperBound, q.lowerBound) }
            for p in seen.dropFirst() { XCTAssertEqual(p.lowerBound % alignment, 0) }
        }
    }

    func testEveryBackgroundChunkRunsOnceWhileJobsRun() throws {
        guard let team else { throw XCTSkip("one engine thread: there are no helpers") }
        let chunks = 2048, count = 1 << 17, rounds = 100
        // Per chunk: times run, then 1 if it ran on a helper.
        let visits = UnsafeMutablePointer<Int32>.allocate(capacity: 2 * chunks)
        let elements = UnsafeMutablePointer<Int32>.allocate(capacity: count)
        defer { visits.deallocate(); elements.deallocate() }
        let caller = pthread_self()
        var onHelpers = 0
        for round in 0..<rounds {
            visits.initialize(repeating: 0, count: 2 * chunks)
            elements.initialize(repeating: 0, count: count)
            XCTAssertTrue(team.offer(UnsafeRawPointer(visits), count: chunks) { job, i in
                let visits = UnsafeMutablePointer(mutating: job.assumingMemoryBound(to: Int32.self))
                let start = monotonicSeconds()
                while monotonicSeconds() < start + 1e-6 {}   // long enough for a helper to take some
                visits[i] += 1
                visits[chunks + i] = pthread_equal(pthread_self(), caller) == 0 ? 1 : 0
            })
            XCTAssertFalse(team.offer(UnsafeRawPointer(visits), count: chunks) { _, _ in },
                           "a second offer while one is open must be refused")
            // Jobs handed out meanwhile still run every piece once.
            for _ in 0..<(round % 4) {
                forEachPiece(of: count) { piece in for i in piece { elements[i] += 1 } }
            }
            team.finishBackground()
            for i in 0..<chunks where visits[i] != 1 {
                return XCTFail("round \(round): chunk \(i) ran \(visits[i]) times, not once")
            }
            for i in 0..<count where elements[i] != Int32(round % 4) {
                return XCTFail("round \(round): element \(i) visited \(elements[i]) times, not \(round % 4)")
            }
            for i in 0..<chunks { onHelpers += Int(visits[chunks + i]) }
        }
        XCTAssertGreaterThan(onHelpers, 0, "no chunk ran on a helper: the helpers never took background work")
        // Finished, the team takes the next offer.
        XCTAssertTrue(team.offer(UnsafeRawPointer(visits), count: 0) { _, _ in })
        team.finishBackground()
    }
}
