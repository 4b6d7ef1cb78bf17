import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// A data file that could not be read: which file, and why.
public struct DataFileError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// An idx file (the format of MNIST and Fashion-MNIST) of unsigned bytes: its dimensions and
/// values. Gzipped files (as Debian's dataset-fashion-mnist ships them) are read through zlib,
/// plain ones as they are.
public struct IDXFile: Sendable, Equatable {
    public var shape: [Int]
    public var bytes: [UInt8]

    public init(contentsOf path: String) throws(DataFileError) {
        guard let file = gzopen(path, "rb") else {
            throw DataFileError(path: path, reason: "cannot be opened (missing or unreadable)")
        }
        defer { gzclose(file) }
        func read(_ count: Int, _ what: String) throws(DataFileError) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            var filled = 0
            while filled < count {
                let chunk = UInt32(Swift.min(count - filled, 1 << 30))
                let got = out.withUnsafeMutableBytes { gzread(file, $0.baseAddress! + filled, chunk) }
                if got < 0 {
                    var code: Int32 = 0
                    let message = gzerror(file, &code).map { String(cString: $0) } ?? "read error"
                    throw DataFileError(path: path, reason: "\(message) while reading \(what)")
                }
                if got == 0 {
                    throw DataFileError(path: path, reason: "ends after \(filled) of the \(count) bytes of \(what)")
                }
                filled += Int(got)
            }
            return out
        }
        let magic = try read(4, "the header")
        guard magic[0] == 0, magic[1] == 0 else {
            throw DataFileError(path: path, reason: "is not an idx file (its first bytes are \(magic[0]), \(magic[1]), expected 0, 0)")
        }
        guard magic[2] == 0x08 else {
            throw DataFileError(path: path, reason: "holds idx type 0x\(String(magic[2], radix: 16)), expected 0x08 (unsigned bytes)")
        }
        let rank = Int(magic[3])
        guard rank >= 1 else { throw DataFileError(path: path, reason: "has no dimensions") }
        let header = try read(4 * rank, "the dimensions")
        var shape: [Int] = []
        var total = 1
        for i in 0..<rank {
            let size = header[(4 * i)..<(4 * i + 4)].reduce(0) { $0 << 8 | Int($1) }
            let (product, overflow) = total.multipliedReportingOverflow(by: size)
            guard !overflow, product <= 1 << 34 else {
                throw DataFileError(path: path, reason: "declares dimensions \(shape + [size]): too large")
            }
            shape.append(size)
            total = product
        }
        self.bytes = try read(total, "\(total) values")
        self.shape = shape
    }
}

/// Fashion-MNIST: 28×28 grayscale images of clothing in 10 classes, 60,000 for training and
/// 10,000 for testing, from its four idx files.
public enum FashionMNIST {
    /// Where Debian's dataset-fashion-mnist package puts the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// The class names, by label.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// The training and test sets, pixels scaled to [0, 1], 784 features per row. Reads
    /// `train-images-idx3-ubyte.gz` and the rest from `directory` (or the same names without `.gz`).
    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    public static func load<T: Scalar>(from directory: String = defaultDirectory,
                                       as type: T.Type = Float.self) throws(DataFileError) -> (training: Dataset<T>, test: Dataset<T>) {
        (try part("train", directory), try part("t10k", directory))
    }

    @_specialize(exported: true, where T == Float)
    @_specialize(exported: true, where T == Double)
    static func part<T: Scalar>(_ prefix: String, _ directory: String) throws(DataFileError) -> Dataset<T> {
        let images = try IDXFile(contentsOf: path(directory, "\(prefix)-images-idx3-ubyte"))
        let labels = try IDXFile(contentsOf: path(directory, "\(prefix)-labels-idx1-ubyte"))
        let imagePath = path(directory, "\(prefix)-images-idx3-ubyte")
        guard images.shape.count == 3, images.shape[1] == 28, images.shape[2] == 28 else {
            throw DataFileError(path: imagePath, reason: "has shape \(images.shape), expected (n, 28, 28)")
        }
        guard labels.shape == [images.shape[0]] else {
            throw DataFileError(path: path(directory, "\(prefix)-labels-idx1-ubyte"),
                                reason: "has shape \(labels.shape), expected (\(images.shape[0])) to match the images")
        }
        if let bad = labels.bytes.first(where: { $0 > 9 }) {
            throw DataFileError(path: path(directory, "\(prefix)-labels-idx1-ubyte"), reason: "holds label \(bad), expected 0...9")
        }
        let scale = 1 / T(255)
        do {
            return try Dataset(features: images.bytes.map { T($0) * scale }, labels: labels.bytes.map(Int.init),
                               featureCount: 784)
        } catch {
            throw DataFileError(path: imagePath, reason: error.message)
        }
    }

    /// The gzipped file when it exists, else the plain one.
    static func path(_ directory: String, _ name: String) -> String {
        let gz = "\(directory)/\(name).gz"
        return access(gz, F_OK) == 0 ? gz : "\(directory)/\(name)"
    }
}
