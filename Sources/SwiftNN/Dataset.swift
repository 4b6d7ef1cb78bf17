/// Labeled examples as Swift arrays: `count` rows of `featureCount` features, row-major, and one
/// class index per row.
public struct Dataset<T: Scalar>: Sendable, Equatable {
    /// The features, row after row (`count` × `featureCount` values).
    public let features: [T]
    /// The class index of each row.
    public let labels: [Int]
    /// The features of one row.
    public let featureCount: Int

    /// The number of rows.
    public var count: Int { labels.count }

    /// Checks that the features hold exactly one row of `featureCount` values per label and that
    /// every label is a class index (non-negative).
    public init(features: [T], labels: [Int], featureCount: Int) throws(EngineError) {
        guard featureCount >= 1 else {
            throw EngineError(.badSize, "featureCount = \(featureCount), expected at least 1")
        }
        let (expected, overflow) = labels.count.multipliedReportingOverflow(by: featureCount)
        guard !overflow, features.count == expected else {
            throw EngineError(.shapeMismatch, "features has \(features.count) values, expected \(labels.count) labels × \(featureCount) features = \(overflow ? "too many" : String(expected))")
        }
        if let i = labels.firstIndex(where: { $0 < 0 }) {
            throw EngineError(.badValue, "labels[\(i)] = \(labels[i]) is not a class index")
        }
        self.features = features
        self.labels = labels
        self.featureCount = featureCount
    }

    /// The rows in `range`, as a dataset of their own.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func rows(_ range: Range<Int>) throws(EngineError) -> Dataset {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            throw EngineError(.badSize, "rows \(range) are not within the dataset's \(count) rows")
        }
        return try Dataset(features: Array(features[(range.lowerBound * featureCount)..<(range.upperBound * featureCount)]),
                           labels: Array(labels[range]), featureCount: featureCount)
    }

    /// The mean of each feature over the rows (computed in Double).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func featureMeans() -> [T] {
        var sums = [Double](repeating: 0, count: featureCount)
        for row in 0..<count {
            let base = row * featureCount
            for j in 0..<featureCount { sums[j] += Double(features[base + j]) }
        }
        return sums.map { T($0 / Double(Swift.max(count, 1))) }
    }

    /// The dataset with `means` (one per feature, usually the training set's `featureMeans()`)
    /// subtracted from every row: the course's mean-image preprocessing.
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public func subtracting(featureMeans means: [T]) throws(EngineError) -> Dataset {
        guard means.count == featureCount else {
            throw EngineError(.shapeMismatch, "means has \(means.count) values, expected one per feature (\(featureCount))")
        }
        var centered = features
        for row in 0..<count {
            let base = row * featureCount
            for j in 0..<featureCount { centered[base + j] -= means[j] }
        }
        return try Dataset(features: centered, labels: labels, featureCount: featureCount)
    }
}
