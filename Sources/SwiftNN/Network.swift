#if canImport(Glibc)
import Glibc
#endif

// The API's generic entry points carry exported Float and Double specializations: they are not
// @inlinable, and the engine's generic, unspecialized code makes every + a protocol call (a
// Fashion-MNIST epoch took minutes instead of seconds).
@_exported import SwiftNNEngine

/// How a network's weight matrices start; biases start at 0, batchnorm/layernorm gains at 1 and
/// shifts at 0.
public enum Initialization: Sendable, Equatable, Codable {
    /// Gaussian with standard deviation sqrt(2 / fan-in), for ReLU layers.
    case he
    /// Gaussian with standard deviation sqrt(1 / fan-in).
    case xavier
    /// Gaussian with the given standard deviation (the course's `weight_scale`).
    case scaled(Double)
}

/// A fully connected network as a value: its shape (`spec`) and every parameter in one Swift
/// array. Forward and backward passes run in the engine's `NetworkPlan`.
///
/// `parameters` holds W1, b1, ..., WL, bL, then gamma1, beta1, ... of the normalized hidden
/// layers, each weight matrix row-major (fan-in × fan-out), in the sizes of
/// `spec.parameterSizes`; `runningStatistics` holds batchnorm's running mean and variance of each
/// hidden layer (mean1, var1, mean2, var2, ...), empty without batchnorm. Both are checked
/// against the spec at every call, so a network with arrays of the wrong size throws, never traps.
public struct Network<T: Scalar>: Sendable, Equatable {
    public let spec: NetworkSpec
    public var parameters: [T]
    public var runningStatistics: [T]

    /// A network with the given parameters (and running statistics, zeros when nil).
    public init(spec: NetworkSpec, parameters: [T], runningStatistics: [T]? = nil) throws(EngineError) {
        self.spec = spec
        self.parameters = parameters
        self.runningStatistics = runningStatistics ?? [T](repeating: 0, count: Self.runningCount(spec))
        try checkShapes()
    }

