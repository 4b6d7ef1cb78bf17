// Both cores for the GEMMs and for the long elementwise passes (the update rules over every
// parameter). The engine splits the work itself, on a team of helper threads that stay awake
// between jobs; OpenBLAS runs on one thread.
import CBLAS
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The threads the engine computes on: OpenBLAS's thread count when the engine first needs it
/// (OpenBLAS takes it from OPENBLAS_NUM_THREADS or OMP_NUM_THREADS, else the online
/// processors). From then on OpenBLAS itself runs on one thread.
@usableFromInline let engineThreads: Int = {
    let threads = max(1, Int(openblas_get_num_threads()))
    openblas_set_num_threads(1)
    return threads
}()

/// The threads the engine computes on.
public var threadCount: Int { engineThreads }

/// Work cut into contiguous pieces of a range (see forEachPiece): a struct holding what the
/// pieces share. The helpers get a pointer to it on the caller's stack, so handing out a job
/// allocates nothing; a closure shared with another thread is boxed (withoutActuallyEscaping),
/// a heap allocation per job, and a training step hands out several.
///
/// The helpers run `Pieces<Work>.run`, which needs Work's type metadata on their threads: a
/// type's metadata is immutable, and Swift 6.2 and later say so with SendableMetatype.
#if compiler(>=6.2)
public protocol PieceWork: SendableMetatype {
    func callAsFunction(_ piece: Range<Int>)
    /// The piece's index among the job's pieces (0 for a job run whole) as well; by default the
    /// index is ignored.
    func callAsFunction(_ piece: Range<Int>, index: Int)
}
#else
public protocol PieceWork {
    func callAsFunction(_ piece: Range<Int>)
    /// The piece's index among the job's pieces (0 for a job run whole) as well; by default the
    /// index is ignored.
    func callAsFunction(_ piece: Range<Int>, index: Int)
}
#endif

extension PieceWork {
    @inlinable public func callAsFunction(_ piece: Range<Int>, index: Int) { self(piece) }
}

/// Calls work on contiguous pieces covering 0..<count, one piece per thread, at once, when count
/// is at least `minimum` (below it, handing work to a helper costs more than it saves: about a
/// microsecond against ~1 ns per element). Piece boundaries are multiples of `alignment`, 64
/// elements by default so that vector loops keep their lanes aligned within a piece. Results
/// equal a serial call: every element is computed by the same code whatever piece it falls in.
@inlinable
public func forEachPiece<Work: PieceWork>(of count: Int, minimum: Int = 1 << 16, alignment: Int = 64,
                                          _ work: Work) {
    let pieces = count >= minimum ? min(engineThreads, count / alignment) : 1
    if pieces <= 1 {
        work(0..<count)
        return
    }
    let step = ((count + pieces - 1) / pieces + alignment - 1) / alignment * alignment
    withUnsafePointer(to: Pieces(work: work, count: count, step: step, pieces: pieces)) { job in
        onEveryThread(UnsafeRawPointer(job), Pieces<Work>.run)
    }
}

/// forEachPiece for a closure; each call that splits allocates the closure's box (see PieceWork).
public func forEachPiece(of count: Int, minimum: Int = 1 << 16, alignment: Int = 64,
                         _ body: (Range<Int>) -> Void) {
    withoutActuallyEscaping(body) { body in
        forEachPiece(of: count, minimum: minimum, alignment: alignment, ClosureWork(body: body))
    }
}

@usableFromInline struct ClosureWork: PieceWork {
    @usableFromInline let body: (Range<Int>) -> Void
    @usableFromInline init(body: @escaping (Range<Int>) -> Void) { self.body = body }
    @usableFromInline func callAsFunction(_ piece: Range<Int>) { body(piece) }
}

/// A job of forEachPiece: thread i does piece i.
@usableFromInline struct Pieces<Work: PieceWork> {
    @usableFromInline let work: Work
    @usableFromInline let count, step, pieces: Int

    @inlinable init(work: Work, count: Int, step: Int, pieces: Int) {
        (self.work, self.count, self.step, self.pieces) = (work, count, step, pieces)
    }

    @inlinable static func run(_ job: UnsafeRawPointer, _ i: Int) {
        let job = job.assumingMemoryBound(to: Pieces.self)
        let count = job.pointee.count, step = job.pointee.step
        let start = min(i * step, count), end = i == job.pointee.pieces - 1 ? count : min(start + step, count)
        if i < job.pointee.pieces, start < end { job.pointee.work(start..<end, index: i) }
    }
}