    /// A network with freshly drawn weights; the same seed gives the same weights.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public init(spec: NetworkSpec, initialization: Initialization = .he, seed: UInt64 = 0) throws(EngineError) {
        if case .scaled(let scale) = initialization, !(scale.isFinite && scale > 0) {
            throw EngineError(.badValue, "weight scale = \(scale), expected a positive number")
        }
        var values: [T] = []
        values.reserveCapacity(spec.parameterSizes.reduce(0, +))
        var draw: UInt64 = 0
        for l in 0..<spec.layerCount {
            let fanIn = spec.dims[l], fanOut = spec.dims[l + 1]
            let scale: Double
            switch initialization {
            case .he: scale = (2 / Double(fanIn)).squareRoot()
            case .xavier: scale = (1 / Double(fanIn)).squareRoot()
            case .scaled(let s): scale = s
            }
            for _ in 0..<(fanIn * fanOut) {
                values.append(T(scale * standardNormal(seed: seed, index: draw)))
                draw += 1
            }
            values += repeatElement(0, count: fanOut)
        }
        if spec.normalization != .none {
            for l in 0..<spec.hiddenCount {
                values += repeatElement(1, count: spec.dims[l + 1])
                values += repeatElement(0, count: spec.dims[l + 1])
            }
        }
        try self.init(spec: spec, parameters: values)
    }

    /// The number of values in `parameters`.
    public var parameterCount: Int { spec.parameterSizes.reduce(0, +) }

    /// The course's names of the parameters, in order: "W1", "b1", ..., "gamma1", "beta1", ...
    public var parameterNames: [String] {
        var names: [String] = []
        for l in 1...spec.layerCount { names += ["W\(l)", "b\(l)"] }
        if spec.normalization != .none {
            for l in 1...spec.hiddenCount { names += ["gamma\(l)", "beta\(l)"] }
        }
        return names
    }

    /// Where each named parameter lies in `parameters` (and in a gradient).
    public func range(ofParameter name: String) throws(EngineError) -> Range<Int> {
        guard let index = parameterNames.firstIndex(of: name) else {
            throw EngineError(.badValue, "no parameter named \(name); the network has \(parameterNames.joined(separator: ", "))")
        }
        let sizes = spec.parameterSizes
        let start = sizes[..<index].reduce(0, +)
        return start..<(start + sizes[index])
    }

    /// The class scores (rows × classes, row-major) of the rows of `features` (rows ×
    /// input features), in test mode: no dropout, batchnorm with the running statistics.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func scores(for features: [T]) throws(EngineError) -> [T] {
        let n = try rowCount(of: features)
        var scores = [T](repeating: 0, count: n * spec.classes)
        var running = runningStatistics   // test mode only reads it
        try withTables(running: &running) { (params, running) throws(EngineError) in
            try features.withUnsafeBufferPointer { (x) throws(EngineError) in
                try scores.withUnsafeMutableBufferPointer { (out) throws(EngineError) in
                    _ = try NetworkPlan<T>(spec).loss(x: x.baseAddress!, y: nil, n: n, params: params, grads: nil,
                                                      running: running, scoresOut: out.baseAddress, reg: 0,
                                                      norm: NormSettings(), seed: 0)
                }
            }
        }
        return scores
    }

    /// The class with the highest score for each row of `features`.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func predictedClasses(for features: [T]) throws(EngineError) -> [Int] {
        let scores = try scores(for: features), c = spec.classes
        return (0..<(scores.count / c)).map { row in
            var top = 0
            for j in 1..<c where scores[row * c + j] > scores[row * c + top] { top = j }
            return top
        }
    }

    /// The fraction of `data`'s rows whose predicted class is their label.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func accuracy(on data: Dataset<T>) throws(EngineError) -> Double {
        guard data.count > 0 else { return 0 }
        let predicted = try predictedClasses(for: data.features)
        return Double(zip(predicted, data.labels).filter { $0 == $1 }.count) / Double(data.count)
    }

    /// The training loss of one minibatch and its gradient with respect to every parameter (the
    /// layout of `parameters`): mean softmax cross-entropy plus 0.5 · regularization · ΣW², in
    /// train mode (batch statistics, dropout drawn from `dropoutSeed`). Updates batchnorm's
    /// running statistics, as a training step does.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public mutating func lossAndGradients(for features: [T], labels: [Int], regularization: Double = 0,
                                          dropoutSeed: UInt64 = 0) throws(EngineError) -> (loss: Double, gradients: [T]) {
        let n = try rowCount(of: features)
        guard labels.count == n else {
            throw EngineError(.shapeMismatch, "labels has \(labels.count) entries, expected one per row (\(n))")
        }
        guard regularization.isFinite && regularization >= 0 else {
            throw EngineError(.badValue, "regularization = \(regularization), expected a number >= 0")
        }
        try checkShapes()
        let spec = self.spec
        var gradients = [T](repeating: 0, count: parameters.count)
        var running = runningStatistics
        let loss = try withTables(running: &running) {
            (params, runningTable) throws(EngineError) -> Double in
            try gradients.withUnsafeMutableBufferPointer { (g) throws(EngineError) -> Double in
                try pointerTable(g.baseAddress!, sizes: spec.parameterSizes, name: "grads") { (grads) throws(EngineError) -> Double in
                    try features.withUnsafeBufferPointer { (x) throws(EngineError) -> Double in
                        try withLabels(labels) { (y) throws(EngineError) -> Double in
                            try NetworkPlan<T>(spec).loss(x: x.baseAddress!, y: y, n: n, params: params, grads: grads,
                                                          running: runningTable, scoresOut: nil, reg: regularization,
                                                          norm: NormSettings(), seed: dropoutSeed)
                        }
                    }
                }
            }
        }
        runningStatistics = running
        return (loss, gradients)
    }

    /// Throws unless `parameters` and `runningStatistics` have the spec's sizes and are finite.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func checkShapes() throws(EngineError) {
        guard parameters.count == parameterCount else {
            throw EngineError(.shapeMismatch, "parameters has \(parameters.count) values, expected \(parameterCount) for a network of dims \(spec.dims)")
        }
        let runningCount = Self.runningCount(spec)
        guard runningStatistics.count == runningCount else {
            throw EngineError(.shapeMismatch, "runningStatistics has \(runningStatistics.count) values, expected \(runningCount)")
        }
        if let i = parameters.firstIndex(where: { !$0.isFinite }) {
            throw EngineError(.nonFinite, "parameters[\(i)] = \(parameters[i]), expected a finite number")
        }
    }

    static func runningCount(_ spec: NetworkSpec) -> Int {
        spec.normalization == .batch ? 2 * spec.dims[1..<(spec.dims.count - 1)].reduce(0, +) : 0
    }

    func rowCount(of features: [T]) throws(EngineError) -> Int {
        let d = spec.dims[0]
        guard !features.isEmpty, features.count % d == 0 else {
            throw EngineError(.shapeMismatch, "features has \(features.count) values, expected a positive multiple of the network's \(d) input features")
        }
        return features.count / d
    }

    /// Calls body with pointer tables over the parameters (which the engine only reads) and,
    /// with batchnorm, over `running`.
    func withTables<R>(running: inout [T],
                       _ body: (PointerTable<T>, PointerTable<T>?) throws(EngineError) -> R) throws(EngineError) -> R {
        try checkShapes()
        let spec = self.spec
        return try parameters.withUnsafeBufferPointer { (p) throws(EngineError) -> R in
            try pointerTable(UnsafeMutablePointer(mutating: p.baseAddress!), sizes: spec.parameterSizes, name: "params") {
                (params) throws(EngineError) -> R in
                guard spec.normalization == .batch else { return try body(params, nil) }
                let sizes = (1..<(spec.dims.count - 1)).flatMap { [spec.dims[$0], spec.dims[$0]] }
                return try running.withUnsafeMutableBufferPointer { (r) throws(EngineError) -> R in
                    try pointerTable(r.baseAddress!, sizes: sizes, name: "running") { (t) throws(EngineError) -> R in
                        try body(params, t)
                    }
                }
            }
        }
    }
}