extension Scalar {
    /// Row-major `c (m, n) = alpha * op(a) · op(b) + beta * c`, where op(a) is (m, k) and op(b)
    /// is (k, n); `lda`, `ldb`, `ldc` are the row strides as stored. Cut into one block per
    /// thread, each run by `gemmOnThisThread` at once. Blocks are rows, or columns when there are
    /// more columns than rows: every block packs all of the operand it shares (b for row
    /// blocks, a for column blocks), so the smaller one is shared. At the shapes of a training
    /// step (M or N of 100-800, K of 100-3072) this ran affine calls 10-45% faster than
    /// OpenBLAS's own two-thread split, and whole training epochs 8-25% faster (README, Speed).
    /// The blocks are fixed by the shape and the thread count, so results depend only on the
    /// thread count.
    @inlinable
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            alpha: Self, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                            beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int) {
        gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
             beta: beta, c: c, ldc: ldc, epilogue: NoEpilogue())
    }

    /// `gemm`, then `epilogue(rows, columns, index)` on each block of c, on the thread that made
    /// the block and right after it, while the block is still in that core's cache; `index` is the
    /// block's number (0 ..< the thread count), fixed by the shape and the thread count.
    @inlinable
    public static func gemm<E: BlockEpilogue>(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                              alpha: Self, a: UnsafePointer<Self>, lda: Int,
                                              b: UnsafePointer<Self>, ldb: Int,
                                              beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int, epilogue: E) {
        lap(.elementwise)
        defer { lap(transA ? .gemmWeights : transB ? .gemmInputs : .gemmForward) }
        let blocks = gemmBlocks(m: m, n: n, k: k)
        let rows = m >= blocks * minimumBlockEdge && (m >= n || n < blocks * minimumBlockEdge)
        let job = GemmBlocks(byRows: rows, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                             a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, epilogue: epilogue)
        if blocks <= 1 {
            job(0..<(rows ? m : n))
        } else if rows {
            // Rows are OpenBLAS's columns (row-major through a column-major library): any multiple
            // of its 4-wide kernel edge will do; columns want its 16-wide one.
            forEachPiece(of: m, minimum: 0, alignment: 4, job)
        } else {
            forEachPiece(of: n, minimum: 0, alignment: 16, job)
        }
    }
}

/// Work on a block of a GEMM's output right after the block is made (see gemm): a struct, so
/// that handing it to the helpers allocates nothing.
public protocol BlockEpilogue {
    func callAsFunction(_ rows: Range<Int>, _ columns: Range<Int>, _ index: Int)
}

public struct NoEpilogue: BlockEpilogue {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ rows: Range<Int>, _ columns: Range<Int>, _ index: Int) {}
}

/// A block of rows (or columns) of a GEMM, with the pointers moved to the block's start.
@usableFromInline struct GemmBlocks<T: Scalar, E: BlockEpilogue>: PieceWork {
    @usableFromInline let byRows, transA, transB: Bool
    @usableFromInline let m, n, k, lda, ldb, ldc: Int
    @usableFromInline let alpha, beta: T
    @usableFromInline let a, b: UnsafePointer<T>
    @usableFromInline let c: UnsafeMutablePointer<T>
    @usableFromInline let epilogue: E

    @inlinable init(byRows: Bool, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: T,
                    a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                    beta: T, c: UnsafeMutablePointer<T>, ldc: Int, epilogue: E) {
        (self.byRows, self.transA, self.transB, self.m, self.n, self.k) = (byRows, transA, transB, m, n, k)
        (self.alpha, self.a, self.lda, self.b, self.ldb, self.beta, self.c, self.ldc) =
            (alpha, a, lda, b, ldb, beta, c, ldc)
        self.epilogue = epilogue
    }

    @inlinable func callAsFunction(_ piece: Range<Int>) { self(piece, index: 0) }

    @inlinable func callAsFunction(_ piece: Range<Int>, index: Int) {
        let i = piece.lowerBound
        if byRows {
            T.gemmOnThisThread(transA: transA, transB: transB, m: piece.count, n: n, k: k, alpha: alpha,
                               a: transA ? a + i : a + i * lda, lda: lda, b: b, ldb: ldb,
                               beta: beta, c: c + i * ldc, ldc: ldc)
            epilogue(piece, 0..<n, index)
        } else {
            T.gemmOnThisThread(transA: transA, transB: transB, m: m, n: piece.count, k: k, alpha: alpha,
                               a: a, lda: lda, b: transB ? b + i * ldb : b + i, ldb: ldb,
                               beta: beta, c: c + i, ldc: ldc)
            epilogue(0..<m, piece, index)
        }
    }
}

/// Rows (or columns) a GEMM block has at least; thinner blocks run the kernel's edge code.
@usableFromInline let minimumBlockEdge = 32
/// GEMMs below this many FLOP stay whole: 1 MFLOP is ~12 µs on one core, against ~1 µs to hand
/// half to a spinning helper. (W2's 100x100x100 GEMMs, 2 MFLOP, gain from the split.)
@usableFromInline let minimumSplitFLOP = 1 << 20

/// How many blocks to cut a GEMM into: one per engine thread, from `minimumSplitFLOP` on.
@usableFromInline func gemmBlocks(m: Int, n: Int, k: Int) -> Int {
    let threads = engineThreads
    guard threads > 1, 2 * m * n * k >= minimumSplitFLOP, max(m, n) >= threads * minimumBlockEdge
    else { return 1 }
    return threads
}

/// The helper threads, one fewer than the engine's threads; nil with one thread.
let team: Team? = engineThreads > 1 ? Team(helpers: engineThreads - 1) : nil

/// Runs run(job, 0) ... run(job, engineThreads - 1) at once, the first on the calling thread,
/// and returns when all have returned. Runs them in turn on the calling thread instead when the
/// team is busy with another caller's job or this is a forked child (which has no helpers).
@usableFromInline func onEveryThread(_ job: UnsafeRawPointer, _ run: @escaping (UnsafeRawPointer, Int) -> Void) {
    if let team, team.run(job, run) { return }
    for i in 0..<engineThreads { run(job, i) }
}

/// Persistent helper threads that stay awake between jobs. A training step hands out a job
/// every 50-500 µs; Dispatch's concurrentPerform took 12-25 µs a call here to wake its threads,
/// and an idle core of a virtual machine drops into the hypervisor. So a helper watches the
/// job counter for `spinSeconds` after each job (see politeSpin) before it parks on a condition
/// variable.
/// Helper i runs piece i of every job, exactly once per job. While it waits for a job, a helper
/// runs chunks of the background work a caller offered, if any (see offer).
final class Team: @unchecked Sendable {
    let helpers: Int
    let spinSeconds = 200e-6
    let owner = getpid()
    /// Bumped once per job; helpers wait for it to change.
    let generation = Atomic<Int>(0)
    /// Helpers still working on the current job.
    let remaining = Atomic<Int>(0)
    /// Helpers parked (or about to park) on `wake`.
    let sleepers = Atomic<Int>(0)
    /// Set while a caller owns the team.
    let busy = Atomic<Bool>(false)
    /// The current job and what runs a piece of it; written only while no helper is working.
    nonisolated(unsafe) var job: UnsafeRawPointer?
    nonisolated(unsafe) var runPiece: (UnsafeRawPointer, Int) -> Void = { _, _ in }
    // Background work (see offer and finishBackground): chunks a helper claims one at a time
    // while it has no job.
    /// Set while a caller has offered background work and not yet finished it.
    let backgroundOwned = Atomic<Bool>(false)
    /// Set while chunks may be claimed.
    let backgroundOpen = Atomic<Bool>(false)
    /// The next chunk to claim; past the count once all are claimed.
    let backgroundNext = Atomic<Int>(0)
    /// Helpers inside the background loop: finishBackground waits for them to leave.
    let backgroundInside = Atomic<Int>(0)
    /// Bumped once per offer, so that a helper that found an offer exhausted skips it.
    let backgroundSerial = Atomic<Int>(0)
    /// The offered work; written only while no helper is inside the background loop.
    nonisolated(unsafe) var background: (job: UnsafeRawPointer, run: (UnsafeRawPointer, Int) -> Void, count: Int)?
    let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init(helpers: Int) {
        self.helpers = helpers
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
        for index in 1...helpers {
            let start = Unmanaged.passRetained(Helper(team: self, index: index)).toOpaque()
            var id = pthread_t()
            let status = pthread_create(&id, nil, { raw in
                let helper = Unmanaged<Helper>.fromOpaque(raw!).takeRetainedValue()
                helper.team.serve(index: helper.index)
                return nil
            }, start)
            precondition(status == 0, "swiftnn: could not start a helper thread (error \(status))")
            pthread_detach(id)
        }
    }

    final class Helper {
        let team: Team, index: Int
        init(team: Team, index: Int) { self.team = team; self.index = index }
    }