/// A table of pointers to consecutive pieces of `sizes` elements of base.
func pointerTable<T, R>(_ base: UnsafeMutablePointer<T>, sizes: [Int], name: String,
                        _ body: (PointerTable<T>) throws(EngineError) -> R) throws(EngineError) -> R {
    var pointers: [UnsafeMutablePointer<T>?] = []
    var offset = 0
    for size in sizes {
        pointers.append(base + offset)
        offset += size
    }
    return try pointers.withUnsafeBufferPointer { (table) throws(EngineError) -> R in
        try body(PointerTable(table.baseAddress, count: sizes.count, name: name))
    }
}

/// The labels as the engine's Int64 class indices, without a copy where Int is 64 bits.
func withLabels<R>(_ labels: [Int], _ body: (UnsafePointer<Int64>) throws(EngineError) -> R) throws(EngineError) -> R {
    if MemoryLayout<Int>.size == MemoryLayout<Int64>.size {
        return try labels.withUnsafeBufferPointer { (b) throws(EngineError) -> R in
            // Int and Int64 are the same 64-bit integer here: reading one as the other is defined.
            try b.withMemoryRebound(to: Int64.self) { (y) throws(EngineError) -> R in
                try body(y.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<Int64>.alignment)!)
            }
        }
    }
    let wide = labels.map(Int64.init)
    return try wide.withUnsafeBufferPointer { (y) throws(EngineError) -> R in
        try body(y.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<Int64>.alignment)!)
    }
}

/// A standard normal sample (Box–Muller) from two splitMix64 draws of (seed, index).
func standardNormal(seed: UInt64, index: UInt64) -> Double {
    let u1 = Double(splitMix64(seed: seed, index: 2 * index) >> 11 + 1) * 0x1p-53   // (0, 1]
    let u2 = Double(splitMix64(seed: seed, index: 2 * index + 1) >> 11) * 0x1p-53   // [0, 1)
    return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
}

extension Network: Codable {
    private enum CodingKeys: String, CodingKey { case spec, parameters, runningStatistics }

    /// Decodes a network and checks its arrays against its spec.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let spec = try c.decode(NetworkSpec.self, forKey: .spec)
        self = try checkedWhileDecoding(c) {
            try Network(spec: spec, parameters: c.decode([T].self, forKey: .parameters),
                        runningStatistics: c.decode([T].self, forKey: .runningStatistics))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(spec, forKey: .spec)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(runningStatistics, forKey: .runningStatistics)
    }
}