    /// Runs run(job, i) on every thread i and returns true; false, having run nothing, if another
    /// caller has the team or this process is a fork of the one that started the helpers.
    func run(_ job: UnsafeRawPointer, _ run: @escaping (UnsafeRawPointer, Int) -> Void) -> Bool {
        guard getpid() == owner,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return false }
        self.job = job
        runPiece = run
        remaining.store(helpers, ordering: .relaxed)
        generation.add(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(lock)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(lock)
        }
        run(job, 0)
        var spins = 0
        while remaining.load(ordering: .acquiring) > 0 { politeSpin(&spins) }
        self.job = nil
        busy.store(false, ordering: .releasing)
        return true
    }

    /// Offers chunks run(job, 0) ... run(job, count - 1) to the helpers, to run while they wait
    /// for jobs (a helper answers a job within one chunk); jobs may be run meanwhile. The caller
    /// must call finishBackground before touching what the chunks write or letting go of job.
    /// False, having offered nothing, when background work is already offered (by any caller)
    /// or this is a fork of the process that started the helpers.
    func offer(_ job: UnsafeRawPointer, count: Int, _ run: @escaping (UnsafeRawPointer, Int) -> Void) -> Bool {
        guard getpid() == owner,
              backgroundOwned.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return false }
        background = (job, run, count)
        backgroundNext.store(0, ordering: .relaxed)
        backgroundSerial.add(1, ordering: .relaxed)
        backgroundOpen.store(true, ordering: .releasing)
        return true
    }

    /// Runs the chunks of the offered work no helper has claimed, on the calling thread, and
    /// returns once the claimed ones are done too.
    func finishBackground() {
        guard let (job, run, count) = background else { return }
        while true {
            let i = backgroundNext.add(1, ordering: .relaxed).oldValue
            if i >= count { break }
            run(job, i)
        }
        // Sequentially consistent with a helper's enter-then-check (see runBackground): either
        // this load sees it inside, or it sees the offer closed and leaves without a chunk.
        backgroundOpen.store(false, ordering: .sequentiallyConsistent)
        var spins = 0
        while backgroundInside.load(ordering: .sequentiallyConsistent) > 0 { politeSpin(&spins) }
        background = nil
        backgroundOwned.store(false, ordering: .releasing)
    }

    /// Claims and runs chunks of the offered work until none is left or a job arrives.
    /// Returns the offer's serial when it ran out of chunks (so the caller skips that offer).
    private func runBackground(jobsSeen seen: Int) -> Int? {
        backgroundInside.add(1, ordering: .sequentiallyConsistent)
        defer { backgroundInside.subtract(1, ordering: .sequentiallyConsistent) }
        guard backgroundOpen.load(ordering: .sequentiallyConsistent), let (job, run, count) = background
        else { return nil }
        while generation.load(ordering: .relaxed) == seen {
            let i = backgroundNext.add(1, ordering: .relaxed).oldValue
            if i >= count { return backgroundSerial.load(ordering: .relaxed) }
            if profiling {
                let start = monotonicSeconds()
                run(job, i)
                phaseClock.helperBusy.add(Int((monotonicSeconds() - start) * 1e9), ordering: .relaxed)
            } else {
                run(job, i)
            }
        }
        return nil
    }

    private func serve(index: Int) {
        var seen = 0
        while true {
            seen = waitForJob(after: seen)
            if profiling {
                let start = monotonicSeconds()
                work(index)
                phaseClock.helperBusy.add(Int((monotonicSeconds() - start) * 1e9), ordering: .relaxed)
            } else {
                work(index)
            }
            remaining.subtract(1, ordering: .releasing)
        }
    }

    private func work(_ index: Int) { if let job { runPiece(job, index) } }

    private func waitForJob(after seen: Int) -> Int {
        var deadline = monotonicSeconds() + spinSeconds
        var spins = 0
        var exhausted = -1
        while true {
            let now = generation.load(ordering: .acquiring)
            if now != seen { return now }
            if backgroundOpen.load(ordering: .relaxed) && backgroundSerial.load(ordering: .relaxed) != exhausted {
                if let serial = runBackground(jobsSeen: seen) { exhausted = serial }
                deadline = monotonicSeconds() + spinSeconds
                continue
            }
            politeSpin(&spins)
            if spins & 15 == 0, monotonicSeconds() > deadline { break }
        }
        pthread_mutex_lock(lock)
        // Sequentially consistent with run()'s bump-then-check: either run() sees this sleeper
        // and broadcasts, or this load sees the new generation.
        sleepers.add(1, ordering: .sequentiallyConsistent)
        var now = generation.load(ordering: .sequentiallyConsistent)
        while now == seen {
            pthread_cond_wait(wake, lock)
            now = generation.load(ordering: .acquiring)
        }
        sleepers.subtract(1, ordering: .relaxed)
        pthread_mutex_unlock(lock)
        return now
    }
}

/// One round of a spin-wait: `pause` for the first few microseconds, then sched_yield, which
/// returns at once on an idle machine but hands the core over when there are more busy threads
/// than cores (two training processes on two cores ran each epoch 2x slower while waiting
/// threads only paused).
@inline(__always) func politeSpin(_ spins: inout Int) {
    spins += 1
    if spins < 256 { snn_spin_hint() } else { sched_yield() }
}

func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
